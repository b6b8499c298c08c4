"""Regression evals: recorded generations replayed through the spark tasks, every metric compared.

    python tests/regression/run_regression.py            # compare; exit 1 with a table on drift
    python tests/regression/run_regression.py --update   # rewrite expected.json on purpose
    python tests/regression/run_regression.py --record   # re-record inputs/ (torch, transformers)

`inputs/<run>/samples_<task>.jsonl` hold fixed responses to the first LIMIT documents of each task
(request prompts, document hashes and responses as lm-eval logged them; the documents come from
SPARK_MATH_DATA_DIR): `tiny` is the tiny random Qwen2 of `spark_math.models.tiny` (weight seed 0,
lm-eval seed 0, chat template, 48 new tokens), `oracle` is `spark-oracle` (gold answers on gsm8k
and math500, mode=mixed with correct_fraction=0.5 on aime24's 8 samples). `spark-replay` feeds
them back through lm-eval, so the tasks, filters, grader and metric aggregation all run for real.
Every value lm-eval reports (metrics, stderrs, sample counts) must match `expected.json` within
its `tolerance` (absolute); the replay is deterministic, so the tolerance only absorbs float noise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_math import __version__

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs"
EXPECTED = HERE / "expected.json"
TASKS = ("spark_gsm8k", "spark_math500", "spark_aime24")
LIMIT = 6
TOLERANCE = 1e-6
RUNS = ("tiny", "oracle")
ABOUT = (
    "What lm-eval reports for the spark tasks on the generations recorded in inputs/, replayed "
    "through spark-replay by run_regression.py; values may differ by `tolerance` at most. "
    "Rewrite on purpose with `tox -e regression -- --update`."
)
# What a recording keeps of lm-eval's sample lines: what spark-replay needs, and no documents.
KEPT = ("doc_id", "doc_hash", "prompt_hash", "target", "arguments", "resps")
Results = dict[str, dict[str, dict[str, Any]]]  # run -> task -> "metric,filter" -> value

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@dataclass(frozen=True)
class Drift:
    """One reported value that differs from its expectation (None: absent on that side)."""

    run: str
    task: str
    metric: str
    expected: Any
    got: Any

    @property
    def delta(self) -> float | None:
        if isinstance(self.expected, int | float) and isinstance(self.got, int | float):
            return float(self.got) - float(self.expected)
        return None


def _evaluate(
    model: str,
    model_args: dict[str, Any],
    tasks: tuple[str, ...],
    metadata: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    import lm_eval
    from lm_eval.tasks import TaskManager

    return lm_eval.simple_evaluate(
        model=model,
        model_args=model_args,
        tasks=list(tasks),
        limit=LIMIT,
        task_manager=TaskManager(include_defaults=False, metadata=metadata),
        bootstrap_iters=1000,  # mean metrics get lm-eval's closed-form stderr (no resampling)
        **kwargs,
    )


def replay(run: str, output: Path | None = None) -> dict[str, dict[str, Any]]:
    """Replay one recorded run through lm-eval; with `output`, save results as lm_eval does."""
    from lm_eval.loggers import EvaluationTracker

    tracker = EvaluationTracker(output_path=str(output)) if output else None
    out = _evaluate(
        "spark-replay",
        {"samples": str(INPUTS / run)},
        TASKS,
        log_samples=output is not None,
        evaluation_tracker=tracker,
        metadata={"spark_run_name": f"{run} (replayed)", "spark_math_version": __version__},
    )
    if tracker is not None:
        samples = out.pop("samples")
        tracker.save_results_aggregated(results=out, samples=samples)
        for task in out["configs"]:
            tracker.save_results_samples(task_name=task, samples=samples[task])
    return {
        task: {k: v for k, v in values.items() if k not in {"name", "alias"}}
        for task, values in out["results"].items()
    }


def record() -> None:
    """Re-record `inputs/`: run the tiny model and spark-oracle, keep their responses."""
    from spark_math.models.tiny import make_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        tiny = make_tiny_model(Path(tmp) / "tiny", arch="qwen2", seed=0)
        seeds = {"random_seed": 0, "numpy_random_seed": 0, "torch_random_seed": 0}
        runs = {
            "tiny": [
                _evaluate(
                    "hf",
                    {"pretrained": str(tiny), "dtype": "float32"},
                    TASKS,
                    device="cpu",
                    batch_size=8,
                    gen_kwargs={"max_gen_toks": 48},
                    apply_chat_template=True,
                    **seeds,
                )
            ],
            "oracle": [
                _evaluate("spark-oracle", {"mode": "gold"}, TASKS[:2]),
                _evaluate("spark-oracle", {"mode": "mixed", "correct_fraction": 0.5}, TASKS[2:]),
            ],
        }
    for run, outs in runs.items():
        folder = INPUTS / run
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("samples_*.jsonl"):
            stale.unlink()
        for out in outs:
            for task, samples in out["samples"].items():
                lines = [json.dumps(_compact(s), ensure_ascii=False) for s in samples]
                (folder / f"samples_{task}.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
        print(f"recorded {folder.relative_to(HERE.parents[1])}")


def _compact(sample: dict[str, Any]) -> dict[str, Any]:
    """A sample line as lm-eval's samples file holds it, less the document and the grading."""
    arguments = {
        f"gen_args_{i}": {f"arg_{j}": arg for j, arg in enumerate(args)}
        for i, args in enumerate(sample["arguments"])
    }
    line = {**sample, "arguments": arguments, "target": str(sample["target"])}
    return {key: line[key] for key in KEPT}


