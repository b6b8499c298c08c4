"""Re-grade saved generations with today's grader and compare with the verdicts they were given.

Reads lm-eval's ``samples_<task>_<date>.jsonl`` (``--log_samples``) from any generate_until task,
ours or lm-eval's own (``gsm8k``, ``minerva_math500``, ``aime24``, ...), and records of any other
layout: JSON Lines, a JSON array, or a JSON object (one record, or an object whose only list of
objects holds the records). `Fields` says where a record keeps its response(s), gold answer,
problem, id, published verdict (label) and finish reason, as dotted paths (`resolve`); by default
``response``, ``gold``, ``problem``, ``id`` and ``correct``. Every response is graded by
`spark_math.grading.grade` through the spark tasks' scoring, so the new metrics are the ones the
spark tasks report (`scoring.metric_names`): exact_match, pass@k, avg@k, maj@k and the shares of
responses cut off, without an answer and with reasoning.

A gold of several lines is a whole reference solution (GSM8K's ending ``#### 1,600``, OpenAI's
``A: 18``, a last ``\\boxed{}``) and is reduced to its final answer with the grader's own
`extract_answer`; a one-line gold is the answer itself (less a leading ``#`` or ``####``).

For lm-eval samples the task (hence the grading profile) comes from the file name, the old metrics
from each line's metric values (one line per document and filter, keyed ``<metric>,<filter>`` as
in lm-eval's results), the labels from one of them (`Report.label_name`), and the gold from the
document: ``answer`` (spark tasks), GSM8K's ``#### N``, ``Answer`` (AIME), the last ``\\boxed{}``
of ``solution`` (MATH; lm-eval's minerva tasks store a normalised ``answer``), else the line's
``target``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tqdm import tqdm

from spark_math.data.normalize import last_boxed
from spark_math.errors import SparkMathError
from spark_math.grading import PROFILES, extract_answer
from spark_math.grading.profiles import resolve_profile
from spark_math.harness_tasks.scoring import GradedSample, grade_samples, sample_metrics

from .paths import (
    WILDCARD,
    PathError,
    PathSyntaxError,
    bind,
    parse_path,
    resolve,
    resolves,
    systems,
)

SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+)_\d{4}-\d{2}-\d{2}T[\d.-]+\.jsonl$")
TRUNCATED = {"length", "max_tokens"}
FINISHED = {"stop", "eos", "end_turn"}

Group = tuple[str | None, str | None]  # (task, `*` key)


class RescoreError(SparkMathError, ValueError):
    """An input that cannot be re-graded; the message names the file and line."""


def task_of(path: Path) -> str:
    """The task name in an lm-eval samples file name (``samples_<task>_<date>.jsonl``)."""
    match = SAMPLES_NAME.match(path.name)
    return match.group("task") if match else path.stem.removeprefix("samples_")


@dataclass(frozen=True)
class Fields:
    """Where the records keep what is graded, as `resolve` paths (None: the default field).

    `response` may give several responses (a list of texts) unless `join` joins them into one;
    a ``*`` segment in it (and in the other paths) picks each key that holds a response, one
    report per key. `label` is the published verdict (bool, 0/1, "True"/"False"; a list gives
    one per response). `label_from_filename` is (correct, wrong): text in a file's name that
    marks its items as correct or wrong; files differing only in it make one report.
    `gold_from` names a benchmark whose answer is looked up by problem text instead of `gold`.
    """

    response: str | None = None
    gold: str | None = None
    problem: str | None = None
    label: str | None = None
    id: str | None = None
    finish_reason: str | None = None
    join: bool = False
    label_from_filename: tuple[str, str] | None = None
    gold_from: str | None = None

    def __post_init__(self) -> None:
        paths = (self.response, self.gold, self.problem, self.label, self.id, self.finish_reason)
        for path in paths:
            if path is not None:
                try:
                    parse_path(path)
                except PathSyntaxError as exc:
                    raise RescoreError(str(exc)) from None
        if self.gold is not None and self.gold_from is not None:
            raise RescoreError("give --gold or --gold-from, not both")
        if self.label is not None and self.label_from_filename is not None:
            raise RescoreError("give --label or --label-from-filename, not both")


@dataclass
class Sample:
    """One item's saved responses, its gold answer and the verdicts it was given: `old` metrics
    (lm-eval) and `labels`, one per response from the first."""

    doc_id: str
    responses: list[str]
    gold: str
    old: dict[str, float] = field(default_factory=dict)
    labels: list[bool] = field(default_factory=list)
    truncated: list[bool | None] | None = None
    where: str = ""


@dataclass
class Rescored:
    """A sample with its new verdicts (one per response) and new metrics."""

    sample: Sample
    verdicts: list[GradedSample]
    new: dict[str, float]


@dataclass(frozen=True)
class Agreement:
    """How many labelled responses (and items, all of whose labels) the new verdicts agree with."""

    responses: int
    agree: int
    items: int
    items_agree: int


@dataclass
class Report:
    """The items of one task (or `*` key) in one file, or in the files one label split merges.
    `docs` holds them graded, once `grade_report` has run."""

    files: list[Path]
    system: str | None
    task: str | None
    profile: str
    samples: list[Sample]
    label_name: str | None = None
    notes: list[str] = field(default_factory=list)
    docs: list[Rescored] = field(default_factory=list)

    @property
    def source(self) -> str:
        return " + ".join(str(path) for path in self.files)

    @property
    def title(self) -> str:
        return self.source + (f" [{self.system}]" if self.system else "")

    def old_keys(self) -> list[str]:
        """Recorded metrics (``<metric>,<filter>``), in the file's order."""
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

    def accuracy(self, labelled: bool = False) -> float:
        """The share of all responses (or of the labelled ones) graded correct."""
        verdicts = [
            v["correct"]
            for d in self.docs
            for v in (d.verdicts[: len(d.sample.labels)] if labelled else d.verdicts)
        ]
        return sum(verdicts) / len(verdicts) if verdicts else 0.0

    def label_accuracy(self) -> float | None:
        """The share of labelled responses labelled correct (None without labels)."""
        labels = [label for s in self.samples for label in s.labels]
        return sum(labels) / len(labels) if labels else None

    def agreement(self) -> Agreement:
        """Agreement of the new verdicts with the labels."""
        pairs = [
            [v["correct"] == label for v, label in zip(d.verdicts, d.sample.labels, strict=False)]
            for d in self
            if d.sample.labels
        ]
        return Agreement(
            sum(map(len, pairs)), sum(map(sum, pairs)), len(pairs), sum(map(all, pairs))
        )

    def disagreements(self) -> list[tuple[Rescored, int]]:
        """(item, response index) of every new verdict that differs from its label."""
        return [
            (d, i)
            for d in self
            for i, (v, label) in enumerate(zip(d.verdicts, d.sample.labels, strict=False))
            if v["correct"] != label
        ]

    def __iter__(self) -> Iterator[Rescored]:
        return iter(self.docs)


