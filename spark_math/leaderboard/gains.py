"""A probe task's gain over its plain task in the same run (`spark_gsm8k_plan` over `spark_gsm8k`).

Paired when the run logged samples of both tasks: both are scored on the problems both scored,
each problem by the task's headline metric (for subproblems, SSR: the share of its samples that
solve the whole chain). Otherwise the difference of the two task scores, unpaired. Scores are
fractions, as lm-eval reports them. The leaderboard's `Δ<axis>` and `spark-math probes report`
both come from `probe_gains`.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

from .results import Run, headline_key, split_task


@dataclass(frozen=True)
class Gain:
    """A probe's score next to its plain task's (None when the run has no plain task), over `n`
    problems (paired) or the probe's documents (unpaired)."""

    n: int
    score: float
    plain: float | None
    paired: bool

    @property
    def gain(self) -> float | None:
        return None if self.plain is None else self.score - self.plain


def plain_task(task: str) -> str:
    """The plain task a probe task is compared with (`spark_gsm8k_plan` -> `spark_gsm8k`); a plain
    task is its own."""
    axis = split_task(task)[1]
    return task.replace(f"_{axis}", "", 1) if axis else task


def probe_gains(run: Run) -> dict[str, Gain]:
    """Each probe task of `run` -> its score and gain over its plain task in `run`, paired when
    both logged samples."""
    per_problem = cache(partial(_per_problem, run))
    return {task: _gain(run, task, per_problem) for task in run.results if split_task(task)[1]}


def _gain(run: Run, task: str, per_problem: Callable[[str], dict[str, float] | None]) -> Gain:
    """`task`'s gain, paired over the problems both it and its plain task scored when both have
    per-problem scores (`per_problem`), else the difference of the task scores."""
    axis, plain = split_task(task)[1], plain_task(task)
    mine, theirs = per_problem(task), per_problem(plain)
    if mine is not None and theirs is not None:
        common = sorted(set(mine) & set(theirs))
        score, reference = (_mean([scores[i] for i in common]) for scores in (mine, theirs))
        return Gain(len(common), score, reference, True)
    metrics, base = run.results[task], run.results.get(plain, {})
    key, base_key = headline_key(metrics, ssr=axis == "subproblems"), headline_key(base)
    score = float(metrics[key]) if key else math.nan
    reference = float(base[base_key]) if base_key else None
    return Gain(int(metrics.get("sample_len", 0)), score, reference, False)


def _per_problem(run: Run, task: str) -> dict[str, float] | None:
    """Problem id -> the task's score on it, from its samples (None without samples); for
    subproblems the share of samples whose chain is solved, complete chains only."""
    subproblems = split_task(task)[1] == "subproblems"
    path, key = run.samples.get(task), headline_key(run.results.get(task, {}), subproblems)
    if path is None or key is None:
        return None
    samples = read_samples(path)
    if not subproblems:
        metric, _, filter_name = key.partition(",")
        return {
            s["doc"]["id"]: float(s[metric])
            for s in samples
            if s.get("filter", filter_name) == filter_name
        }
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


def read_samples(path: Path) -> list[dict]:
    """The records of a samples file (JSON Lines)."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan
