"""Re-grade saved generations with today's grader and compare with the verdicts they were given.

Reads lm-eval's ``samples_<task>_<date>.jsonl`` (``--log_samples``) from any generate_until task,
ours or lm-eval's own (``gsm8k``, ``minerva_math500``, ``aime24``, ...), and plain JSON Lines
records with ``problem``, ``response`` (text, or a list of k samples) and ``gold`` (optional:
``correct``, the old verdict; ``id``; ``task``). Every response is graded by
`spark_math.grading.grade` through the spark tasks' scoring, so the new metrics are the ones the
spark tasks report: exact_match (first response) and, for k > 1, avg@k, pass@k and maj@k.

For lm-eval samples the task (hence the grading profile) comes from the file name, the old
metrics from each line's metric values (one line per document and filter, keyed
``<metric>,<filter>`` as in lm-eval's results), and the gold from the document: ``answer``
(spark tasks), GSM8K's ``#### N``, ``Answer`` (AIME), the last ``\\boxed{}`` of ``solution``
(MATH; lm-eval's minerva tasks store a normalised ``answer``), else the line's ``target``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from spark_math.data.normalize import last_boxed
from spark_math.grading import PROFILES
from spark_math.grading.profiles import resolve_profile
from spark_math.harness_tasks.scoring import GradedSample, grade_samples, sample_metrics

SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+)_\d{4}-\d{2}-\d{2}T[\d.-]+\.jsonl$")


class RescoreError(ValueError):
    """An input that cannot be re-graded; the message names the file and line."""


def task_of(path: Path) -> str:
    """The task name in an lm-eval samples file name (``samples_<task>_<date>.jsonl``)."""
    match = SAMPLES_NAME.match(path.name)
    return match.group("task") if match else path.stem.removeprefix("samples_")


@dataclass
class Sample:
    """One document's saved responses, its gold answer and the metrics it was given."""

    doc_id: str
    responses: list[str]
    gold: str
    old: dict[str, float] = field(default_factory=dict)
    where: str = ""


@dataclass
class Rescored:
    """A sample with its new verdicts (one per response) and new metrics."""

    sample: Sample
    verdicts: list[GradedSample]
    new: dict[str, float]


@dataclass
class TaskReport:
    """The re-graded documents of one task in one file."""

    source: Path
    task: str | None
    profile: str
    docs: list[Rescored]

    def old_keys(self) -> list[str]:
        """Recorded metrics (``<metric>,<filter>``, or ``correct``), in the file's order."""
        return list(dict.fromkeys(k for d in self.docs for k in d.sample.old))

    def old_scores(self) -> dict[str, tuple[float, int]]:
        """Mean and count of every recorded metric."""
        scores = {}
        for key in self.old_keys():
            values = [d.sample.old[key] for d in self.docs if key in d.sample.old]
            scores[key] = (sum(values) / len(values), len(values))
        return scores

    def new_scores(self) -> dict[str, float]:
        """Mean of every new metric over the documents."""
        names = dict.fromkeys(k for d in self.docs for k in d.new)
        return {n: sum(d.new.get(n, 0.0) for d in self.docs) / len(self.docs) for n in names}

    def baseline(self, filter_name: str | None = None) -> str | None:
        """The recorded metric that the new exact_match is compared with, document by document:
        exact_match (or the first metric) of `filter_name`, else of the first filter."""
        keys = self.old_keys()
        if filter_name is not None:
            keys = [k for k in keys if k.partition(",")[2] == filter_name]
            if not keys:
                filters = sorted({k.partition(",")[2] for k in self.old_keys()} - {""})
                raise RescoreError(
                    f"{self.source}: no filter {filter_name!r} recorded (filters: {filters})"
                )
        if not keys:
            return None
        first_filter = keys[0].partition(",")[2]
        keys = [k for k in keys if k.partition(",")[2] == first_filter]
        return next((k for k in keys if k.partition(",")[0] == "exact_match"), keys[0])

    def changed(self, baseline: str) -> list[Rescored]:
        """Documents whose new exact_match verdict differs from the recorded one."""
        return [
            d
            for d in self.docs
            if baseline in d.sample.old
            and bool(d.sample.old[baseline]) != bool(d.new["exact_match"])
        ]


def counterpart(old_key: str, new: Iterable[str]) -> str:
    """The new metric that corresponds to a recorded one: the same name, else exact_match."""
    metric = old_key.partition(",")[0]
    return metric if metric in new else "exact_match"


