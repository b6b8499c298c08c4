"""`spark-math baselines run`: run the declared matrix of models x tasks through lm-eval."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from ._app import typer_app

app = typer_app(
    no_args_is_help=True,
    help="Baselines: run the models of a matrix (default: the packaged one) through lm-eval.",
)


@app.callback()
def main() -> None:
    """Baselines: run the models of a matrix (default: the packaged one) through lm-eval."""


@app.command()
def run(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Run only this entry (repeatable), e.g. tiny-demo."),
    ] = None,
    matrix: Annotated[
        Path | None,
        typer.Option(
            "--matrix", help="Matrix file (default: spark_math/baselines/matrix.yaml, packaged)."
        ),
    ] = None,
    results: Annotated[
        Path, typer.Option("--results", help="Folder for the results, one subfolder per entry.")
    ] = Path("out/baselines"),
    force: Annotated[
        bool, typer.Option("--force", help="Run entries even when their results exist.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the lm_eval commands, run nothing.")
    ] = False,
) -> None:
    """Run each matrix entry with lm_eval, skipping those whose results exist (resumable)."""
    from ..baselines import MATRIX
    from ..baselines.matrix import MatrixError, load_matrix
    from ..baselines.runner import run_matrix

    path = matrix or MATRIX
    try:
        entries = load_matrix(path)
    except MatrixError as exc:
        _fail(str(exc))
    if only:
        unknown = sorted(set(only) - {e.name for e in entries})
        if unknown:
            _fail(f"{path}: no entries {unknown}; entries: {', '.join(e.name for e in entries)}")
        entries = [e for e in entries if e.name in only]
    outcomes = run_matrix(entries, results, force=force, dry_run=dry_run, echo=typer.echo)
    failed = [o.name for o in outcomes if o.status == "failed"]
    typer.echo(
        f"{len(outcomes)} entries: "
        + ", ".join(f"{o.name} {o.status}" for o in outcomes)
        + (f"; results in {results}" if not dry_run else "")
    )
    if failed:
        raise typer.Exit(1)


def _fail(message: str) -> NoReturn:
    typer.echo(f"spark-math: error: {message}", err=True)
    raise typer.Exit(2)
