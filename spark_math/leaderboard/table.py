"""The leaderboard, built with pandas: cells per model, benchmark and metric; deltas, conflicts.

Columns are (benchmark, metric) pairs, so a greedy `exact_match` never shares a column with an
`avg@8`. Runs of the same model on the same column that disagree (value, sample count or
decoding) are flagged as conflicts and the latest run is shown; nothing is averaged across runs.
Probe tasks (`spark_<bench>_plan`, ...) are not columns: their gain over the plain task
(`spark_<bench>`) of the same model is reported per axis. When the probe's run has the plain task,
the gain is `gains.probe_gains`' (paired from samples when both tasks logged them); else it is the
difference with the plain task's cell shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd

from .gains import plain_task, probe_gains
from .reported import ReportedRow, Source
from .results import PROBE_AXES, LeaderboardError, Run

MEASURED, REPORTED = "measured", "reported"
NAN = float("nan")
BENCH_ORDER = ("gsm8k", "math500", "math", "aime24", "aime25", "amc23", "olympiadbench", "lineq")
CELL_COLUMNS = [
    "row", "model", "type", "source", "date", "task", "benchmark", "axis", "metric",
    "value", "stderr", "n", "decoding", "gain", "paired",
]  # fmt: skip


@dataclass(frozen=True)
class ConflictingRun:
    """One of the runs behind a conflicting cell."""

    source: str
    date: datetime | None
    value: float
    n: int | None
    decoding: str


@dataclass(frozen=True)
class Conflict:
    """Several runs of one model that disagree on one column."""

    row: str
    column: str
    runs: tuple[ConflictingRun, ...]


@dataclass
class Leaderboard:
    """The built tables, ready to render.

    `cells`: one line per shown cell (plain and probe) with its `column`, `delta` against the
    baseline (plain cells), `conflict` flag, and for probe cells the plain task's score
    (`plain`, `plain_stderr`) and the `gain` over it, `paired` when computed problem by
    problem. `rows`: one line per model in display order with `type`, `source`, `avg`, `tasks`,
    `avg_delta` and `Δ<axis>`, the mean gain per axis.
    """

    cells: pd.DataFrame
    rows: pd.DataFrame
    columns: list[str]
    axes: list[str]
    baseline: str | None
    conflicts: list[Conflict]
    runs: list[Run]
    sources: dict[str, Source]


def build(
    runs: list[Run],
    reported: Sequence[ReportedRow] = (),
    sources: dict[str, Source] | None = None,
    baseline: str | None = None,
) -> Leaderboard:
    """The leaderboard of `runs` plus `reported` rows, with deltas against the `baseline` row."""
    records = [
        {
            "row": run.model, "model": run.model, "type": MEASURED, "source": str(run.path),
            "date": run.date.timestamp() if run.date else NAN, "task": s.task,
            "benchmark": s.benchmark, "axis": s.axis, "metric": s.metric, "value": s.value,
            "stderr": s.stderr, "n": s.n, "decoding": s.decoding,
            "gain": NAN if gain is None or gain.gain is None else 100 * gain.gain,
            "paired": gain is not None and gain.paired,
        }
        for run in runs
        for gains in [probe_gains(run)]
        for s in run.scores
        for gain in [gains.get(s.task)]
    ] + [
        {
            "row": f"{row.model} [reported]", "model": row.model, "type": REPORTED,
            "source": row.source, "date": NAN, "task": "", "benchmark": bench, "axis": "",
            "metric": row.metric, "value": value, "stderr": None, "n": None, "decoding": "",
            "gain": NAN, "paired": False,
        }
        for row in reported
        for bench, value in row.scores.items()
    ]  # fmt: skip
    if not records:
        raise LeaderboardError("no scores to show: pass lm-eval results (or --reported)")
    cells = pd.DataFrame.from_records(records, columns=CELL_COLUMNS)
    cells["stderr"] = cells["stderr"].astype(float)
    cells["column"] = cells["benchmark"] + " " + cells["metric"]
    cells["plain"], cells["plain_stderr"] = _plain(cells, ["source"])
    cells, conflicts = _resolve_conflicts(cells)
    base = _baseline_row(cells, baseline)
    cells["delta"] = _deltas(cells, base)
    # Probes pair with the plain task of their own run, else with the plain cell shown.
    shown, shown_stderr = _plain(cells, [])
    elsewhere = cells["plain"].isna()
    cells.loc[elsewhere, "plain_stderr"] = shown_stderr[elsewhere]
    cells.loc[elsewhere, "plain"] = shown[elsewhere]
    probe = cells["axis"] != ""
    cells[["plain", "plain_stderr"]] = cells[["plain", "plain_stderr"]].where(probe)
    cells["gain"] = cells["gain"].mask(elsewhere, cells["value"] - cells["plain"]).where(probe)
    cells["paired"] = cells["paired"].where(probe)
    plain = cells[cells["axis"] == ""]
    columns = sorted(plain["column"].unique(), key=lambda c: _column_key(plain, c))
    axes = [a for a in PROBE_AXES if a in set(cells["axis"])]
    return Leaderboard(
        cells=cells,
        rows=_rows(cells, axes, base),
        columns=columns,
        axes=axes,
        baseline=base,
        conflicts=conflicts,
        runs=runs,
        sources=sources or {},
    )


def _column_key(plain: pd.DataFrame, column: str) -> tuple:
    bench, metric = plain.loc[plain["column"] == column, ["benchmark", "metric"]].iloc[0]
    rank = BENCH_ORDER.index(bench) if bench in BENCH_ORDER else len(BENCH_ORDER)
    return rank, bench, metric != "exact_match", metric


def _resolve_conflicts(cells: pd.DataFrame) -> tuple[pd.DataFrame, list[Conflict]]:
    """Keep the latest run per (row, benchmark, axis, metric); flag disagreeing duplicates."""
    keys = ["row", "benchmark", "axis", "metric"]
    cells = cells.sort_values("date", kind="stable", na_position="first")
    conflicts, flagged = [], set()
    for key, group in cells.groupby(keys, sort=False):
        facts = group[["value", "n", "decoding"]].astype({"value": float}).round(6).astype(str)
        if len(group) > 1 and len(facts.drop_duplicates()) > 1:
            flagged.add(key)
            conflicts.append(
                Conflict(
                    row=key[0],
                    column=group["column"].iloc[0] + (f" ({key[2]})" if key[2] else ""),
                    runs=tuple(
                        ConflictingRun(
                            r.source, stamp_to_date(r.date), r.value, _int(r.n), r.decoding
                        )
                        for r in group.itertuples()
                    ),
                )
            )
    cells = cells.drop_duplicates(keys, keep="last")
    cells["conflict"] = [tuple(k) in flagged for k in cells[keys].itertuples(index=False)]
    return cells.reset_index(drop=True), conflicts


def stamp_to_date(stamp: float) -> datetime | None:
    """A cell's `date` (epoch seconds, NaN when unknown) as a UTC datetime."""
    return None if pd.isna(stamp) else datetime.fromtimestamp(stamp, tz=timezone.utc)