def counterpart(old_key: str, new: Iterable[str]) -> str:
    """The new metric that corresponds to a recorded one: the same name, else exact_match."""
    metric = old_key.partition(",")[0]
    return metric if metric in new else "exact_match"


def truncation(finish_reason: Any) -> bool | None:
    """Whether a finish reason says the response was cut off (True), ended (False) or neither."""
    reason = str(finish_reason).lower()
    return True if reason in TRUNCATED else False if reason in FINISHED else None


def final_answer(gold: str, profile: str) -> str:
    """The final answer of a gold: a gold of several lines is a (complete) reference solution,
    reduced to the answer `extract_answer` finds in it (if any); one line is the answer itself,
    less GSM8K's `####` / ZeroEval's `#` prefix."""
    gold = gold.strip()
    if "\n" in gold:
        return extract_answer(gold, profile, truncated=False) or gold
    return gold.lstrip("#").strip() or gold


def file_groups(paths: Iterable[Path], fields: Fields = Fields()) -> list[list[Path]]:
    """The files of each report: one each, or those differing only in a label-from-filename mark."""
    if fields.label_from_filename is None:
        return [[path] for path in paths]
    groups: dict[Path, list[Path]] = {}
    for path in paths:
        mark = next((m for m in fields.label_from_filename if m in path.name), None)
        stem = path.with_name(path.name.replace(mark, "", 1)) if mark else path
        groups.setdefault(stem, []).append(path)
    return list(groups.values())


