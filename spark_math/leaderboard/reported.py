"""Published scores (the packaged `spark_math/baselines/reported.yaml`, or a user's own): rows
marked "reported", each with its source.

Every source names the protocol preset (`spark_math.harness_tasks.protocols.PROTOCOLS`) its
numbers were measured under, so the leaderboard shows its rows only beside measured rows of the
same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..harness_tasks.protocols import PROTOCOLS
from .results import LeaderboardError, parse_task

_SOURCE_KEYS = ("citation", "settings", "protocol")  # required; "notes" is optional
_ROW_KEYS = ("model", "source", "metric", "scores")


@dataclass(frozen=True)
class Source:
    """Where reported numbers come from and how they were measured there."""

    key: str
    citation: str
    settings: str
    protocol: str  # a PROTOCOLS key
    notes: str = ""


@dataclass(frozen=True)
class ReportedRow:
    """One model's published scores (percent) on benchmarks named as spark tasks are."""

    model: str
    source: str
    protocol: str  # its source's
    metric: str
    scores: dict[str, float]


def load_reported(path: Path) -> tuple[dict[str, Source], list[ReportedRow]]:
    """Sources and rows of a reported-scores file, checked; errors name the file and entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LeaderboardError(f"{path}: cannot read reported scores ({exc})") from None
    if not isinstance(data, dict) or set(data) != {"sources", "rows"}:
        raise LeaderboardError(f"{path}: expected exactly the keys 'sources' and 'rows'")
    sources = {
        key: Source(key=key, **_fields(path, f"source {key!r}", body, _SOURCE_KEYS, ("notes",)))
        for key, body in (data["sources"] or {}).items()
    }
    for source in sources.values():
        if source.protocol not in PROTOCOLS:
            raise LeaderboardError(
                f"{path}: source {source.key!r} has unknown protocol {source.protocol!r}; "
                f"known: {', '.join(PROTOCOLS)}"
            )
    rows = []
    for i, body in enumerate(data["rows"] or []):
        fields = _fields(path, f"row {i + 1}", body, _ROW_KEYS)
        where = f"{path}: row {i + 1} ({fields['model']})"
        if fields["source"] not in sources:
            raise LeaderboardError(f"{where}: unknown source {fields['source']!r}")
        scores = fields["scores"]
        if not isinstance(scores, dict) or not scores:
            raise LeaderboardError(f"{where}: 'scores' must map benchmarks to percentages")
        protocol = PROTOCOLS[sources[fields["source"]].protocol]
        for bench, value in scores.items():
            name = str(bench)
            if name.startswith("spark_") or parse_task(protocol.prefix + name)[1:] != (name, ""):
                raise LeaderboardError(
                    f"{where}: {bench!r} is not a benchmark name (write gsm8k, not spark_gsm8k "
                    f"or gsm8k_plan)"
                )
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not number or not 0 <= value <= 100:
                raise LeaderboardError(f"{where}: {bench} = {value!r} is not a percentage")
        rows.append(
            ReportedRow(
                model=str(fields["model"]),
                source=str(fields["source"]),
                protocol=protocol.name,
                metric=str(fields["metric"]),
                scores={str(k): float(v) for k, v in scores.items()},
            )
        )
    return sources, rows


def _fields(
    path: Path, what: str, body: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    """`body` as a mapping with all `required` keys set and no keys beyond `optional`."""
    if not isinstance(body, dict):
        raise LeaderboardError(f"{path}: {what} must be a mapping")
    unknown = set(body) - {*required, *optional}
    if unknown:
        raise LeaderboardError(f"{path}: {what} has unknown keys {sorted(unknown)}")
    missing = [k for k in required if not body.get(k)]
    if missing:
        raise LeaderboardError(f"{path}: {what} lacks {missing}")
    return body
