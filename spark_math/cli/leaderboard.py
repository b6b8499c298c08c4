"""`spark-math leaderboard`: a Markdown/CSV/JSON table (and a PNG) from lm-eval results."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer


class Format(str, Enum):
    """Output formats."""

    md = "md"
    csv = "csv"
    json = "json"


def leaderboard(
    results: Annotated[
        list[Path],
        typer.Argument(help="lm-eval results files, or folders searched for results*.json."),
    ],
    reported: Annotated[
        bool,
        typer.Option(
            "--reported",
            help="Add the published scores of spark_math/baselines/reported.yaml (packaged).",
        ),
    ] = False,
    reported_file: Annotated[
        Path | None,
        typer.Option(
            "--reported-file", help="Published scores from this file; implies --reported."
        ),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="Show every cell's delta against this model's row, within its protocol (in "
            "each protocol's table that has the model).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the table here instead of stdout.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also draw the scores as a PNG bar chart.")
    ] = None,
    fmt: Annotated[
        Format | None,
        typer.Option("--format", help="md, csv or json (default: --out's suffix, else md)."),
    ] = None,
) -> None:
    """Tabulate lm-eval results as a leaderboard (Markdown, CSV or JSON) and plot it.

    One table per protocol (spark, sparkle, qwen25-math-cot, lm-eval-fewshot, other) with one row
    per model, one column per benchmark and metric (value ± stderr), the average over the
    columns every row of the table has, deltas against a baseline, probe-axis gains and a footer
    with each run's provenance.
    """
    try:
        from ..baselines import REPORTED
        from ..leaderboard import LeaderboardError, render
        from ..leaderboard import leaderboard as build
    except ImportError as exc:  # pandas, tabulate or matplotlib missing
        _fail(f"{exc}; the leaderboard needs pandas, tabulate and matplotlib")
    if reported and reported_file is None:
        reported_file = REPORTED
    if fmt is None:
        suffix = out.suffix.lstrip(".").lower() if out else ""
        fmt = Format(suffix) if suffix in Format.__members__ else Format.md
    try:
        board = build(results, reported=reported_file, baseline=baseline)
    except LeaderboardError as exc:
        _fail(str(exc))
    for message in board.skipped:
        typer.echo(f"skipped: {message}", err=True)
    text = render(board, fmt.value)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        columns = sum(len(table.columns) for table in board.tables)
        typer.echo(
            f"wrote {out} ({len(board.rows)} rows, {columns} task columns, "
            f"{len(board.tables)} protocols)",
            err=True,
        )
    if plot is not None:
        from ..leaderboard.plot import plot as draw

        typer.echo(f"wrote {draw(board, plot)}", err=True)


def _fail(message: str) -> NoReturn:
    typer.echo(f"spark-math: error: {message}", err=True)
    raise typer.Exit(2)