def read_reports(
    files: Sequence[Path],
    fields: Fields = Fields(),
    task: str | None = None,
    filter_name: str | None = None,
) -> list[Report]:
    """The ungraded reports of one file group (`file_groups`): one per task and ``*`` key.

    `task` sets the grading profile (default: from each task's name or the record's ``task``,
    else the `gold_from` benchmark, else "math"); `filter_name` picks the lm-eval filter whose
    verdicts are the labels (default: the first one)."""
    golds = _benchmark_golds(fields.gold_from) if fields.gold_from else None
    samples: dict[tuple, tuple[Group, Sample]] = {}
    unmatched: dict[Group, list[str]] = {}
    lm_eval: set[Group] = set()
    notes: list[str] = []
    for path in files:
        file_label = _filename_label(path, fields)
        for where, record in read_records(path, fields, notes):
            try:
                if fields.response is None and "resps" in record:
                    group: Group = (task_of(path), None)
                    lm_eval.add(group)
                    key = ("doc", *group, str(record["doc_id"]))
                    found = [(group, key, _lm_eval_sample(record, task_of(path)))]
                else:
                    found = _plain_samples(record, where, fields, task, golds, file_label)
            except PathError as exc:
                raise RescoreError(f"{where}: {exc}") from None
            except KeyError as exc:
                raise RescoreError(f"{where}: missing field {exc.args[0]!r}") from None
            except (TypeError, ValueError, AttributeError) as exc:
                raise RescoreError(f"{where}: {exc}") from None
            for group, key, sample in found:
                sample.where = where
                if not sample.gold:
                    unmatched.setdefault(group, []).append(sample.doc_id)
                elif key not in samples:
                    samples[key] = (group, sample)
                elif samples[key][1].responses != sample.responses:
                    seen = samples[key][1].where
                    raise RescoreError(
                        f"{where}: doc {sample.doc_id}'s responses differ from {seen}"
                    )
                else:
                    samples[key][1].old.update(sample.old)
    groups: dict[Group, list[Sample]] = {group: [] for group in unmatched}
    for group, sample in samples.values():
        groups.setdefault(group, []).append(sample)
    if not groups:
        raise RescoreError(f"{' + '.join(map(str, files))}: no items")
    reports = []
    for (name, system), group_samples in groups.items():
        profile = _profile(task or name or fields.gold_from, files[0])
        report = Report(list(files), system, name, profile, group_samples)
        if not group_samples:
            note = _unmatched_note(unmatched[name, system], fields)
            raise RescoreError(f"{report.title}: no items to grade ({note})")
        if (name, system) in lm_eval:
            _label_with_baseline(report, filter_name)
        elif any(s.labels for s in group_samples):
            by_name = fields.label_from_filename is not None
            label = (fields.label or "correct").replace(WILDCARD, system or WILDCARD)
            report.label_name = "file name" if by_name else label
        report.notes.extend(notes)
        if ids := unmatched.get((name, system)):
            report.notes.append(_unmatched_note(ids, fields) + ", not graded")
        if unread := sum("\n" in s.gold for s in group_samples):
            report.notes.append(
                f"{unread} golds are solutions without a final answer the grader finds; "
                "graded against their whole text"
            )
        reports.append(report)
    return reports


def grade_report(report: Report, progress: bool = False) -> Report:
    """Grade every response of the report's samples (fills `report.docs`)."""
    bar = tqdm(report.samples, desc=report.title, unit="doc", leave=False, disable=not progress)
    report.docs = [_rescore(sample, report.profile) for sample in bar]
    return report


def rescore(
    paths: Iterable[Path],
    fields: Fields = Fields(),
    task: str | None = None,
    filter_name: str | None = None,
    progress: bool = False,
) -> list[Report]:
    """Read and grade every file; one report per file group, task and ``*`` key."""
    return [
        grade_report(report, progress)
        for files in file_groups(paths, fields)
        for report in read_reports(files, fields, task, filter_name)
    ]


def _profile(task: str | None, where: str | Path) -> str:
    try:
        return resolve_profile(task).name
    except ValueError:
        raise RescoreError(
            f"{where}: cannot tell the answer conventions of task {task!r}; "
            f"pass --task with one of {sorted(PROFILES)}"
        ) from None


def _rescore(sample: Sample, profile: str) -> Rescored:
    verdicts = grade_samples(sample.responses, sample.gold, profile, sample.truncated)
    return Rescored(sample, verdicts, sample_metrics(verdicts))


def _label_with_baseline(report: Report, filter_name: str | None) -> None:
    """Label lm-eval samples with their recorded exact_match (or first metric) of `filter_name`,
    else of the first filter."""
    keys = list(dict.fromkeys(k for s in report.samples for k in s.old))
    if filter_name is not None:
        keys = [k for k in keys if k.partition(",")[2] == filter_name]
        if not keys:
            filters = sorted({k.partition(",")[2] for s in report.samples for k in s.old})
            raise RescoreError(
                f"{report.source}: no filter {filter_name!r} recorded (filters: {filters})"
            )
    if not keys:
        return
    first_filter = keys[0].partition(",")[2]
    keys = [k for k in keys if k.partition(",")[2] == first_filter]
    report.label_name = next((k for k in keys if k.partition(",")[0] == "exact_match"), keys[0])
    for sample in report.samples:
        if report.label_name in sample.old:
            sample.labels = [bool(sample.old[report.label_name])]


