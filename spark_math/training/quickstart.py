"""`spark-math quickstart`: the whole training loop on a laptop CPU, offline, in ~10 minutes.

1. Generate `lineq` systems (2 variables, coefficients 1..3, solutions 0..5) and
   write each training problem with a worked solution (Cramer's rule: copy the coefficients,
   then one small arithmetic step at a time) to `data/train.jsonl`.
2. Build a small Qwen2 model from scratch (~4M parameters) with a byte-level BPE tokenizer
   trained on that text, digits kept as single tokens.
3. SFT it on the worked solutions, then GRPO it with the grader's correctness reward plus the
   share of its written calculations that are right (`arithmetic`, a dense step-level signal).
4. Score every stage with lm-eval (`spark_lineq_quick`: the spark_lineq prompt, template and
   grader on held-out systems of the same kind) and write `leaderboard.md`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spark_math.data import lineq

TASK = "spark_lineq_quick"
TASKS_DIR = Path(__file__).resolve().parent / "tasks"
COEF_RANGE = (1, 3)
SOL_RANGE = (0, 5)
TEST_SEED, TRAIN_SEED = 20_260_001, 20_260_002
N_TEST = 200
N_TRAIN = 2_370  # nearly all such systems; those in the test set are then dropped

MODEL_SIZE = {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4}

SFT: dict[str, Any] = {
    "format": "boxed",
    "args": {
        "max_steps": 300,
        "per_device_train_batch_size": 32,
        "learning_rate": 1.5e-3,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 30,
        "weight_decay": 0.0,
        "max_length": 256,
        "logging_steps": 10,
        "save_steps": 100,
        "gradient_checkpointing": False,
        "report_to": "none",
        "seed": 0,
    },
}
GRPO: dict[str, Any] = {
    "format": "boxed",
    "rewards": [
        {"name": "correctness", "weight": 1.0},
        {"name": "arithmetic", "weight": 0.5},
    ],
    "args": {
        "max_steps": 60,
        "per_device_train_batch_size": 32,
        "num_generations": 8,
        "max_completion_length": 128,
        "temperature": 0.7,
        # Small and annealed: at 3e-5 constant (or 1e-4) GRPO lowered greedy accuracy by 1 to 25
        # points; see the README's tuning table.
        "learning_rate": 1.0e-5,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 5,
        # Batch-scaled advantages: group scaling blows tiny `arithmetic` differences up to
        # unit variance when every sample of a group gets the same correctness.
        "scale_rewards": "batch",
        "beta": 0.0,
        "logging_steps": 1,
        "save_steps": 50,
        "gradient_checkpointing": False,
        "report_to": "none",
        "seed": 0,
    },
}


def worked_solution(row: dict[str, Any]) -> str:
    """Cramer's rule for a 2x2 system in small local steps: copy the coefficients (the 1s the
    problem leaves out included), then one product, difference or quotient at a time, each
    from numbers written a few tokens before it; then the boxed answer."""
    (a, b), (c, d) = row["coefficients"]
    e, f = row["rhs"]
    det, num = a * d - b * c, a * f - c * e
    y = num // det
    x = (e - b * y) // a
    return (
        f"a={a} b={b} c={c} d={d} e={e} f={f}\n"
        f"D={a}*{d}-{b}*{c}={a * d}-{b * c}={det}\n"
        f"N={a}*{f}-{c}*{e}={a * f}-{c * e}={num}\n"
        f"y={num}/{det}={y}\n"
        f"x=({e}-{b}*{y})/{a}=({e}-{b * y})/{a}={e - b * y}/{a}={x}\n"
        f"\\boxed{{{row['answer']}}}"
    )


def _systems(n: int, seed: int) -> list[dict[str, Any]]:
    """Generated 2-variable systems with their coefficients kept for the worked solution."""
    rows = lineq.generate(n, seed, n_vars=2, coef_range=COEF_RANGE, sol_range=SOL_RANGE)
    for row in rows:
        x, y = (int(v) for v in row["answer"].strip("()").split(", "))
        row["coefficients"], row["rhs"] = _parse_system(row["problem"])
        assert [r[0] * x + r[1] * y for r in row["coefficients"]] == row["rhs"]
    return rows


def _parse_system(problem: str) -> tuple[list[list[int]], list[int]]:
    import re

    body = problem.split("\\begin{cases}\n")[1].split("\n\\end{cases}")[0]
    matrix, rhs = [], []
    for line in body.split(" \\\\\n"):
        lhs, value = line.split(" = ")
        coefficients = {"x": 0, "y": 0}
        for sign, magnitude, name in re.findall(r"([+-]?)\s*(\d*)([xy])", lhs.replace(" ", "")):
            coefficients[name] = int(magnitude or 1) * (-1 if sign == "-" else 1)
        matrix.append([coefficients["x"], coefficients["y"]])
        rhs.append(int(value))
    return matrix, rhs


def test_rows(n: int = N_TEST) -> list[dict[str, Any]]:
    """The held-out systems `spark_lineq_quick` scores (the first `n`)."""
    return [
        {k: row[k] for k in ("id", "problem", "answer", "solution", "n_vars")}
        for row in _systems(N_TEST, TEST_SEED)[:n]
    ]


def load_test_set(**_ignored: object):
    """lm-eval `custom_dataset` hook of the `spark_lineq_quick` task."""
    import datasets

    return datasets.DatasetDict({"test": datasets.Dataset.from_list(test_rows())})


def write_train_set(path: Path) -> int:
    """Training systems (none shared with the test set) with worked solutions, as JSON Lines."""
    held_out = {row["problem"] for row in test_rows()}
    rows = [r for r in _systems(N_TRAIN, TRAIN_SEED) if r["problem"] not in held_out]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            record = {"problem": row["problem"], "answer": row["answer"], "task": "math"}
            handle.write(json.dumps({**record, "solution": worked_solution(row)}) + "\n")
    return len(rows)


def build_model(path: Path, train_file: Path, seed: int = 0) -> int:
    """A from-scratch Qwen2 model and a BPE tokenizer trained on the training text; returns
    the parameter count."""
    import torch
    from transformers import GenerationConfig, Qwen2Config
    from transformers import Qwen2ForCausalLM as Model

    from ..harness_tasks.prompts import zero_shot
    from ..models.tiny import ENDOFTEXT, IM_END, build_tokenizer

    rows = [json.loads(line) for line in train_file.read_text(encoding="utf-8").splitlines()]
    corpus = [text for row in rows[:3000] for text in (zero_shot(row), row["solution"])]
    corpus += ["system\nYou are a helpful assistant.", "user\n", "assistant\n"]
    tokenizer = build_tokenizer(corpus, model_max_length=1024)
    eos, pad = tokenizer.convert_tokens_to_ids(IM_END), tokenizer.convert_tokens_to_ids(ENDOFTEXT)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        intermediate_size=4 * MODEL_SIZE["hidden_size"],
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        use_sliding_window=False,
        bos_token_id=None,
        eos_token_id=eos,
        pad_token_id=pad,
        **MODEL_SIZE,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Model(config)
    model.generation_config = GenerationConfig(eos_token_id=[eos], pad_token_id=pad)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return sum(p.numel() for p in model.parameters())


@dataclass
class Stage:
    """One leaderboard row."""

    name: str
    key: str  # folder name under eval/
    model: Path
    train_s: float = 0.0
    accuracy: float = 0.0
    stderr: float = 0.0
    eval_s: float = 0.0
    solved: dict[str, bool] = field(default_factory=dict, repr=False)  # problem id -> right?

    def change(self, before: Stage) -> str:
        """Problems this stage newly solves and newly fails against `before`, with the exact
        McNemar p-value (two-sided sign test on those discordant problems)."""
        from scipy.stats import binomtest

        common = self.solved.keys() & before.solved.keys()
        fixed = sum(self.solved[i] and not before.solved[i] for i in common)
        broken = sum(before.solved[i] and not self.solved[i] for i in common)
        p = binomtest(fixed, fixed + broken).pvalue if fixed + broken else 1.0
        return f"+{fixed} / -{broken} (p={p:.2g})"


def _evaluate(stage: Stage, out: Path, limit: int | None) -> None:
    from ..leaderboard.gains import read_samples
    from .export import evaluate

    started = time.monotonic()
    results = evaluate(
        stage.model,
        [TASK],
        out / "eval" / stage.key,
        limit=limit,
        max_gen_toks=GRPO["args"]["max_completion_length"],
        batch_size="64",
        include_path=str(TASKS_DIR),
        backend="hf",
    )[TASK]
    stage.accuracy = results["exact_match,grader"]
    stage.stderr = results["exact_match_stderr,grader"]
    stage.eval_s = time.monotonic() - started
    samples = max((out / "eval" / stage.key).rglob(f"samples_{TASK}_*.jsonl"))
    stage.solved = {
        s["doc"]["id"]: bool(s["exact_match"])
        for s in read_samples(samples)
        if s.get("filter") == "grader"
    }


def _train(trainer: str, settings: dict[str, Any], model: Path, out: Path, data: Path, steps: int):
    """Train one stage on at most as many problems as its steps consume, in its own shuffled
    order (SFT's steps cover every training problem; GRPO's see a subset of them); return the
    final model folder."""
    from .recipes import load_recipe
    from .train import train

    args = {**settings["args"], "max_steps": steps, "output_dir": str(out)}
    per_step = args["per_device_train_batch_size"] // args.get("num_generations", 1)
    base = {
        "model": str(model),
        "data": {
            "source": "jsonl",
            "path": str(data),
            "limit": steps * per_step,
            "shuffle_seed": 0 if trainer == "sft" else 1,
        },
        **{k: v for k, v in settings.items() if k != "args"},
        "args": args,
    }
    return train(load_recipe(None, trainer, base=base))


def leaderboard(stages: list[Stage], n: int, params: int, total_s: float) -> str:
    """The quickstart's Markdown table."""
    lines = [
        f"| stage | {TASK} accuracy (n={n}) | solved / lost vs the stage above | train time "
        "| eval time |",
        "|---|---|---|---|---|",
    ]
    for before, s in zip([None, *stages[:-1]], stages, strict=True):
        acc = f"{100 * s.accuracy:.1f}% ± {100 * s.stderr:.1f}"
        change = s.change(before) if before else "-"
        train_time = f"{s.train_s:.0f} s" if s.train_s else "-"
        lines.append(f"| {s.name} | {acc} | {change} | {train_time} | {s.eval_s:.0f} s |")
    lines.append("")
    lines.append(
        f"Qwen2 from scratch, {params / 1e6:.2f}M parameters; greedy decoding; "
        f"total wall time {total_s / 60:.1f} min."
    )
    return "\n".join(lines)


def run(
    out: str | Path,
    sft_steps: int | None = None,
    grpo_steps: int | None = None,
    eval_limit: int | None = None,
) -> str:
    """Run the quickstart into `out` and return the leaderboard (also `out/leaderboard.md`)."""
    from tqdm.auto import tqdm

    from .plot import plot_run

    out = Path(out)
    started = time.monotonic()
    n_eval = min(eval_limit or N_TEST, N_TEST)
    progress = tqdm(total=6, desc="quickstart", unit="stage")

    def advance(label: str) -> None:
        progress.set_postfix_str(label)
        progress.update()

    progress.set_postfix_str("data")
    train_file = out / "data" / "train.jsonl"
    n_train = write_train_set(train_file)
    params = build_model(out / "base", train_file)
    advance(f"{n_train} problems, {params / 1e6:.2f}M-parameter model")
    base = Stage("untrained", "untrained", out / "base")
    _evaluate(base, out, n_eval)
    advance(f"untrained {base.accuracy:.1%}")

    t0 = time.monotonic()
    steps = sft_steps or SFT["args"]["max_steps"]
    sft = Stage("SFT", "sft", _train("sft", SFT, out / "base", out / "sft", train_file, steps))
    sft.train_s = time.monotonic() - t0
    advance("SFT trained")
    _evaluate(sft, out, n_eval)
    advance(f"SFT {sft.accuracy:.1%}")

    t0 = time.monotonic()
    steps = grpo_steps or GRPO["args"]["max_steps"]
    grpo = Stage(
        "SFT + GRPO", "grpo", _train("grpo", GRPO, sft.model, out / "grpo", train_file, steps)
    )
    grpo.train_s = time.monotonic() - t0
    plot_run(out / "grpo")
    advance("GRPO trained")
    _evaluate(grpo, out, n_eval)
    advance(f"GRPO {grpo.accuracy:.1%}")
    progress.close()

    stages = [base, sft, grpo]
    table = leaderboard(stages, n_eval, params, time.monotonic() - started)
    (out / "leaderboard.md").write_text(table + "\n", encoding="utf-8")
    (out / "leaderboard.json").write_text(
        json.dumps([{**s.__dict__, "model": str(s.model)} for s in stages], indent=2) + "\n"
    )
    return table
