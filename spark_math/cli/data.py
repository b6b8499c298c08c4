"""`spark-math data`: download benchmark copies for offline use and check them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from .. import data as spark_data
from ..data import DataError
from ..data.store import pullable
from ._app import typer_app

app = typer_app(
    no_args_is_help=True,
    help="Benchmark data: pull offline copies from the hub (for SPARK_MATH_DATA_DIR), verify them.",
)


@app.command()
def pull(
    to: Annotated[Path, typer.Option("--to", help="Folder to write <name>/<split>.jsonl into.")],
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help=f"Pull only this one (repeatable): {', '.join(pullable())}."),
    ] = None,
) -> None:
    """Download and normalise benchmarks from the Hugging Face hub into a folder."""
    try:
        written = spark_data.pull(to, only or None, progress=True)
    except DataError as exc:
        _fail(str(exc))
    pulled = {f"{path.parent.name}/{path.name}" for path in written}
    for problem in spark_data.verify(to, only_present=True):
        if problem.file in pulled:
            typer.echo(f"note: {problem.file} differs from the reference copy: {problem.message}")
    typer.echo(f"wrote {len(written)} files under {to}; use them with SPARK_MATH_DATA_DIR={to}")


@app.command()
def verify(
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="Data folder to check (default: $SPARK_MATH_DATA_DIR).", show_default=False
        ),
    ] = None,
    only_present: Annotated[
        bool, typer.Option("--only-present", help="Do not report benchmarks that are absent.")
    ] = False,
) -> None:
    """Check row counts, schema and sha256 of every file in a data folder, and the annotation
    files under its `probes/` folder."""
    try:
        checks = spark_data.check(directory, only_present=only_present)
    except DataError as exc:
        _fail(str(exc))
    table = Table("file", "rows", "expected", "status")
    for entry in checks:
        table.add_row(
            entry.file,
            "-" if entry.rows is None else str(entry.rows),
            "-" if entry.expected is None else str(entry.expected),
            "[green]ok[/]" if not entry.problems else "[red]problem[/]",
        )
    console = Console()
    console.print(table)
    problems = [p for entry in checks for p in entry.problems]
    probes = (Path(directory) if directory else spark_data.data_dir() or Path()) / "probes"
    if probes.is_dir():  # annotation files: sha256, schema, benchmark match, answer leaks
        from spark_math.probes.build import verify as verify_probes

        found = verify_probes(probes, data_dir=directory)
        console.print(f"probes/: {len(found)} problem(s)" if found else "probes/: ok")
        problems += found
    if problems:
        for problem in problems:
            typer.echo(f"{problem.file}: {problem.message}", err=True)
        _fail(f"{len(problems)} problem(s)")
    console.print(f"all {len(checks)} files ok")


def _fail(message: str) -> NoReturn:
    typer.echo(f"spark-math: error: {message}", err=True)
    raise typer.Exit(1)