def _filename_label(path: Path, fields: Fields) -> bool | None:
    if fields.label_from_filename is None:
        return None
    correct, wrong = (mark in path.name for mark in fields.label_from_filename)
    if correct == wrong:
        raise RescoreError(
            f"{path}: the file name holds {'both' if correct else 'neither'} of "
            f"{' and '.join(map(repr, fields.label_from_filename))} (--label-from-filename)"
        )
    return correct


@cache
def _benchmark_golds(name: str) -> dict[str, str]:
    """A benchmark's gold answers by problem text (whitespace normalised)."""
    from spark_math.data import load_rows
    from spark_math.data.benchmarks import DataError

    try:
        rows = load_rows(name)
    except DataError as exc:
        raise RescoreError(f"--gold-from {name}: {exc}") from None
    return {_words(row["problem"]): str(row["answer"]) for row in rows}


def _words(text: str) -> str:
    return " ".join(text.split())


def read_text(path: Path) -> tuple[str, str | None]:
    """A file's text and, when some lines are not UTF-8, a note naming them: their undecodable
    bytes become U+FFFD, so the rest of the file is still read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RescoreError(f"{path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    lines, bad = [], []
    for number, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), 1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(raw.decode("utf-8", errors="replace"))
            bad.append(number)
    shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
    note = f"{path}: bytes that are not UTF-8 on {len(bad)} lines ({shown}), read as U+FFFD"
    return "\n".join(lines), note


def read_records(
    path: Path, fields: Fields, notes: list[str] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file:line, record) for each record of a JSON Lines, JSON array or JSON object file;
    a note on undecodable bytes goes to `notes`."""
    text, note = read_text(path)
    if note is not None and notes is not None:
        notes.append(note)
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise RescoreError(f"{path}: no samples")
    if text.lstrip().startswith("["):
        items: Iterable[tuple[str, Any]] = _array_items(text, path)
    elif len(lines) > 1 and _is_json(lines[0][1]):
        items = ((f"{path}:{n}", _loads(line, f"{path}:{n}")) for n, line in lines)
    else:
        items = _object_items(_loads(text, str(path)), path, fields)
    for where, record in items:
        if not isinstance(record, dict):
            raise RescoreError(f"{where}: expected a JSON object")
        yield where, record


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        line = f":{exc.lineno}" if "\n" in text.strip() else ""
        raise RescoreError(f"{where}{line}: not JSON ({exc.msg})") from None


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _array_items(text: str, path: Path) -> Iterator[tuple[str, Any]]:
    """The items of a JSON array file, each with the line it starts on."""
    decoder, ws = json.JSONDecoder(), re.compile(r"\s*")
    pos = ws.match(text, text.index("[") + 1).end()
    line, counted = 1, 0
    while pos < len(text) and text[pos] != "]":
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise RescoreError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
        yield f"{path}:{line}", value
        pos = ws.match(text, pos).end()
        if text[pos : pos + 1] == ",":
            pos = ws.match(text, pos + 1).end()
        elif text[pos : pos + 1] != "]":
            lineno = line + text.count("\n", counted, pos)
            raise RescoreError(f"{path}:{lineno}: not JSON (expected ',' or ']')")


def _object_items(data: Any, path: Path, fields: Fields) -> list[tuple[str, Any]]:
    """A JSON object file's records: itself, or its only list of objects when the response
    path does not lead anywhere in it."""
    if not isinstance(data, dict):
        return [(f"{path}:1", data)]
    lists = [
        key
        for key, value in data.items()
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
    ]
    response = fields.response or "response"
    try:
        holds = any(resolves(data, bind(response, key)) for key in systems(data, response))
    except PathError:
        holds = False
    if not holds and len(lists) == 1:
        return [(f"{path}:{lists[0]}.{i}", item) for i, item in enumerate(data[lists[0]])]
    return [(f"{path}:1", data)]


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


def _plain_samples(
    record: dict[str, Any],
    where: str,
    fields: Fields,
    task: str | None,
    golds: dict[str, str] | None,
    file_label: bool | None,
) -> list[tuple[Group, tuple, Sample]]:
    """A record's sample for each ``*`` key, with its group and key (see `read_reports`)."""
    name = record.get("task") if isinstance(record.get("task"), str) else None
    profile = _profile(task or name or fields.gold_from, where)
    return [
        (
            (name, system),
            ("line", where, system),
            _plain_sample(record, where, fields, system, profile, golds, file_label),
        )
        for system in systems(record, fields.response or "response")
    ]


