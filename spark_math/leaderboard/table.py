"""The leaderboard, built with pandas: cells per model, benchmark and metric; deltas, conflicts.

A row is a model under one protocol (`results.parse_task`; a reported row's protocol is its
source's): the same model measured with `spark_gsm8k` and `spark_sparkle_gsm8k` is two rows, and
each protocol gets a table of its own (`ProtocolTable`), so measured and reported rows sit side by
side only when they share a protocol. A row's id (`row`) is `<protocol>: <name>`. Within a table,
columns are (benchmark, metric) pairs, so a greedy `exact_match` never shares a column with an
`avg@8`, and `avg` is the mean over the columns every row of the table has (`avg_columns`; rows
without any plain score are left out of that rule), so averages side by side always cover the
same tasks; a row's other columns are not in it, and a table with no shared column has no
average. `--baseline` deltas compare within the baseline's protocol only.

Runs of the same row on the same column that disagree (value, sample count or decoding) are
flagged as conflicts and the latest run is shown; nothing is averaged across runs.
Probe tasks (`spark_<bench>_plan`, ...) are not columns: their gain over the plain task
(`spark_<bench>`) of the same model is reported per axis. When the probe's run has the plain task,
the gain is `gains.probe_gains`' (paired from samples when both tasks logged them); else it is the
difference with the plain task's cell shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd

from ..harness_tasks.protocols import PROTOCOLS
from .gains import plain_task, probe_gains
from .reported import ReportedRow, Source
from .results import OTHER, PROBE_AXES, LeaderboardError, Run, protocol_text

MEASURED, REPORTED = "measured", "reported"
NAN = float("nan")
BENCH_ORDER = ("gsm8k", "math500", "math", "aime24", "aime25", "amc23", "olympiadbench", "lineq")
# Tables in this order: spark-math's defaults first, tasks of no preset last.
PROTOCOL_ORDER = ("spark", *(p for p in PROTOCOLS if p != "spark"), OTHER)
CELL_COLUMNS = [
    "row", "name", "model", "protocol", "type", "source", "date", "task", "benchmark", "axis",
    "metric", "value", "stderr", "n", "decoding", "gain", "paired",
]  # fmt: skip


def row_id(protocol: str, name: str) -> str:
    """The id of a row: its protocol and its name (`sparkle: SparkleRL-7B-Stage1 [reported]`)."""
    return f"{protocol}: {name}"


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

    row: str  # the row id
    name: str
    protocol: str
    column: str
    runs: tuple[ConflictingRun, ...]


@dataclass(frozen=True)
class ProtocolTable:
    """The rows of one protocol: what is shown side by side."""

    protocol: str  # a PROTOCOLS key, or OTHER
    source: str
    summary: str
    rows: list[str]  # row ids, in display order
    columns: list[str]
    avg_columns: list[str]  # the columns every row with a score has: what `avg` covers
    axes: list[str]
    baseline: str | None  # the row id deltas are against, when --baseline names one here


@dataclass
class Leaderboard:
    """The built tables, ready to render.

    `cells`: one line per shown cell (plain and probe) with its row id, `protocol`, `column`,
    `delta` against its protocol's baseline (plain cells), `conflict` flag, and for probe cells
    the plain task's score (`plain`, `plain_stderr`) and the `gain` over it, `paired` when
    computed problem by problem. `rows`: one line per row id in display order (table by table)
    with `name`, `model`, `protocol`, `type`, `source`, `avg` (over its table's `avg_columns`),
    `tasks` (its own column count), `avg_delta` and `Δ<axis>`, the mean gain per axis.
    `tables`: one per protocol that has rows, in `PROTOCOL_ORDER`. `baseline`: the name asked
    for; `tables[i].baseline` the row it picked in each protocol.
    """

    cells: pd.DataFrame
    rows: pd.DataFrame
    tables: list[ProtocolTable]
    baseline: str | None
    conflicts: list[Conflict]
    runs: list[Run]
    sources: dict[str, Source]
    skipped: list[str] = field(default_factory=list)  # results files that could not be read

    @property
    def columns(self) -> list[str]:
        """Every table's columns, in table order (a name may stand in several tables)."""
        return list(dict.fromkeys(c for table in self.tables for c in table.columns))

    @property
    def axes(self) -> list[str]:
        """The probe axes of any table."""
        present = {a for table in self.tables for a in table.axes}
        return [a for a in PROBE_AXES if a in present]

    @property
    def baselines(self) -> set[str]:
        """The baseline row of each protocol that has one."""
        return {table.baseline for table in self.tables if table.baseline}

    @property
    def protocols(self) -> list[str]:
        return [table.protocol for table in self.tables]


def build(
    runs: list[Run],
    reported: Sequence[ReportedRow] = (),
    sources: dict[str, Source] | None = None,
    baseline: str | None = None,
) -> Leaderboard:
    """The leaderboard of `runs` plus `reported` rows, with deltas against the `baseline` row."""
    records = [
        {
            "row": row_id(s.protocol, run.model), "name": run.model, "model": run.model,
            "protocol": s.protocol, "type": MEASURED, "source": str(run.path),
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
            "row": row_id(row.protocol, f"{row.model} [reported]"),
            "name": f"{row.model} [reported]", "model": row.model, "protocol": row.protocol,
            "type": REPORTED,
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
    bases = _baseline_rows(cells, baseline)
    cells["delta"] = _deltas(cells, bases)
    # Probes pair with the plain task of their own run, else with the plain cell shown.
    shown, shown_stderr = _plain(cells, [])
    elsewhere = cells["plain"].isna()
    cells.loc[elsewhere, "plain_stderr"] = shown_stderr[elsewhere]
    cells.loc[elsewhere, "plain"] = shown[elsewhere]
    probe = cells["axis"] != ""
    cells[["plain", "plain_stderr"]] = cells[["plain", "plain_stderr"]].where(probe)
    cells["gain"] = cells["gain"].mask(elsewhere, cells["value"] - cells["plain"]).where(probe)
    cells["paired"] = cells["paired"].where(probe)
    rows, tables = _rows(cells, bases)
    return Leaderboard(
        cells=cells,
        rows=rows,
        tables=tables,
        baseline=baseline,
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
                    name=group["name"].iloc[0],
                    protocol=group["protocol"].iloc[0],
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


def _baseline_rows(cells: pd.DataFrame, baseline: str | None) -> dict[str, str]:
    """Protocol -> the row `baseline` names there (by row id, name or model): at most one per
    protocol, and at least one in all."""
    if baseline is None:
        return {}
    names = cells.drop_duplicates("row")
    match = names[
        (names["row"] == baseline) | (names["name"] == baseline) | (names["model"] == baseline)
    ]
    several = match[match["protocol"].duplicated(keep=False)]
    if match.empty or not several.empty:
        known = ", ".join(names["row"])
        why = (
            f"matches several rows of one protocol ({', '.join(several['row'])})"
            if not match.empty
            else "is no row"
        )
        raise LeaderboardError(f"--baseline {baseline!r} {why}; rows: {known}")
    return dict(zip(match["protocol"], match["row"], strict=True))


def _deltas(cells: pd.DataFrame, baselines: dict[str, str]) -> pd.Series:
    """Plain cells minus the cell of the same column of their protocol's baseline row (NaN where
    it has none)."""
    if not baselines:
        return pd.Series(NAN, index=cells.index)
    plain = cells["axis"] == ""
    base = cells[plain & cells["row"].isin(baselines.values())]
    base = base.set_index(["protocol", "column"])["value"]
    wanted = pd.MultiIndex.from_frame(cells[["protocol", "column"]])
    reference = pd.Series(base.reindex(wanted).to_numpy(), index=cells.index)
    return (cells["value"] - reference).where(plain & ~cells["row"].isin(baselines.values()))


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


def _rows(
    cells: pd.DataFrame, baselines: dict[str, str]
) -> tuple[pd.DataFrame, list[ProtocolTable]]:
    """One line per row id (type, source, average over its table's shared columns, mean gain
    per axis) and one table per protocol."""
    plain = cells[cells["axis"] == ""]
    first = cells.drop_duplicates("row").set_index("row")
    rows = pd.DataFrame(
        {
            "name": first["name"],
            "model": first["model"],
            "protocol": first["protocol"],
            "type": first["type"],
            "source": first["source"].where(first["type"] == REPORTED, ""),
            "avg": NAN,
            "tasks": plain.groupby("row")["value"].count().reindex(first.index, fill_value=0),
            "avg_delta": NAN,
        },
        index=first.index,
    )
    axes = [a for a in PROBE_AXES if a in set(cells["axis"])]
    for axis in axes:
        rows[f"Δ{axis}"] = cells[cells["axis"] == axis].groupby("row")["gain"].mean()
    tables, order = [], []
    for protocol in sorted(set(rows["protocol"]), key=_protocol_key):
        ids = rows.index[rows["protocol"] == protocol]
        mine = plain[plain["protocol"] == protocol]
        columns = sorted(mine["column"].unique(), key=lambda c: _column_key(mine, c))
        held = mine.groupby("row")["column"].agg(frozenset)
        shared = [c for c in columns if all(c in have for have in held)]
        if shared:
            in_avg = mine[mine["column"].isin(shared)].groupby("row")["value"].mean()
            rows.loc[ids, "avg"] = in_avg.reindex(ids)
        base = baselines.get(protocol)
        if base is not None:
            deltas = rows.loc[ids, "avg"] - rows.loc[base, "avg"]
            rows.loc[ids, "avg_delta"] = deltas.where(ids != base)
        table_rows = rows.loc[ids]
        ranked = table_rows.assign(_a=-table_rows["avg"].fillna(-1.0))
        measured = ranked[ranked["type"] != REPORTED].sort_values("_a", kind="stable").index
        reported = ranked[ranked["type"] == REPORTED].index  # reported rows keep the file's order
        shown = [*measured, *reported]
        order += shown
        source, summary = protocol_text(protocol)
        tables.append(
            ProtocolTable(
                protocol=protocol,
                source=source,
                summary=summary,
                rows=shown,
                columns=columns,
                avg_columns=shared,
                axes=[
                    a for a in axes if a in set(cells.loc[cells["protocol"] == protocol, "axis"])
                ],
                baseline=base,
            )
        )
    return rows.loc[order], tables


def _protocol_key(protocol: str) -> tuple[int, str]:
    known = protocol in PROTOCOL_ORDER
    return (PROTOCOL_ORDER.index(protocol) if known else len(PROTOCOL_ORDER), protocol)
