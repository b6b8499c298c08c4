"""Read lm-eval results files (`results_<date>.json`) into runs with one headline score per task.

A task name says its protocol, benchmark and probe axis (`parse_task`): the protocol presets of
`spark_math.harness_tasks.protocols` are name prefixes (`spark_sparkle_aime24_plan` is SPARKLE's
protocol, benchmark aime24, plan probe); a task outside them (lm-eval's own `gsm8k_cot`) has the
protocol `other` and its whole name as benchmark.

A task's headline metric is `ssr` for a probe's subproblems (`spark_<bench>_subproblems`: the
share of problems whose whole chain is solved), else `avg@k` when it drew k samples, else
`exact_match`, else the first metric it reports; the `grader` filter (the spark tasks') is
preferred over others. Scores are kept in percent. Group entries (`spark_core`) are skipped: the
leaderboard averages by itself. A run also keeps the file's raw metrics and task configs, and the
samples files (`samples_<task>_<date>.jsonl`, written with `--log_samples`) found beside it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from lm_eval.utils import simple_parse_args_string

from spark_math.errors import SparkMathError

from ..harness_tasks.protocols import PROTOCOLS, protocol_of

RUN_NAME_KEY = "spark_run_name"  # task metadata naming a baselines run (written by the runner)

# lm-eval names a run after the first of these model_args (evaluation_tracker.py).
NAME_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")
PROBE_AXES = ("plan", "knowledge", "subproblems", "hint25", "hint50", "hint75")
_K_SUFFIX = re.compile(r"_k\d+$")
_AVG = re.compile(r"^avg@\d+$")
OTHER = "other"  # the protocol of tasks that are no spark preset's (lm-eval's own tasks)
# lm-eval-fewshot task names end in their prompt style (`gsm8k_cot`, `math500_4shot`).
_PROMPT_SUFFIX = {"lm-eval-fewshot": re.compile(r"_(?:cot|\d+shot)$")}
_ALIASES = {"hendrycks_math": "math"}  # spark_hendrycks_math is the full MATH test set


class LeaderboardError(SparkMathError, ValueError):
    """A results file or reported-scores file that cannot be used, named in the message."""


@dataclass(frozen=True)
class TaskScore:
    """The headline score of one task of one run, in percent."""

    task: str
    protocol: str  # a PROTOCOLS key, or OTHER
    benchmark: str
    axis: str  # "" for a plain task, else the probe axis (plan, knowledge, ...)
    metric: str
    value: float
    stderr: float | None
    n: int | None
    decoding: str


@dataclass(frozen=True)
class Run:
    """One lm-eval results file: provenance, headline scores, and per task (groups included) the
    raw `results` metrics, the `configs` and the samples file when there is one."""

    path: Path
    model: str
    backend: str
    model_args: str
    args: dict[str, Any]  # model_args parsed
    max_length: int | None
    date: datetime | None
    lm_eval_version: str | None
    git_hash: str | None
    spark_math_version: str | None
    chat_template: str | None
    limit: float | None
    scores: tuple[TaskScore, ...]
    results: dict[str, dict[str, Any]]
    configs: dict[str, dict[str, Any]]
    samples: dict[str, Path]

    @property
    def protocols(self) -> list[str]:
        """The protocols of the run's tasks, in order of first appearance."""
        return list(dict.fromkeys(score.protocol for score in self.scores))

    @property
    def decoding(self) -> str:
        """The run's decodings, each with the benchmarks (and their probes) that used it; a
        benchmark of a protocol other than spark's defaults is named `<protocol>/<benchmark>`."""
        groups: dict[str, dict[str, None]] = {}
        for score in self.scores:
            name = score.benchmark
            if score.protocol != "spark":
                name = f"{score.protocol}/{name}"
            groups.setdefault(score.decoding, {})[name] = None
        return "; ".join(f"{', '.join(benches)}: {how}" for how, benches in groups.items())


class TaskName(NamedTuple):
    """What a task name says: protocol (a PROTOCOLS key, or OTHER), benchmark, probe axis."""

    protocol: str
    benchmark: str
    axis: str  # "" for a plain task


def parse_task(task: str) -> TaskName:
    """The protocol, benchmark and probe axis of a task name: `spark_sparkle_aime24_plan` ->
    (sparkle, aime24, plan), `spark_aime24_k8` -> (spark, aime24, ""), `spark_lmeval_gsm8k_cot`
    -> (lm-eval-fewshot, gsm8k, ""); a task that is no preset's -> (other, the task name, "")."""
    protocol, rest = protocol_of(task)
    if protocol is None:
        return TaskName(OTHER, task, "")
    name = _K_SUFFIX.sub("", rest)
    axis = next((a for a in PROBE_AXES if name.endswith(f"_{a}")), "")
    name = name.removesuffix(f"_{axis}")
    if suffix := _PROMPT_SUFFIX.get(protocol.name):
        name = suffix.sub("", name)
    return TaskName(protocol.name, _ALIASES.get(name, name), axis)


def split_task(task: str) -> tuple[str, str]:
    """(benchmark, probe axis) of a task name: `spark_sparkle_aime24_k8` -> ("aime24", "")."""
    return parse_task(task)[1:]


