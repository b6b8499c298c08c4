"""`spark-math probes report RESULTS_DIR`: per model, each probe's score next to the plain task's
on the same problems, and the gain (plan gain, knowledge gain, hint gains, decomposition gain).

An lm-eval task cannot see another task's results, so the gains are computed here from the
results files that `lm_eval --output_path` writes (`results_*.json`, any depth; runs of the same
model and model_args are merged, later files winning). With `--log_samples` the comparison is
paired: both scores over the problems both tasks scored. Without samples it falls back to the
difference of the task scores, marked unpaired. For subproblems the score is SSR (a problem
counts when its whole chain is solved) and the gain is SSR minus plain accuracy.

Prompt truncation: for `hf`/`vllm` runs with logged samples, every logged prompt is tokenized
with the run's tokenizer and compared with `max_length - max_gen_toks`; prompts over it were cut
from the left by the backend, and the report says so.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import DataError

PROBES = ("plan", "knowledge", "hint25", "hint50", "hint75", "subproblems")
BENCHES = ("gsm8k", "math500", "aime24")
_PRIMARY = re.compile(r"^avg@\d+,grader$")


@dataclass
class Run:
    """One model's merged results: task -> metrics, configs and samples file."""

    model: str
    config: dict[str, Any]
    max_length: int | None = None
    results: dict[str, dict] = field(default_factory=dict)
    configs: dict[str, dict] = field(default_factory=dict)
    samples: dict[str, Path] = field(default_factory=dict)


@dataclass
class Line:
    """One row of the report."""

    bench: str
    probe: str
    n: int
    score: float
    plain: float | None
    paired: bool
    note: str = ""

    @property
    def gain(self) -> float | None:
        return None if self.plain is None else self.score - self.plain


def _model_args(config: dict) -> dict[str, Any]:
    from lm_eval.utils import simple_parse_args_string

    args = config.get("model_args") or {}
    return simple_parse_args_string(args) if isinstance(args, str) else args


def find_runs(root: str | Path) -> list[Run]:
    """Every model's results under `root`."""
    files = sorted(Path(root).expanduser().rglob("results_*.json"), key=lambda p: p.name)
    if not files:
        raise DataError(f"no lm-eval results_*.json under {root} (run lm_eval with --output_path)")
    runs: dict[str, Run] = {}
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        config = data.get("config", {})
        args = _model_args(config)
        key = json.dumps([config.get("model"), args], sort_keys=True, default=str)
        backend = str(config.get("model", "?"))
        name = args.get("pretrained") or args.get("model")
        run = runs.setdefault(key, Run(f"{backend}: {name}" if name else backend, config))
        run.max_length = data.get("max_length") or run.max_length
        stamp = path.stem.removeprefix("results_")
        for task, metrics in data.get("results", {}).items():
            run.results[task] = metrics
            run.configs[task] = data.get("configs", {}).get(task, {})
            sample = path.with_name(f"samples_{task}_{stamp}.jsonl")
            if sample.is_file():
                run.samples[task] = sample
            else:
                run.samples.pop(task, None)
    return list(runs.values())


def _primary(metrics: dict) -> str:
    return next((k for k in metrics if _PRIMARY.match(k)), "exact_match,grader")


def _read_samples(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _per_problem(run: Run, task: str) -> dict[str, float] | None:
    """Problem id -> score (for subproblems: the share of samples whose chain is solved)."""
    path = run.samples.get(task)
    if path is None:
        return None
    samples = _read_samples(path)
    if not task.endswith("_subproblems"):
        metric = _primary(run.results[task]).split(",")[0]
        return {s["doc"]["id"]: float(s[metric]) for s in samples}
    chains: dict[str, dict[int, list[bool]]] = defaultdict(dict)
    sizes = {}
    for s in samples:
        problem_id, step, n_steps, correct = s["ssr"]
        chains[problem_id][step] = correct
        sizes[problem_id] = n_steps
    return {
        pid: sum(map(all, zip(*steps.values(), strict=True))) / len(next(iter(steps.values())))
        for pid, steps in chains.items()
        if len(steps) == sizes[pid]
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def lines(run: Run) -> list[Line]:
    """The report's rows for one model: every probe task it ran, per benchmark."""
    out = []
    for bench in BENCHES:
        plain_task = f"spark_{bench}"
        base = run.results.get(plain_task)
        plain = _per_problem(run, plain_task) if base is not None else None
        for probe in PROBES:
            task = f"{plain_task}_{probe}"
            if task not in run.results:
                continue
            metrics, note = run.results[task], ""
            score_key = _primary(metrics)
            if probe == "subproblems":
                score_key = "ssr,grader"
                depth = float(metrics["first_fail_step,grader"])
                shown = "none fails" if math.isnan(depth) else f"{depth:.2f}"
                if math.isnan(float(metrics[score_key])):
                    shown = "- (no complete chain: raise --limit)"
                note = f"step acc {metrics[_primary(metrics)]:.3f}, first failing step {shown}"
            mine = _per_problem(run, task)
            if mine is not None and plain is not None:
                common = sorted(set(mine) & set(plain))
                score, reference = (
                    _mean([mine[i] for i in common]),
                    _mean([plain[i] for i in common]),
                )
                out.append(Line(bench, probe, len(common), score, reference, True, note))
                continue
            reference = None if base is None else float(base[_primary(base)])
            note = "; ".join(filter(None, [note, "unpaired (no samples)"]))
            n = int(metrics.get("sample_len", 0))
            out.append(Line(bench, probe, n, float(metrics[score_key]), reference, False, note))
    return out


def truncated(run: Run) -> dict[str, tuple[int, int, int]] | None:
    """Task -> (prompts cut, prompts, token budget) for hf/vLLM runs with samples; None when
    the run cannot be checked (another backend, no max length, no tokenizer)."""
    args = _model_args(run.config)
    source = args.get("tokenizer") or args.get("pretrained")
    max_length = run.max_length or args.get("max_length") or args.get("max_model_len")
    if run.config.get("model") not in ("hf", "vllm") or not source or not max_length:
        return None
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(source)
    except Exception:  # no transformers, or the tokenizer is not reachable from here
        return None
    found = {}
    for task, path in run.samples.items():
        gen = run.configs.get(task, {}).get("generation_kwargs", {})
        budget = int(max_length) - int(gen.get("max_gen_toks", 256))
        prompts = [s["arguments"]["gen_args_0"]["arg_0"] for s in _read_samples(path)]
        sizes = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
        found[task] = (sum(n > budget for n in sizes), len(sizes), budget)
    return found
