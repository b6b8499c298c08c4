"""Read lm-eval results files (`results_<date>.json`) into runs with one headline score per task.

A task's headline metric is `avg@k` when it drew k samples, else `exact_match`, else the first
metric it reports; the `grader` filter (the spark tasks') is preferred over others. Scores are
kept in percent. Group entries (`spark_core`) are skipped: the leaderboard averages by itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..baselines.runner import RUN_NAME_KEY

# lm-eval names a run after the first of these model_args (evaluation_tracker.py).
NAME_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")
PROBE_AXES = ("plan", "knowledge", "subproblems", "hint25", "hint50", "hint75")
_K_SUFFIX = re.compile(r"_k\d+$")
_AVG = re.compile(r"^avg@\d+$")


class LeaderboardError(ValueError):
    """A results file or reported-scores file that cannot be used, named in the message."""


@dataclass(frozen=True)
class TaskScore:
    """The headline score of one task of one run, in percent."""

    task: str
    benchmark: str
    axis: str  # "" for a plain task, else the probe axis (plan, knowledge, ...)
    metric: str
    value: float
    stderr: float | None
    n: int | None
    decoding: str


@dataclass(frozen=True)
class Run:
    """One lm-eval results file."""

    path: Path
    model: str
    backend: str
    model_args: str
    date: datetime | None
    lm_eval_version: str | None
    git_hash: str | None
    spark_math_version: str | None
    chat_template: str | None
    limit: float | None
    scores: tuple[TaskScore, ...]

    @property
    def decoding(self) -> str:
        """The run's decodings, each with the benchmarks (and their probes) that used it."""
        groups: dict[str, dict[str, None]] = {}
        for score in self.scores:
            groups.setdefault(score.decoding, {})[score.benchmark] = None
        return "; ".join(f"{', '.join(benches)}: {how}" for how, benches in groups.items())


def split_task(task: str) -> tuple[str, str]:
    """(benchmark, probe axis) of a task name: `spark_aime24_k8` -> ("aime24", "")."""
    name = _K_SUFFIX.sub("", task.removeprefix("spark_"))
    for axis in PROBE_AXES:
        if name.endswith(f"_{axis}"):
            return name.removesuffix(f"_{axis}"), axis
    return name, ""


def find_results(paths: list[Path]) -> list[Path]:
    """Results files named by `paths`: files as given, folders searched for `results*.json`."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            files = sorted(path.rglob("results*.json"))
            if not files:
                raise LeaderboardError(f"{path}: no lm-eval results files (results*.json) in it")
            found.extend(files)
        elif path.is_file():
            found.append(path)
        else:
            raise LeaderboardError(f"{path}: no such file or folder")
    return list({p.resolve(): p for p in found}.values())


def load_run(path: Path) -> Run:
    """Parse one results file; a file that is not lm-eval's raises `LeaderboardError`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LeaderboardError(f"{path}: not an lm-eval results file ({exc})") from None
    results = data.get("results") if isinstance(data, dict) else None
    if (
        not isinstance(results, dict)
        or not isinstance(data.get("config"), dict)
        or not all(isinstance(v, dict) for v in results.values())
    ):
        keys = sorted(data)[:8] if isinstance(data, dict) else type(data).__name__
        raise LeaderboardError(
            f"{path}: not an lm-eval results file (expected a JSON object with 'results' "
            f"{{task: {{'metric,filter': value}}}} and 'config', as lm_eval --output_path "
            f"writes; found {keys})"
        )
    groups = {g for g, subtasks in (data.get("group_subtasks") or {}).items() if subtasks}
    groups |= set(data.get("groups") or {})
    configs = data.get("configs") or {}
    counts = data.get("n-samples") or {}
    scores = tuple(
        score
        for task, metrics in results.items()
        if task not in groups
        for score in [_headline(task, metrics, configs.get(task) or {}, counts.get(task))]
        if score is not None
    )
    if not scores:
        raise LeaderboardError(f"{path}: an lm-eval results file without any task score")
    config = data["config"]
    return Run(
        path=path,
        model=_run_name(config, configs),
        backend=str(config.get("model", "?")),
        model_args=_args_text(config.get("model_args")),
        date=_date(data.get("date")),
        lm_eval_version=data.get("lm_eval_version"),
        git_hash=data.get("git_hash"),
        spark_math_version=_metadata(configs).get("spark_math_version"),
        chat_template=_template(data.get("chat_template"), data.get("chat_template_sha")),
        limit=config.get("limit"),
        scores=scores,
    )


