"""`spark-math quickstart`: the whole training loop on a laptop CPU, offline, in ~10 minutes.

1. Generate sums of three digits (`Compute $3 + 5 + 4$.`: all 1,000 of them, 200 held out)
   and write each training problem with a worked solution (`3+5=8`, `8+4=12`, then the boxed
   answer) to `data/train.jsonl`. Only 30% of those solutions close the box (`\\boxed{12}`);
   the rest end with `\\boxed{12`, which the grader cannot read: the SFT data writes the final
   answer in the graded form only part of the time.
2. Build a small Qwen2 model from scratch (~1M parameters) with a byte-level BPE tokenizer
   trained on that text, digits kept as single tokens.
3. SFT it on those solutions, then GRPO it with the grader's correctness reward alone (and a KL
   penalty towards the SFT model). The SFT model adds well but, greedy, leaves the box open;
   sampled, it closes it in some of its tries (pass@8 far above greedy accuracy). That headroom
   is behaviour, which GRPO can select.
4. Score every stage with lm-eval on the held-out sums (`spark_sums_quick`: the spark prompt,
   template and grader; greedy, and 8 samples a problem for pass@1 and pass@8), score SFT and
   SFT + GRPO on sums of four digits (`spark_sums4_quick`, a length neither trained on) and
   write `leaderboard.md`.
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TASK = "spark_sums_quick"  # held-out sums of three digits, greedy
OOD_TASK = "spark_sums4_quick"  # sums of four digits: out of domain in miniature
SAMPLED = "_k8"  # suffix of each task's 8-samples variant (pass@1, pass@8)
TASKS_DIR = Path(__file__).resolve().parent / "tasks"
TERMS, OOD_TERMS = 3, 4
SPLIT_SEED, CLOSED_SEED = 20_260_001, 20_260_002
N_TEST = 200
CLOSED_SHARE = 0.3  # share of the SFT solutions that close the box (the rest: `\\boxed{12`)
# Torch threads, pinned: results depend on the kernels' reduction order. One thread is also
# about as fast as two for a model this small, and much faster on a busy CPU.
THREADS = 1

MODEL_SIZE = {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4}
MAX_NEW_TOKENS = 40  # a worked sum of four digits is at most 28 tokens

SFT: dict[str, Any] = {
    "format": "boxed",
    "args": {
        "max_steps": 500,  # 200 leave the additions shaky (pass@8 47.5%)
        "per_device_train_batch_size": 32,
        "learning_rate": 1.0e-3,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 25,
        "weight_decay": 0.0,
        "max_length": 128,
        "logging_steps": 10,
        "save_steps": 250,
        "gradient_checkpointing": False,
        "report_to": "none",
        "seed": 0,
    },
}
GRPO: dict[str, Any] = {
    "format": "boxed",
    "rewards": [{"name": "correctness", "weight": 1.0}],
    "args": {
        "max_steps": 160,
        "per_device_train_batch_size": 64,
        "num_generations": 8,
        "max_completion_length": 32,
        "temperature": 1.0,
        # 2e-4 and 3e-4 collapse: the sampled reward falls to ~0 within 50 steps as the
        # completions grow to the length limit (docs/training.md, Quickstart).
        "learning_rate": 1.0e-4,
        "lr_scheduler_type": "constant_with_warmup",
        "warmup_steps": 2,
        # A KL penalty towards the SFT model keeps its additions: without it GRPO closes the box
        # but half of the closed answers are wrong (48.5% greedy, against 84.5% with it).
        "beta": 0.04,
        "logging_steps": 1,
        "save_steps": 80,
        "gradient_checkpointing": False,
        "report_to": "none",
        "seed": 0,
    },
}


def problem(terms: tuple[int, ...]) -> str:
    """`Compute $3 + 5 + 4$.`"""
    return f"Compute ${' + '.join(map(str, terms))}$."


def worked_solution(terms: tuple[int, ...], closed: bool = True) -> str:
    """The running sum one addition a line, then the boxed answer (`\\boxed{12`, which the
    grader cannot read, when not `closed`)."""
    lines, total = [], terms[0]
    for term in terms[1:]:
        lines.append(f"{total}+{term}={total + term}")
        total += term
    return "\n".join([*lines, f"\\boxed{{{total}" + ("}" if closed else "")])


def _sums(n_terms: int) -> list[dict[str, Any]]:
    """Every sum of `n_terms` digits, in a fixed shuffled order."""
    rows = [
        {
            "id": f"sums{n_terms}-{''.join(map(str, terms))}",
            "problem": problem(terms),
            "answer": str(sum(terms)),
            "solution": worked_solution(terms),
            "terms": terms,
        }
        for terms in itertools.product(range(10), repeat=n_terms)
    ]
    random.Random(SPLIT_SEED + n_terms).shuffle(rows)
    return rows


def _public(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: row[k] for k in ("id", "problem", "answer", "solution")} for row in rows]


def test_rows(n: int = N_TEST) -> list[dict[str, Any]]:
    """The held-out sums of three digits `spark_sums_quick` scores (the first `n`)."""
    return _public(_sums(TERMS)[: min(n, N_TEST)])


def ood_rows(n: int = N_TEST) -> list[dict[str, Any]]:
    """The sums of four digits `spark_sums4_quick` scores (the first `n`)."""
    return _public(_sums(OOD_TERMS)[: min(n, N_TEST)])


def load_test_set(**_ignored: object):
    """lm-eval `custom_dataset` hook of the `spark_sums_quick` tasks."""
    import datasets

    return datasets.DatasetDict({"test": datasets.Dataset.from_list(test_rows())})


def load_ood_set(**_ignored: object):
    """lm-eval `custom_dataset` hook of the `spark_sums4_quick` tasks."""
    import datasets

    return datasets.DatasetDict({"test": datasets.Dataset.from_list(ood_rows())})


def train_rows() -> list[dict[str, Any]]:
    """The 800 sums of three digits not held out, each with its worked solution, whose box is
    closed for a fixed `CLOSED_SHARE` of them and left open for the rest."""
    rows = _sums(TERMS)[N_TEST:]
    n_closed = round(CLOSED_SHARE * len(rows))
    closed = set(random.Random(CLOSED_SEED).sample(range(len(rows)), n_closed))
    return [
        {
            "problem": row["problem"],
            "answer": row["answer"],
            "task": "math",
            "solution": worked_solution(row["terms"], closed=i in closed),
        }
        for i, row in enumerate(rows)
    ]


def _is_current_train_set(path: Path) -> bool:
    """Whether `path` holds exactly what `write_train_set` writes now."""
    expected = "".join(json.dumps(row) + "\n" for row in train_rows())
    return path.is_file() and path.read_text(encoding="utf-8") == expected


def write_train_set(path: Path) -> int:
    """`train_rows` as JSON Lines; returns their number."""
    rows = train_rows()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
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


def mcnemar(after: dict[str, bool], before: dict[str, bool]) -> tuple[int, int, float]:
    """Problems `after` newly solves and newly fails against `before` (on the problems both
    scored), and the exact McNemar p-value (two-sided sign test on those discordant ones)."""
    from scipy.stats import binomtest

    common = after.keys() & before.keys()
    fixed = sum(after[i] and not before[i] for i in common)
    broken = sum(before[i] and not after[i] for i in common)
    p = binomtest(fixed, fixed + broken).pvalue if fixed + broken else 1.0
    return fixed, broken, p


def _change(after: dict[str, bool], before: dict[str, bool]) -> str:
    fixed, broken, p = mcnemar(after, before)
    return f"+{fixed} / -{broken} (p={p:.2g})"


@dataclass
class Stage:
    """One leaderboard row: greedy accuracy and sampled pass@1/pass@8 on the held-out sums of
    three digits, and (`ood_*`, not for the untrained model) on the sums of four digits."""

    name: str
    key: str  # folder name under eval/
    model: Path
    train_s: float = 0.0
    accuracy: float = 0.0  # greedy
    stderr: float = 0.0
    pass1: float = 0.0  # 8 samples a problem
    pass8: float = 0.0
    eval_s: float = 0.0
    solved: dict[str, bool] = field(default_factory=dict, repr=False)  # problem id -> right?
    ood_accuracy: float | None = None
    ood_stderr: float | None = None
    ood_pass1: float | None = None
    ood_pass8: float | None = None
    ood_solved: dict[str, bool] = field(default_factory=dict, repr=False)

    METRICS = ("accuracy", "stderr", "pass1", "pass8", "eval_s", "solved")
    METRICS += ("ood_accuracy", "ood_stderr", "ood_pass1", "ood_pass8", "ood_solved")

    def change(self, before: Stage) -> str:
        """Held-out problems this stage newly solves and newly fails (greedy) against `before`,
        with the exact McNemar p-value."""
        return _change(self.solved, before.solved)

    def ood_change(self, before: Stage) -> str:
        """`change` on the out-of-domain problems."""
        return _change(self.ood_solved, before.ood_solved)


def _evaluate(stage: Stage, out: Path, limit: int | None) -> None:
    """Score `stage` greedily and with 8 samples a problem on the held-out sums, and (all but
    the untrained model) on the out-of-domain ones, in one lm-eval run."""
    from ..leaderboard.gains import read_samples
    from .export import evaluate

    ood = stage.key != "untrained"
    tasks = [TASK, TASK + SAMPLED] + ([OOD_TASK, OOD_TASK + SAMPLED] if ood else [])
    started = time.monotonic()
    folder = out / "eval" / stage.key
    results = evaluate(
        stage.model,
        tasks,
        folder,
        limit=limit,
        max_gen_toks=MAX_NEW_TOKENS,
        batch_size="128",
        include_path=str(TASKS_DIR),
        backend="hf",
    )
    stage.eval_s = time.monotonic() - started

    def solved(task: str) -> dict[str, bool]:
        stem = f"samples_{task}_"  # then the date: not the `_k8` variant's file
        samples = max(p for p in folder.rglob(f"{stem}*.jsonl") if p.name[len(stem)].isdigit())
        return {
            s["doc"]["id"]: bool(s["exact_match"])
            for s in read_samples(samples)
            if s.get("filter") == "grader"
        }

    for prefix, task in [("", TASK), *([("ood_", OOD_TASK)] if ood else [])]:
        greedy, sampled = results[task], results[task + SAMPLED]
        setattr(stage, f"{prefix}accuracy", greedy["exact_match,grader"])
        setattr(stage, f"{prefix}stderr", greedy["exact_match_stderr,grader"])
        setattr(stage, f"{prefix}pass1", sampled["pass@1,grader"])
        setattr(stage, f"{prefix}pass8", sampled["pass@8,grader"])
        setattr(stage, f"{prefix}solved", solved(task))


def _train(
    trainer: str,
    settings: dict[str, Any],
    model: Path,
    out: Path,
    data: Path,
    steps: int,
    force: bool = False,
    echo: Callable[[str], None] = print,
    label: str | None = None,
) -> tuple[Path, bool]:
    """Train one stage on at most as many problems as its steps consume, in its own shuffled
    order (SFT's steps cover every training problem; GRPO's see a subset of them); return the
    final model folder and whether anything was trained (a stage finished at these `steps` is
    left as it is unless `force`)."""
    from .recipes import load_recipe
    from .train import finished_run, train

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
    recipe = load_recipe(None, trainer, base=base)
    done = finished_run(recipe)
    if done is not None and done.get("max_steps") == steps and not force:
        return train(recipe, echo=echo, label=label), False
    return train(recipe, force=force or done is not None, echo=echo, label=label), True


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def leaderboard(stages: list[Stage], n: int, params: int, total_s: float) -> str:
    """The quickstart's Markdown tables: every stage on the held-out sums of three digits, then
    the trained ones on the sums of four digits."""
    lines = [
        f"| stage | {TASK} greedy (n={n}) | pass@1 (8 samples) | pass@8 "
        "| greedy: solved / lost vs the stage above | train time | eval time |",
        "|---|---|---|---|---|---|---|",
    ]
    for before, s in zip([None, *stages[:-1]], stages, strict=True):
        acc = f"{100 * s.accuracy:.1f}% ± {100 * s.stderr:.1f}"
        change = s.change(before) if before else "-"
        train_time = f"{s.train_s:.0f} s" if s.train_s else "-"
        lines.append(
            f"| {s.name} | {acc} | {_pct(s.pass1)} | {_pct(s.pass8)} | {change} | {train_time} "
            f"| {s.eval_s:.0f} s |"
        )
    trained = [s for s in stages if s.ood_accuracy is not None]
    if trained:
        lines += [
            "",
            f"Out of domain: {OOD_TASK}, sums of four digits (never trained on; n={n}):",
            "",
            f"| stage | {OOD_TASK} greedy | pass@1 (8 samples) | pass@8 "
            f"| greedy: solved / lost vs {trained[0].name} |",
            "|---|---|---|---|---|",
        ]
        for s in trained:
            acc = f"{100 * s.ood_accuracy:.1f}% ± {100 * (s.ood_stderr or 0.0):.1f}"
            change = s.ood_change(trained[0]) if s is not trained[0] else "-"
            lines.append(
                f"| {s.name} | {acc} | {_pct(s.ood_pass1)} | {_pct(s.ood_pass8)} | {change} |"
            )
    lines.append("")
    lines.append(
        f"Qwen2 from scratch, {params / 1e6:.2f}M parameters, {THREADS} torch thread(s); greedy, "
        f"and 8 samples a problem at T 0.6 (top_p 0.95); total wall time {total_s / 60:.1f} min."
    )
    return "\n".join(lines)


def _previous(out: Path) -> dict[str, dict[str, Any]]:
    """The stages of the last leaderboard written into `out`, by key (none if unreadable)."""
    try:
        rows = json.loads((out / "leaderboard.json").read_text(encoding="utf-8"))
        return {row["key"]: row for row in rows}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _reuse(stage: Stage, before: dict[str, Any] | None, n_eval: int, out: Path) -> bool:
    """Fill `stage` from its previous record when that scored the same problems; say if so."""
    if not before or len(before.get("solved") or {}) != n_eval:
        return False
    if not list((out / "eval" / stage.key).rglob("results_*.json")):
        return False
    for key in Stage.METRICS:
        setattr(stage, key, before.get(key, getattr(stage, key)))
    return True


def _count_parameters(model_dir: Path) -> int:
    """The parameter count of a saved model, read from its weights file's header."""
    import math

    from safetensors import safe_open

    with safe_open(model_dir / "model.safetensors", "pt") as weights:
        return sum(math.prod(weights.get_slice(k).get_shape()) for k in weights.keys())  # noqa: SIM118