def rescore_file(path: Path, task: str | None = None, progress: bool = False) -> list[TaskReport]:
    """Grade every document of one file, one report per task in it; `task` sets the grading
    profile (default: from each task's name; "math" for JSON Lines without a task)."""
    reports = []
    for name, samples in read_samples(path).items():
        try:
            profile = resolve_profile(task or name).name
        except ValueError:
            raise RescoreError(
                f"{path}: cannot tell the answer conventions of task {task or name!r}; "
                f"pass --task with one of {sorted(PROFILES)}"
            ) from None
        bar = tqdm(samples, desc=name or path.name, unit="doc", leave=False, disable=not progress)
        docs = [_rescore(s, profile) for s in bar]
        reports.append(TaskReport(path, name, profile, docs))
    return reports


def _rescore(sample: Sample, profile: str) -> Rescored:
    verdicts = grade_samples(sample.responses, sample.gold, profile)
    return Rescored(sample, verdicts, sample_metrics(verdicts))


def read_samples(path: Path) -> dict[str | None, list[Sample]]:
    """The documents of a file, grouped by task (lm-eval lines merged across filters)."""
    docs: dict[tuple, tuple[str | None, Sample]] = {}
    for number, record in _records(path):
        where = f"{path}:{number}"
        try:
            if "resps" in record:
                name = task_of(path)
                key, sample = ("doc", name, str(record["doc_id"])), _lm_eval_sample(record, name)
            elif "response" in record:
                name = record.get("task")
                key, sample = ("line", number), _plain_sample(record, number)
            else:
                raise ValueError("neither 'resps' (lm-eval samples) nor 'response' (JSON Lines)")
        except KeyError as exc:
            raise RescoreError(f"{where}: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise RescoreError(f"{where}: {exc}") from None
        sample.where = where
        if key not in docs:
            docs[key] = (name, sample)
            continue
        seen = docs[key][1]
        if seen.responses != sample.responses:
            raise RescoreError(f"{where}: doc {sample.doc_id}'s responses differ from {seen.where}")
        seen.old.update(sample.old)
    if not docs:
        raise RescoreError(f"{path}: no samples")
    groups: dict[str | None, list[Sample]] = {}
    for name, sample in docs.values():
        groups.setdefault(name, []).append(sample)
    return groups


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        lines = path.open(encoding="utf-8")
    except OSError as exc:
        raise RescoreError(f"{path}: {exc.strerror or exc}") from None
    with lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise RescoreError(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(record, dict):
                raise RescoreError(f"{path}:{number}: expected a JSON object")
            yield number, record


def _lm_eval_sample(record: dict[str, Any], task: str) -> Sample:
    resps = record["resps"]
    if not resps or not all(isinstance(r, str) for r in resps[0]):
        raise ValueError("'resps' holds no generated text (not a generate_until task)")
    old = {}
    for metric in record.get("metrics", []):
        value = record.get(metric)
        if isinstance(value, (int, float)):
            old[f"{metric},{record.get('filter', 'none')}"] = float(value)
    gold = gold_answer(record["doc"], str(record.get("target", "")), task)
    return Sample(str(record["doc_id"]), list(resps[0]), gold, old)


def _plain_sample(record: dict[str, Any], number: int) -> Sample:
    response = record["response"]
    responses = [response] if isinstance(response, str) else response
    if not isinstance(responses, list) or not all(isinstance(r, str) for r in responses):
        raise TypeError("'response' must be text or a list of texts")
    old = {"correct": float(bool(record["correct"]))} if "correct" in record else {}
    return Sample(str(record.get("id", f"line {number}")), responses, str(record["gold"]), old)


def gold_answer(doc: dict[str, Any], target: str, task: str) -> str:
    """The gold final answer of an lm-eval document (see the module docstring for the order)."""
    answer = doc.get("answer")
    if task.startswith("spark_") and answer is not None:
        return str(answer)
    for text in (answer, target):
        if isinstance(text, str) and "####" in text:
            return text.split("####")[-1].strip().replace(",", "")
    if doc.get("Answer") is not None:
        return str(doc["Answer"])
    solution = doc.get("solution") or doc.get("Solution")
    if isinstance(solution, str) and (boxed := last_boxed(solution)) is not None:
        return boxed
    if answer is not None:
        return str(answer)
    if target:
        return target
    raise ValueError("no gold answer: the doc has no answer, Answer or boxed solution")


def rescore(
    paths: Iterable[Path], task: str | None = None, progress: bool = False
) -> list[TaskReport]:
    """Re-grade every file; one report per (file, task)."""
    return [report for path in paths for report in rescore_file(path, task, progress)]


def verdict_records(reports: Iterable[TaskReport]) -> Iterator[dict[str, Any]]:
    """One JSON-ready record per document: old and new metrics and the new verdicts."""
    for report in reports:
        for doc in report.docs:
            yield {
                "file": str(report.source),
                "task": report.task,
                "profile": report.profile,
                "doc_id": doc.sample.doc_id,
                "gold": doc.sample.gold,
                "old": doc.sample.old,
                "new": doc.new,
                "verdicts": [
                    {k: v[k] for k in ("correct", "extracted", "reason")} for v in doc.verdicts
                ],
            }
