"""Render a leaderboard as Markdown (tables with tabulate), CSV (one line per cell) or JSON.

The Markdown has one table per protocol, headed by the protocol's name, source and settings, so
rows of different protocols never share a table. The CSV and JSON hold every row together: each
line and row names its protocol, and the JSON says when its rows span several protocols
(`mixed_protocols`, `note`).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import pandas as pd
from tabulate import tabulate

from ..harness_tasks.protocols import PROTOCOLS
from .gains import plain_task
from .results import OTHER, Run
from .table import REPORTED, Leaderboard, ProtocolTable, stamp_to_date

MISSING = "—"
FORMATS = ("md", "csv", "json")


def render(board: Leaderboard, fmt: str) -> str:
    """The leaderboard as `md`, `csv` or `json` text."""
    if fmt == "md":
        return markdown(board)
    if fmt == "csv":
        return to_csv(board)
    if fmt == "json":
        return json.dumps(to_json(board), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def cell_text(value: Any, stderr: Any = None, delta: Any = None, conflict: bool = False) -> str:
    """`81.0 ± 1.2 (+37.0)`; a conflicting cell ends in ⚠; a missing one is a dash."""
    if _num(value) is None:
        return MISSING
    text = f"{value:.1f}"
    if _num(stderr) is not None:
        text += f" ± {stderr:.1f}"
    if _num(delta) is not None:
        text += f" ({delta:+.1f})"
    return text + (" ⚠" if conflict else "")


def _date(date: datetime | None) -> str:
    return MISSING if date is None or pd.isna(date) else date.strftime("%Y-%m-%d %H:%M UTC")


def _source_numbers(board: Leaderboard) -> dict[str, int]:
    used = board.rows.loc[board.rows["type"] == REPORTED, "source"]
    return {key: i for i, key in enumerate(dict.fromkeys(used), 1)}


def main_table(board: Leaderboard, table: ProtocolTable) -> pd.DataFrame:
    """One protocol's table as text cells: model, type, one column per task, avg, axis gains."""
    plain = board.cells[board.cells["axis"] == ""].set_index(["row", "column"])
    numbers = _source_numbers(board)
    lines = []
    for row in table.rows:
        info = board.rows.loc[row]
        kind = f"reported [{numbers[info['source']]}]" if info["type"] == REPORTED else info["type"]
        if row == table.baseline:
            kind += " (baseline)"
        line = {"model": info["name"], "type": kind}
        for column in table.columns:
            if (row, column) in plain.index:
                c = plain.loc[(row, column)]
                line[column] = cell_text(c["value"], c["stderr"], c["delta"], c["conflict"])
            else:
                line[column] = MISSING
        line["avg"] = cell_text(info["avg"], delta=info["avg_delta"])
        line["tasks"] = str(info["tasks"])
        for axis in table.axes:
            gain = _num(info[f"Δ{axis}"])
            line[f"Δ{axis}"] = MISSING if gain is None else f"{gain:+.1f}"
        lines.append(line)
    return pd.DataFrame(lines)


def avg_note(table: ProtocolTable) -> str:
    """Which columns a table's `avg` covers."""
    if not table.avg_columns:
        return (
            "`avg`: none, as no column is shared by every row here; averages over different "
            "tasks are not shown side by side."
        )
    every = "the only column" if len(table.avg_columns) == 1 else "the columns"
    names = ", ".join(f"`{c}`" for c in table.avg_columns)
    text = f"`avg`: mean over {names}, {every} every row here has"
    if len(table.avg_columns) < len(table.columns):
        text += "; a row's other columns are not in it (`tasks` counts all of its columns)"
    return text + "."