def run(
    out: str | Path,
    sft_steps: int | None = None,
    grpo_steps: int | None = None,
    eval_limit: int | None = None,
    force: bool = False,
    echo: Callable[[str], None] = print,
) -> str:
    """Run the quickstart into `out`, print the leaderboard (also `out/leaderboard.md`) and the
    files written, and return the leaderboard.

    Each of the six stages says what it does and what it found in a numbered line
    (`[3/6] SFT: ...`) through `echo`; training shows a bar with ETA on a terminal (plain lines
    elsewhere). A rerun redoes only what is missing or changed: a stage trained to the same
    steps is not trained again, a model already scored on the same problems is not scored
    again, and when nothing was redone the leaderboard files are left as they are (their times
    stay those of the runs that did the work). `force` runs everything again."""
    import torch

    from .plot import plot_run
    from .progress import duration, quiet_libraries

    torch.set_num_threads(THREADS)  # the same kernels' reduction order on any machine
    out = Path(out)
    started = time.monotonic()
    n_eval = min(eval_limit or N_TEST, N_TEST)
    before = {} if force else _previous(out)
    work_s = 0.0  # time spent on stages that ran now

    def evaluate_stage(stage: Stage, changed: bool, number: int) -> bool:
        nonlocal work_s
        label = f"[{number}/6] {stage.name}"
        if not changed and _reuse(stage, before.get(stage.key), n_eval, out):
            echo(f"{label}: already scored on {n_eval} problems ({out / 'eval' / stage.key})")
            return False
        echo(f"{label}: scoring with lm-eval on {n_eval} held-out sums (greedy, 8 samples)")
        if (out / "eval" / stage.key).exists():
            shutil.rmtree(out / "eval" / stage.key)
        with quiet_libraries():
            _evaluate(stage, out, n_eval)
        work_s += stage.eval_s
        ood = f"; 4 digits: {_pct(stage.ood_accuracy)}" if stage.ood_accuracy is not None else ""
        echo(
            f"{label}: greedy {_pct(stage.accuracy)}, pass@1 {_pct(stage.pass1)}, "
            f"pass@8 {_pct(stage.pass8)}{ood} ({duration(stage.eval_s)})"
        )
        return True

    label = "[1/6] data"
    train_file = out / "data" / "train.jsonl"
    built = force or not (out / "base" / "model.safetensors").is_file()
    built = built or not _is_current_train_set(train_file)  # e.g. an older quickstart's
    if built:
        t0 = time.monotonic()
        with quiet_libraries():
            n_train = write_train_set(train_file)
            params = build_model(out / "base", train_file)
        work_s += time.monotonic() - t0
    else:
        n_train = sum(1 for _ in train_file.open(encoding="utf-8"))
        params = _count_parameters(out / "base")
    done = "wrote" if built else "already has"
    echo(
        f"{label}: {done} {n_train} training sums ({train_file}) and a "
        f"{params / 1e6:.2f}M-parameter model ({out / 'base'})"
    )
    base = Stage("untrained", "untrained", out / "base")
    ran = evaluate_stage(base, built, 2)

    t0 = time.monotonic()
    steps = sft_steps or SFT["args"]["max_steps"]
    label = "[3/6] SFT"
    final, sft_ran = _train(
        "sft", SFT, out / "base", out / "sft", train_file, steps, force or built, echo, label
    )
    sft = Stage("SFT", "sft", final)
    if sft_ran:
        sft.train_s = time.monotonic() - t0
        work_s += sft.train_s
    else:
        sft.train_s = before.get("sft", {}).get("train_s", 0.0)
    ran = evaluate_stage(sft, sft_ran, 4) or sft_ran or ran

    t0 = time.monotonic()
    steps = grpo_steps or GRPO["args"]["max_steps"]
    label = "[5/6] GRPO"
    final, grpo_ran = _train(
        "grpo", GRPO, sft.model, out / "grpo", train_file, steps, force or sft_ran, echo, label
    )
    grpo = Stage("SFT + GRPO", "grpo", final)
    curves = out / "grpo" / "curves.png"
    if grpo_ran:
        grpo.train_s = time.monotonic() - t0
        work_s += grpo.train_s
        curves = plot_run(out / "grpo")
    else:
        grpo.train_s = before.get("grpo", {}).get("train_s", 0.0)
    ran = evaluate_stage(grpo, grpo_ran, 6) or grpo_ran or ran

    board, record = out / "leaderboard.md", out / "leaderboard.json"
    if not ran and board.is_file():
        echo(f"quickstart: nothing to redo; {board} is as it was (--force runs it all again)")
        table = board.read_text(encoding="utf-8").rstrip("\n")
        done = "unchanged:"
    else:
        stages = [base, sft, grpo]
        reused_s = sum(s.train_s + s.eval_s for s in stages) - work_s
        total_s = time.monotonic() - started + max(0.0, reused_s)
        table = leaderboard(stages, n_eval, params, total_s)
        board.write_text(table + "\n", encoding="utf-8")
        record.write_text(
            json.dumps([{**s.__dict__, "model": str(s.model)} for s in stages], indent=2) + "\n"
        )
        done = "wrote"
    echo(table)
    echo(f"{done} {', '.join(str(p) for p in (board, record, curves) if p.is_file())}")
    return table
