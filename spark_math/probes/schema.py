"""Annotation files: one JSON object per line, one file per benchmark and kind.

    <probes dir>/<bench>/<kind>.jsonl        kind: plan | knowledge | subproblems | hints

Every row, keys in this order:

    {"id": "test-0", "bench": "gsm8k", "kind": "plan",
     <payload>,
     "provenance": {"annotator": "reference", "model": null, "prompt_version": "reference-1",
                    "date": null, "source_sha256": "<sha256 of the benchmark row>"}}

with the payload by kind: `"plan": str`; `"knowledge": str`; `"subproblems": [{"question": str,
"answer": str}, ...]` (in order; each answer is that step's own answer); `"hints": [str, ...],
"total_steps": int` (the reference solution's steps before the first one that states the final
answer, and how many steps the whole solution has). `id` is the benchmark row's id;
`source_sha256` pins the row (problem, answer, solution) the annotation was made from.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import DataError, data_dir
from .leaks import find_leak

KINDS = ("plan", "knowledge", "subproblems", "hints")
BENCHES = ("gsm8k", "math500", "aime24")
ENV_VAR = "SPARK_MATH_PROBES_DIR"
PROVENANCE = ("annotator", "model", "prompt_version", "date", "source_sha256")
PAYLOAD = {
    "plan": ("plan",),
    "knowledge": ("knowledge",),
    "subproblems": ("subproblems",),
    "hints": ("hints", "total_steps"),
}

Row = dict[str, Any]


@dataclass(frozen=True)
class Skip:
    """Why a problem gets no annotation of some kind (`detail`: the particulars, if any)."""

    reason: str
    detail: str = ""


def row_sha256(row: Row) -> str:
    """sha256 of a benchmark row as its JSON Lines file stores it."""
    return hashlib.sha256(json.dumps(row, ensure_ascii=False).encode("utf-8")).hexdigest()


def probes_dir(explicit: str | Path | None = None) -> Path | None:
    """Where annotation files live: `explicit`, else `$SPARK_MATH_PROBES_DIR`, else
    `$SPARK_MATH_DATA_DIR/probes`; None when none of these is set."""
    if explicit:
        return Path(explicit).expanduser()
    if value := os.environ.get(ENV_VAR, "").strip():
        return Path(value).expanduser()
    root = data_dir()
    return root / "probes" if root is not None else None


def file_path(root: Path, bench: str, kind: str) -> Path:
    return root / bench / f"{kind}.jsonl"


def make_row(bench: str, kind: str, source: Row, payload: dict, provenance: dict) -> Row:
    """An annotation row with its keys in the schema's order."""
    prov = {"source_sha256": row_sha256(source)} | provenance
    return {
        "id": source["id"],
        "bench": bench,
        "kind": kind,
        **{key: payload[key] for key in PAYLOAD[kind]},
        "provenance": {key: prov.get(key) for key in PROVENANCE},
    }


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def schema_error(row: object, bench: str, kind: str) -> str | None:
    """Why `row` is not a valid annotation of this bench and kind, or None."""
    if not isinstance(row, dict):
        return "not a JSON object"
    keys = ("id", "bench", "kind", *PAYLOAD[kind], "provenance")
    if tuple(row) != keys:
        return f"keys are {tuple(row)}, expected {keys}"
    if not _is_text(row["id"]) or (row["bench"], row["kind"]) != (bench, kind):
        return f"id/bench/kind are {row['id']!r}/{row['bench']!r}/{row['kind']!r}"
    prov = row["provenance"]
    if not isinstance(prov, dict) or tuple(prov) != PROVENANCE:
        return f"provenance keys must be {PROVENANCE}"
    if not _is_text(prov["annotator"]) or not _is_text(prov["prompt_version"]):
        return "provenance lacks annotator or prompt_version"
    if not all(prov[k] is None or isinstance(prov[k], str) for k in PROVENANCE):
        return "provenance values must be strings or null"
    return _payload_error(row, kind)


def _payload_error(row: Row, kind: str) -> str | None:
    if kind in ("plan", "knowledge"):
        return None if _is_text(row[kind]) else f"{kind} is not a non-empty string"
    if kind == "hints":
        hints, total = row["hints"], row["total_steps"]
        if not isinstance(hints, list) or not hints or not all(_is_text(h) for h in hints):
            return "hints is not a non-empty list of strings"
        if not isinstance(total, int) or isinstance(total, bool) or total <= len(hints):
            return "total_steps must be an integer above the number of hints"
        return None
    subs = row["subproblems"]
    if not isinstance(subs, list) or not subs:
        return "subproblems is not a non-empty list"
    for i, sub in enumerate(subs, 1):
        if not isinstance(sub, dict) or tuple(sub) != ("question", "answer"):
            return f"subproblem {i} must have exactly the keys question, answer"
        if not _is_text(sub["question"]) or not _is_text(sub["answer"]):
            return f"subproblem {i} has an empty question or answer"
    return None


def leak(row: Row, source: Row) -> str | None:
    """Where an annotation states the final answer of its problem (or a subproblem's question its
    own answer), as `field: excerpt`; None if nowhere."""
    answer, problem = source["answer"], source["problem"]
    kind = row["kind"]
    texts: list[tuple[str, str, str]] = []
    if kind in ("plan", "knowledge"):
        texts.append((kind, row[kind], answer))
    elif kind == "hints":
        texts += [(f"hints[{i}]", h, answer) for i, h in enumerate(row["hints"])]
    else:
        for i, sub in enumerate(row["subproblems"]):
            texts.append((f"subproblems[{i}]", sub["question"], sub["answer"]))
            texts.append((f"subproblems[{i}]", sub["question"], answer))
    for field, text, gold in texts:
        if found := find_leak(text, gold, problem):
            return f"{field}: …{found}…"
    return None


def serialise(rows: list[Row]) -> bytes:
    """The file's bytes: one `json.dumps(ensure_ascii=False)` line per row."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def read_file(path: Path) -> list[Row]:
    """Parse an annotation file; DataError naming the line on bad JSON."""
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeError) as exc:
        raise DataError(f"{path}: cannot read it ({exc})") from None
    for number, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {number}: invalid JSON ({exc.msg})") from None
    return rows


def check_rows(rows: list[Row], bench: str, kind: str, sources: dict[str, Row]) -> list[str]:
    """Every problem of annotation rows against the schema, the benchmark and the leak check."""
    problems, seen = [], set()
    for number, row in enumerate(rows, 1):
        error = schema_error(row, bench, kind)
        if error is None:
            source = sources.get(row["id"])
            if row["id"] in seen:
                error = f"duplicate id {row['id']!r}"
            elif source is None:
                error = f"id {row['id']!r} is not a {bench} problem"
            elif row["provenance"]["source_sha256"] != row_sha256(source):
                error = f"{row['id']}: made from another version of the problem (rebuild it)"
            elif found := leak(row, source):
                error = f"{row['id']}: states the answer in {found}"
            seen.add(row["id"])
        if error:
            problems.append(f"line {number}: {error}")
    return problems