def probe_table(board: Leaderboard) -> pd.DataFrame:
    """Probe scores with their gain over the plain task: one line per row and plain task."""
    probes = board.cells[board.cells["axis"] != ""]
    plain = board.cells[board.cells["axis"] == ""].drop_duplicates(["row", "task"], keep="last")
    columns = plain.set_index(["row", "task"])["column"]
    lines = []
    for (row, task), group in probes.groupby(["row", probes["task"].map(plain_task)], sort=False):
        first = group.iloc[0]
        line = {
            "model": first["name"],
            "protocol": first["protocol"],
            "task": columns.get((row, task), task),
            "plain": cell_text(first["plain"], first["plain_stderr"]),
        }
        for axis in board.axes:
            hit = group[group["axis"] == axis]
            if hit.empty:
                line[axis] = MISSING
            else:
                c = hit.iloc[0]
                line[axis] = cell_text(c["value"], delta=c["gain"], conflict=c["conflict"])
        lines.append(line)
    return pd.DataFrame(lines)


def _run_order(run: Run) -> tuple[str, float]:
    return run.model, run.date.timestamp() if run.date else 0.0


def run_records(board: Leaderboard) -> list[dict[str, Any]]:
    """Provenance per run: file, versions, commit, date, backend, template, limit, decoding."""
    return [
        {
            "model": run.model,
            "protocols": ", ".join(run.protocols),
            "file": str(run.path),
            "lm-eval": run.lm_eval_version,
            "spark-math": run.spark_math_version,
            "commit": run.git_hash,
            "date": run.date,
            "backend": run.backend,
            "model_args": run.model_args,
            "chat template": run.chat_template,
            "limit": run.limit,
            "decoding": run.decoding,
        }
        for run in sorted(board.runs, key=_run_order)
    ]


def runs_table(board: Leaderboard) -> pd.DataFrame:
    """The run records as text, for the Markdown footer (model_args left to the JSON)."""
    frame = pd.DataFrame(run_records(board)).drop(columns="model_args")
    frame["date"] = frame["date"].map(_date)
    frame["limit"] = frame["limit"].map(lambda v: MISSING if _num(v) is None else f"{v:g}")
    frame["chat template"] = frame["chat template"].fillna("none")
    return frame.fillna(MISSING)


def _md(frame: pd.DataFrame) -> str:
    return tabulate(
        frame, headers="keys", tablefmt="github", showindex=False, disable_numparse=True
    )


def protocol_heading(table: ProtocolTable) -> list[str]:
    """The heading and settings line of a protocol's table."""
    if table.protocol == OTHER:
        what = f"{table.summary[0].upper()}{table.summary[1:]}."
    else:
        what = f"Tasks `{PROTOCOLS[table.protocol].prefix}<benchmark>`: {table.summary}."
    return [f"### Protocol `{table.protocol}`: {table.source}", "", what, ""]


def markdown(board: Leaderboard) -> str:
    """The whole leaderboard as Markdown: a table per protocol, probe gains, conflicts, footer."""
    out = ["## Leaderboard", ""]
    notes = [
        "One table per protocol: a row is a model under one protocol, and rows measured or "
        "reported under different protocols are never in one table. Scores in percent, "
        "`value ± stderr` as lm-eval reports it; a column is one benchmark and one metric "
        "(`avg@k`: mean accuracy over k samples; `exact_match`: the first sample, greedy unless "
        "the run sampled). `avg` is the mean over the columns every row of its table has (named "
        "under each table), so the averages side by side cover the same tasks; `tasks` counts "
        "the row's own columns."
    ]
    if board.baseline:
        notes.append(
            f"In parentheses: percentage points against `{board.baseline}`, within its protocol "
            "only (a table without that model has no deltas)."
        )
    if board.axes:
        notes.append(
            "`Δ<axis>`: mean gain of the probe over the plain task, in points; paired (both "
            "scored on the problems both scored) when the run logged samples of both. The "
            "subproblems probe scores SSR, the share of problems whose whole chain is solved."
        )
    if any(board.rows["type"] == REPORTED):
        notes.append("Rows marked *reported* are published numbers, not measured here.")
    out += [" ".join(notes), ""]
    for table in board.tables:
        out += protocol_heading(table)
        out += [avg_note(table), "", _md(main_table(board, table)), ""]
    if board.axes:
        out += ["### Probe-axis gains", "", "Probe score (gain over the plain task of the same "
                "row, so of the same protocol). A paired gain is over the problems both tasks "
                "scored, so it can differ from the probe score minus `plain`.", ""]  # fmt: skip
        out += [_md(probe_table(board)), ""]
    if board.conflicts:
        out += ["### Conflicting runs", "", "Cells marked ⚠ come from runs that disagree; "
                "the latest is shown, none are averaged.", ""]  # fmt: skip
        for conflict in board.conflicts:
            runs = "; ".join(
                f"{r.value:.1f} (n={r.n if r.n is not None else '?'}, {r.decoding}, "
                f"{_date(r.date)}, `{r.source}`)"
                for r in conflict.runs
            )
            out.append(f"- **{conflict.name}** (`{conflict.protocol}`), {conflict.column}: {runs}")
        out.append("")
    if board.runs:
        out += ["### Runs", "", _md(runs_table(board)), ""]
    numbers = _source_numbers(board)
    if numbers:
        out += ["### Reported sources", ""]
        for key, i in numbers.items():
            source = board.sources[key]
            note = f" {source.notes}" if source.notes else ""
            out.append(
                f"{i}. {source.citation} Protocol: `{source.protocol}`. "
                f"Settings: {source.settings}.{note}"
            )
        out.append("")
    return "\n".join(out)