def read_field(
    record: dict[str, Any],
    path: str | None,
    default: str,
    system: str | None = None,
    required: bool = True,
) -> Any:
    """The value at a `Fields` path (None: the `default` field) for one ``*`` key; PathError
    when a required field is missing, None when an optional one is."""
    if path is None and default not in record:
        if required:
            raise PathError(
                f"neither 'resps' (lm-eval samples) nor {default!r}: pass --{default} PATH"
                if default == "response"
                else f"missing field {default!r}"
            )
        return None
    path = path or default
    try:
        return resolve(record, bind(path, system))
    except PathError as exc:
        shown = path.replace(WILDCARD, system or WILDCARD)
        raise PathError(f"cannot read {shown!r}: {exc}") from None


def record_responses(
    record: dict[str, Any], fields: Fields, system: str | None = None
) -> tuple[list[str], list[bool | None] | None]:
    """A record's responses (one, a list, or a list joined by `fields.join`) and, when
    `fields.finish_reason` is given, whether each was cut off (`truncation`)."""
    responses = read_field(record, fields.response, "response", system)
    if isinstance(responses, list) and fields.join:
        responses = "\n\n".join("" if r is None else str(r) for r in responses)
    responses = [responses] if not isinstance(responses, list) else responses
    responses = ["" if r is None else r for r in responses]
    if not responses or not all(isinstance(r, str) for r in responses):
        raise TypeError("the response must be text or a non-empty list of texts")
    if fields.finish_reason is None:
        return responses, None
    reasons = read_field(record, fields.finish_reason, "finish_reason", system)
    reasons = reasons if isinstance(reasons, list) else [reasons] * len(responses)
    if len(reasons) != len(responses):
        raise ValueError(f"{len(reasons)} finish reasons for {len(responses)} responses")
    return responses, [truncation(r) for r in reasons]


def _plain_sample(
    record: dict[str, Any],
    where: str,
    fields: Fields,
    system: str | None,
    profile: str,
    golds: dict[str, str] | None,
    file_label: bool | None,
) -> Sample:
    """A record's sample for one ``*`` key; its gold is "" when `golds` lacks its problem."""

    def read(path: str | None, default: str, required: bool = True) -> Any:
        return read_field(record, path, default, system, required)

    responses, truncated = record_responses(record, fields, system)
    if golds is None:
        gold = read(fields.gold, "gold")
        if not isinstance(gold, (str, int, float)) or isinstance(gold, bool) or gold == "":
            raise TypeError(f"the gold must be text or a number, found {gold!r:.40}")
        gold = final_answer(str(gold), profile)
    else:
        gold = golds.get(_words(str(read(fields.problem, "problem"))), "")
    if file_label is None:
        labels = read(fields.label, "correct", required=fields.label is not None)
    else:
        labels = file_label
    labels = [] if labels is None else labels if isinstance(labels, list) else [labels]
    if len(labels) > len(responses):
        raise ValueError(f"{len(labels)} labels for {len(responses)} responses")
    doc_id = read(fields.id, "id", required=fields.id is not None)
    return Sample(
        str(doc_id) if doc_id is not None else where.rpartition(":")[2],
        responses,
        gold,
        labels=[_verdict(label) for label in labels],
        truncated=truncated,
    )


def _unmatched_note(ids: list[str], fields: Fields) -> str:
    shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
    return f"{len(ids)} items not found in {fields.gold_from} by problem text: {shown}"


def _verdict(label: Any) -> bool:
    """A published verdict: a bool, 0/1 or "true"/"false" (any case)."""
    if isinstance(label, bool):
        return label
    if isinstance(label, (int, float)) and label in (0, 1):
        return bool(label)
    if isinstance(label, str) and label.strip().lower() in ("true", "false", "1", "0"):
        return label.strip().lower() in ("true", "1")
    raise ValueError(f"the label {label!r} is not a verdict (bool, 0/1, 'True'/'False')")


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


def verdict_records(reports: Iterable[Report]) -> Iterator[dict[str, Any]]:
    """One JSON-ready record per item: labels, old and new metrics and the new verdicts."""
    for report in reports:
        for doc in report:
            yield {
                "file": report.source,
                "system": report.system,
                "task": report.task,
                "profile": report.profile,
                "doc_id": doc.sample.doc_id,
                "gold": doc.sample.gold,
                "labels": doc.sample.labels,
                "old": doc.sample.old,
                "new": doc.new,
                "verdicts": [
                    {k: v[k] for k in ("correct", "extracted", "reason")} for v in doc.verdicts
                ],
            }
