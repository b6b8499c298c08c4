"""The `sparkle` annotator: SPARKLE's own annotations (hub data set
`sparkle-reasoning/sparkle_preview`, made by GPT-4.1 from the reference solutions) in our format.

The hub has one row per subproblem: `problem ID`, `problem`, `answer` (list), `planning`,
`knowledge`, `subproblem_id`, `subproblem_question`, `subproblem_answer`, `total_subproblems`, ...
Rows are grouped by `problem ID` and matched to our benchmark rows by problem text (whitespace
collapsed), since SPARKLE's ids are its own. SPARKLE has no hints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..data import DataError
from .schema import Row, Skip

HUB = "sparkle-reasoning/sparkle_preview"
CONFIGS = {"gsm8k": "gsm8k", "math500": "math500", "aime24": "aime24"}
KINDS = ("plan", "knowledge", "subproblems")
MODEL = "gpt-4.1"
PROMPT_VERSION = "sparkle_preview"


def load(bench: str, source: str | Path | None = None) -> list[dict[str, Any]]:
    """SPARKLE's rows for a benchmark: from `source` (JSON Lines or parquet) or from the hub."""
    try:
        if source is not None:
            path = Path(source)
            if path.suffix == ".parquet":
                import datasets

                return [dict(r) for r in datasets.Dataset.from_parquet(str(path))]
            with path.open(encoding="utf-8") as lines:
                return [json.loads(line) for line in lines if line.strip()]
        import datasets

        return [dict(r) for r in datasets.load_dataset(HUB, CONFIGS[bench], split="test")]
    except (OSError, ValueError) as exc:
        where = source or f"{HUB} ({CONFIGS[bench]})"
        raise DataError(f"cannot read SPARKLE annotations from {where}: {exc}") from None


def _key(problem: str) -> str:
    return " ".join(problem.split())


def _text(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v).strip() for v in value if str(v).strip())
    return "" if value is None else str(value).strip()


def _answer(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return str(value[0]).strip() if value else ""
    return _text(value)


def payloads(kind: str, sparkle_rows: Iterable[dict], rows: list[Row]) -> dict[str, dict | Skip]:
    """Our benchmark id -> the payload made from SPARKLE's rows for that problem (or why not).

    SPARKLE problems that match none of `rows` come back under `sparkle:<problem ID>`.
    """
    ours = {_key(row["problem"]): row["id"] for row in rows}
    groups: dict[str, list[dict]] = {}
    for item in sparkle_rows:
        groups.setdefault(str(item["problem ID"]), []).append(item)
    out: dict[str, dict | Skip] = {}
    for sparkle_id, group in groups.items():
        row_id = ours.get(_key(group[0]["problem"]))
        if row_id is None:
            out[f"sparkle:{sparkle_id}"] = Skip("no matching problem in the benchmark")
            continue
        out[row_id] = _payload(kind, group)
    return out


def _payload(kind: str, group: list[dict]) -> dict | Skip:
    if kind in ("plan", "knowledge"):
        text = _text(group[0].get("planning" if kind == "plan" else "knowledge"))
        return {kind: text} if text else Skip(f"SPARKLE has no {kind} for it")
    steps = sorted(group, key=lambda r: int(r["subproblem_id"]))
    subs = [
        {"question": _text(r["subproblem_question"]), "answer": _answer(r["subproblem_answer"])}
        for r in steps
    ]
    total = group[0].get("total_subproblems")
    if total is not None and int(total) != len(subs):
        return Skip(f"incomplete chain ({len(subs)} of {total} subproblems)")
    if not all(s["question"] and s["answer"] for s in subs):
        return Skip("a subproblem without question or answer")
    return {"subproblems": subs}