def _date(stamp: Any) -> datetime | None:
    """lm-eval's `date` (epoch seconds) as a UTC datetime."""
    number = _number(stamp)
    return None if number is None else datetime.fromtimestamp(number, tz=timezone.utc)


def _template(template: Any, sha: Any) -> str | None:
    """A chat template's name, or its sha256 prefix when lm-eval recorded the whole text."""
    if not template:
        return None
    if len(str(template)) <= 40 and "\n" not in str(template):
        return str(template)
    return f"sha256 {str(sha)[:10]}" if sha else "applied"


def _metadata(configs: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for cfg in configs.values():
        merged.update((cfg or {}).get("metadata") or {})
    return merged


def _run_name(config: dict[str, Any], configs: dict[str, Any]) -> str:
    if name := _metadata(configs).get(RUN_NAME_KEY):
        return str(name)
    args = config.get("model_args")
    if isinstance(args, dict):
        for key in NAME_KEYS:
            if args.get(key):
                return str(args[key])
    backend = str(config.get("model", "?"))
    text = _args_text(args)
    return f"{backend}({text})" if text else backend


def _args_text(args: Any) -> str:
    if isinstance(args, dict):
        return ",".join(f"{k}={v}" for k, v in args.items())
    return str(args or "")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value else None  # NaN is no score


def _headline(
    task: str, metrics: dict[str, Any], config: dict[str, Any], count: Any
) -> TaskScore | None:
    """The task's headline metric (avg@k, exact_match, then any), `grader` filter first."""
    candidates = []
    for key, value in metrics.items():
        metric, _, filter_name = key.partition(",")
        if not filter_name or metric.endswith("_stderr") or _number(value) is None:
            continue
        rank = 0 if _AVG.match(metric) else 1 if metric == "exact_match" else 2
        candidates.append((rank, filter_name not in {"grader", "none"}, metric, filter_name))
    if not candidates:
        return None
    _, _, metric, filter_name = min(candidates)
    stderr = _number(metrics.get(f"{metric}_stderr,{filter_name}"))
    label = metric if filter_name in {"grader", "none"} else f"{metric},{filter_name}"
    benchmark, axis = split_task(task)
    effective = count.get("effective") if isinstance(count, dict) else None
    return TaskScore(
        task=task,
        benchmark=benchmark,
        axis=axis,
        metric=label,
        value=100 * float(metrics[f"{metric},{filter_name}"]),
        stderr=None if stderr is None else 100 * stderr,
        n=int(effective) if isinstance(effective, int | float) else None,
        decoding=describe_decoding(config),
    )


def describe_decoding(config: dict[str, Any]) -> str:
    """A task config's decoding in a few words: `greedy, ≤2048 tok` or `T=0.6 top_p=0.95 ×8`."""
    kwargs = config.get("generation_kwargs") or {}
    temperature = kwargs.get("temperature", 0.0)
    sampled = kwargs.get("do_sample", bool(temperature)) and temperature not in (0, None)
    parts = [f"T={temperature:g}" if sampled else "greedy"]
    if sampled and "top_p" in kwargs:
        parts.append(f"top_p={kwargs['top_p']:g}")
    repeats = config.get("repeats") or 1
    if repeats > 1:
        parts.append(f"×{repeats}")
    if "max_gen_toks" in kwargs:
        parts.append(f"≤{kwargs['max_gen_toks']} tok")
    if config.get("num_fewshot"):
        parts.append(f"{config['num_fewshot']}-shot")
    return " ".join(parts)