def compare(expected: Results, got: Results, tolerance: float) -> list[Drift]:
    """Every value that is missing, new, of another kind or off by more than `tolerance`."""
    drifts = []
    for run in sorted(expected.keys() | got.keys()):
        tasks_e, tasks_g = expected.get(run, {}), got.get(run, {})
        for task in sorted(tasks_e.keys() | tasks_g.keys()):
            values_e, values_g = tasks_e.get(task, {}), tasks_g.get(task, {})
            for metric in sorted(values_e.keys() | values_g.keys()):
                e, g = values_e.get(metric), values_g.get(metric)
                if not _close(e, g, tolerance):
                    drifts.append(Drift(run, task, metric, e, g))
    return drifts


def _close(expected: Any, got: Any, tolerance: float) -> bool:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (expected, got))
    if numbers:
        return math.isclose(expected, got, rel_tol=0.0, abs_tol=tolerance)
    return expected == got


def drift_table(drifts: list[Drift]) -> str:
    """What moved, as a table: run, task, metric, expected, got, delta."""
    from tabulate import tabulate

    def show(value: Any) -> str:
        if value is None:
            return "(absent)"
        return f"{value:.6g}" if isinstance(value, float) else str(value)

    rows = [
        (d.run, d.task, d.metric, show(d.expected), show(d.got), show(d.delta) if d.delta else "")
        for d in drifts
    ]
    headers = ("run", "task", "metric", "expected", "got", "delta")
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--update", action="store_true", help="rewrite expected.json on purpose")
    mode.add_argument("--record", action="store_true", help="re-record inputs/ (then --update)")
    parser.add_argument("--expected", type=Path, default=EXPECTED, help="expectations file")
    args = parser.parse_args(argv)
    if not os.environ.get("SPARK_MATH_DATA_DIR"):
        parser.error("set SPARK_MATH_DATA_DIR to the offline datasets (tox -e regression does)")
    if args.record:
        record()
        return 0
    start = time.perf_counter()
    got = {run: replay(run) for run in RUNS}
    stored = json.loads(args.expected.read_text("utf-8")) if args.expected.is_file() else {}
    tolerance = float(stored.get("tolerance", TOLERANCE))
    drifts = compare(stored.get("runs", {}), got, tolerance)
    count = sum(len(values) for tasks in got.values() for values in tasks.values())
    took = f"{time.perf_counter() - start:.1f} s"
    if args.update:
        body = {"about": ABOUT, "tolerance": tolerance, "runs": got}
        args.expected.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", "utf-8")
        print(f"wrote {args.expected}: {count} values ({len(drifts)} changed, {took})")
        if drifts:
            print(drift_table(drifts))
        return 0
    if drifts:
        print(f"regression: {len(drifts)} of {count} values moved (tolerance {tolerance:g}):")
        print(drift_table(drifts))
        print("If the change is intended, rewrite the expectations: tox -e regression -- --update")
        return 1
    print(
        f"regression: {count} values of {len(RUNS)} runs x {len(TASKS)} tasks match "
        f"{args.expected.name} within {tolerance:g} ({took})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