def protocol_text(name: str) -> tuple[str, str]:
    """(source, summary) of a protocol name, OTHER included."""
    if name == OTHER:
        return (
            "tasks of no spark-math preset (lm-eval's own gsm8k_cot, minerva_math, ...)",
            "each column keeps its own task's prompt, decoding and metric: no shared protocol",
        )
    return PROTOCOLS[name].source, PROTOCOLS[name].summary


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


def covered_tasks(path: Path) -> set[str]:
    """The tasks and groups a results file reports (empty for an unreadable or foreign file):
    what a resumed run checks before it skips an entry."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return set(data.get("results") or {}) | set(data.get("group_subtasks") or {})
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return set()


def load_runs(paths: list[Path]) -> tuple[list[Run], list[str]]:
    """The runs of every results file under `paths`, and one message per file that is not a
    usable results file (skipped, so one corrupt file does not hide the others). Raises
    `LeaderboardError` when no file is usable."""
    runs, skipped = [], []
    for path in find_results(paths):
        try:
            runs.append(load_run(path))
        except LeaderboardError as exc:
            skipped.append(str(exc))
    if not runs and skipped:
        raise LeaderboardError("; ".join(skipped))
    return runs, skipped


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
    tasks = {task: metrics for task, metrics in results.items() if task not in groups}
    if not any(map(headline_key, tasks.values())):
        raise LeaderboardError(f"{path}: an lm-eval results file without any task score")
    configs = {task: cfg or {} for task, cfg in (data.get("configs") or {}).items()}
    counts = data.get("n-samples") or {}
    scores = tuple(
        score
        for task, metrics in tasks.items()
        for score in [_headline(task, metrics, configs.get(task, {}), counts.get(task))]
        if score is not None
    )
    config = data["config"]
    args = _parse_args(config.get("model_args"))
    stamp = path.stem.removeprefix("results_")
    samples = [(task, path.with_name(f"samples_{task}_{stamp}.jsonl")) for task in results]
    max_length = data.get("max_length")
    return Run(
        path=path,
        model=_run_name(config, configs, args),
        backend=str(config.get("model", "?")),
        model_args=_args_text(config.get("model_args")),
        args=args,
        max_length=max_length if isinstance(max_length, int) else None,
        date=_date(data.get("date")),
        lm_eval_version=data.get("lm_eval_version"),
        git_hash=data.get("git_hash"),
        spark_math_version=_metadata(configs).get("spark_math_version"),
        chat_template=_template(data.get("chat_template"), data.get("chat_template_sha")),
        limit=config.get("limit"),
        scores=scores,
        results=results,
        configs=configs,
        samples={task: file for task, file in samples if file.is_file()},
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
        merged.update(cfg.get("metadata") or {})
    return merged


def _run_name(config: dict[str, Any], configs: dict[str, Any], args: dict[str, Any]) -> str:
    if name := _metadata(configs).get(RUN_NAME_KEY):
        return str(name)
    for key in NAME_KEYS:
        if args.get(key):
            return str(args[key])
    backend = str(config.get("model", "?"))
    text = _args_text(config.get("model_args"))
    return f"{backend}({text})" if text else backend


def _parse_args(args: Any) -> dict[str, Any]:
    """model_args as a dict: lm-eval records the command line's `k=v,...` string as given."""
    if isinstance(args, dict):
        return args
    return simple_parse_args_string(args) if isinstance(args, str) else {}


def _args_text(args: Any) -> str:
    if isinstance(args, dict):
        return ",".join(f"{k}={v}" for k, v in args.items())
    return str(args or "")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    return float(value) if _is_number(value) and value == value else None  # NaN is no score


def headline_key(metrics: dict[str, Any], ssr: bool = False) -> str | None:
    """The `metric,filter` key of a task's headline score: `ssr` when asked (subproblems tasks),
    else avg@k, exact_match, then any; the `grader` filter first. None when it has no metric."""
    candidates = []
    for key, value in metrics.items():
        metric, _, filter_name = key.partition(",")
        if not filter_name or metric.endswith("_stderr") or not _is_number(value):
            continue
        if ssr and metric != "ssr":
            continue
        rank = 0 if _AVG.match(metric) else 1 if metric == "exact_match" else 2
        candidates.append((rank, filter_name not in {"grader", "none"}, metric, filter_name))
    return ",".join(min(candidates)[2:]) if candidates else None


def _headline(
    task: str, metrics: dict[str, Any], config: dict[str, Any], count: Any
) -> TaskScore | None:
    """The task's headline score; None when it has none (SSR without a complete chain is NaN)."""
    protocol, benchmark, axis = parse_task(task)
    key = headline_key(metrics, ssr=axis == "subproblems")
    if key is None or _number(metrics[key]) is None:
        return None
    metric, _, filter_name = key.partition(",")
    stderr = _number(metrics.get(f"{metric}_stderr,{filter_name}"))
    label = metric if filter_name in {"grader", "none"} else key
    effective = count.get("effective") if isinstance(count, dict) else None
    return TaskScore(
        task=task,
        protocol=protocol,
        benchmark=benchmark,
        axis=axis,
        metric=label,
        value=100 * float(metrics[key]),
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