def to_csv(board: Leaderboard) -> str:
    """One line per cell (plain and probe) with its protocol, delta, gain and conflict flag."""
    cells = board.cells.rename(columns={"name": "model", "model": "model_name"})
    columns = [
        "model", "protocol", "type", "source", "benchmark", "axis", "metric", "value", "stderr",
        "n", "delta", "plain", "gain", "paired", "conflict", "decoding",
    ]  # fmt: skip
    return cells[columns].to_csv(index=False, float_format="%.4f")


def _clean(value: Any) -> Any:
    """JSON-safe scalars: NaN and missing become null, numpy numbers plain Python."""
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def to_json(board: Leaderboard) -> dict[str, Any]:
    """The leaderboard as a JSON-ready dict (percent values; null where nothing is known). Every
    row names its protocol; `protocols` says per protocol what its table holds."""
    rows = []
    for row, info in board.rows.iterrows():
        mine = board.cells[board.cells["row"] == row]
        rows.append(
            {
                "model": info["name"],
                "protocol": info["protocol"],
                "type": info["type"],
                "source": info["source"] or None,
                "baseline": row in board.baselines,
                "avg": _clean(info["avg"]),
                "avg_delta": _clean(info["avg_delta"]),
                "tasks": int(info["tasks"]),
                "axis_gains": {a: _clean(info[f"Δ{a}"]) for a in board.axes},
                "cells": [
                    {k: _clean(stamp_to_date(v) if k == "date" else v) for k, v in cell.items()}
                    for cell in mine.drop(columns=["row", "name", "type"]).to_dict("records")
                ],
            }
        )
    mixed = len(board.tables) > 1
    return {
        "unit": "percent",
        "baseline": board.baseline,
        "mixed_protocols": mixed,
        "note": (
            f"rows span {len(board.tables)} protocols ({', '.join(board.protocols)}): compare "
            "scores and averages only between rows of the same protocol"
            if mixed
            else f"every row is under the protocol {board.protocols[0]!r}"
        ),
        "protocols": {
            t.protocol: {
                "source": t.source,
                "summary": t.summary,
                "columns": t.columns,
                "avg_columns": t.avg_columns,
                "axes": t.axes,
                "baseline": None if t.baseline is None else board.rows.loc[t.baseline, "name"],
            }
            for t in board.tables
        },
        "axes": board.axes,
        "rows": rows,
        "conflicts": [
            {
                "model": c.name,
                "protocol": c.protocol,
                "column": c.column,
                "runs": [{k: _clean(v) for k, v in vars(r).items()} for r in c.runs],
            }
            for c in board.conflicts
        ],
        "runs": [{k: _clean(v) for k, v in line.items()} for line in run_records(board)],
        "sources": {k: vars(s) for k, s in board.sources.items() if k in _source_numbers(board)},
    }