def _int(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _baseline_row(cells: pd.DataFrame, baseline: str | None) -> str | None:
    if baseline is None:
        return None
    names = cells.drop_duplicates("row")
    match = names[(names["row"] == baseline) | (names["model"] == baseline)]["row"].tolist()
    if len(match) != 1:
        known = ", ".join(names["row"])
        why = "matches several rows" if match else "is no row"
        raise LeaderboardError(f"--baseline {baseline!r} {why}; rows: {known}")
    return match[0]


def _deltas(cells: pd.DataFrame, baseline: str | None) -> pd.Series:
    """Plain cells minus the baseline's cell of the same column (NaN where it has none)."""
    if baseline is None:
        return pd.Series(NAN, index=cells.index)
    plain = cells["axis"] == ""
    base = cells[plain & (cells["row"] == baseline)].set_index("column")["value"]
    return (cells["value"] - cells["column"].map(base)).where(plain & (cells["row"] != baseline))


def _plain(cells: pd.DataFrame, keys: list[str]) -> tuple[pd.Series, pd.Series]:
    """Value and stderr of the cell of each cell's plain task in its row, sharing its `keys`
    (NaN where there is none)."""
    keys = ["row", "task", *keys]
    plain = cells[cells["axis"] == ""].drop_duplicates(keys, keep="last").set_index(keys)
    wanted = cells[keys].assign(task=cells["task"].map(plain_task))
    found = plain[["value", "stderr"]].reindex(pd.MultiIndex.from_frame(wanted))
    return (
        pd.Series(found["value"].to_numpy(), index=cells.index),
        pd.Series(found["stderr"].to_numpy(), index=cells.index),
    )


def _rows(cells: pd.DataFrame, axes: list[str], baseline: str | None) -> pd.DataFrame:
    """One line per model: type, source, average of its plain columns, mean gain per axis."""
    plain = cells[cells["axis"] == ""]
    first = cells.drop_duplicates("row").set_index("row")
    rows = pd.DataFrame(
        {
            "type": first["type"],
            "source": first["source"].where(first["type"] == REPORTED, ""),
            "avg": plain.groupby("row")["value"].mean().reindex(first.index),
            "tasks": plain.groupby("row")["value"].count().reindex(first.index, fill_value=0),
        },
        index=first.index,
    )
    columns = plain.groupby("row")["column"].agg(frozenset)
    rows["avg_delta"] = NAN
    if baseline is not None:
        base_columns = columns.get(baseline)
        same = columns.reindex(rows.index).map(lambda c: c == base_columns)
        rows["avg_delta"] = (rows["avg"] - rows.loc[baseline, "avg"]).where(same)
        rows.loc[baseline, "avg_delta"] = NAN
    for axis in axes:
        rows[f"Δ{axis}"] = cells[cells["axis"] == axis].groupby("row")["gain"].mean()
    order = rows.assign(_m=rows["type"] == REPORTED, _a=-rows["avg"].fillna(-1.0))
    measured_first = order.sort_values(["_m", "_a"], kind="stable")
    reported = order[order["_m"]].index  # reported rows keep the file's order
    return rows.loc[[*measured_first.index[~measured_first["_m"]], *reported]]
