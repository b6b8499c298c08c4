"""`spark-math probes`: build SPARKLE probe annotations, verify them, report probe results."""

from __future__ import annotations

import json
import math
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from ..data import DataError
from ..probes import ANNOTATOR_KINDS, BENCHES, ENV_VAR, annotations, probes_dir, verify, write
from ._app import typer_app

if TYPE_CHECKING:
    from ..probes.report import Line

app = typer_app(
    no_args_is_help=True,
    help="SPARKLE probes: build annotation files (plans, knowledge, subproblems, hints), "
    "verify them, and report probe results against the plain tasks.",
)


def _fail(message: str) -> NoReturn:
    typer.echo(f"spark-math: error: {message}", err=True)
    raise typer.Exit(1)


@app.command()
def build(
    bench: Annotated[
        list[str], typer.Option("--bench", help=f"Benchmark (repeatable): {', '.join(BENCHES)}.")
    ],
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            help="plan, knowledge, subproblems or hints (repeatable; default: all the "
            "annotator makes).",
        ),
    ] = None,
    annotator: Annotated[
        str, typer.Option(help=f"Who annotates: {', '.join(ANNOTATOR_KINDS)}.")
    ] = "reference",
    out: Annotated[
        Path | None,
        typer.Option(
            help=f"Folder for <bench>/<kind>.jsonl (default: ${ENV_VAR}, else "
            "$SPARK_MATH_DATA_DIR/probes).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Annotate only the first N problems.")] = None,
    date: Annotated[
        str | None,
        typer.Option(
            help="Provenance date (default: none for reference/sparkle, today for gemini)."
        ),
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option(help="sparkle: a local copy (JSON Lines or parquet) instead of the hub."),
    ] = None,
    model: Annotated[str, typer.Option(help="gemini: the model.")] = "gemini-2.5-flash",
    base_url: Annotated[str | None, typer.Option(help="gemini: endpoint override.")] = None,
    api_version: Annotated[str | None, typer.Option(help="gemini: API version.")] = None,
    cache: Annotated[
        str, typer.Option(help="gemini: response cache (file, folder, auto or none).")
    ] = "auto",
    concurrency: Annotated[int, typer.Option(help="gemini: requests in flight.")] = 8,
    thinking_budget: Annotated[
        int | None, typer.Option(help="gemini: thinking tokens (0 off, -1 dynamic).")
    ] = None,
    retries: Annotated[
        int, typer.Option(help="gemini: new requests for a refused (leaking, malformed) answer.")
    ] = 2,
) -> None:
    """Write annotation files (JSON Lines with provenance) and their SHA256SUMS."""
    root = probes_dir(out)
    if root is None:
        _fail(f"no output folder: pass --out, or set {ENV_VAR} or SPARK_MATH_DATA_DIR")
    if annotator not in ANNOTATOR_KINDS:
        _fail(f"unknown annotator {annotator!r}: {', '.join(ANNOTATOR_KINDS)}")
    kinds = kind or list(ANNOTATOR_KINDS[annotator])
    options: dict = {"limit": limit, "date": date, "sparkle_source": source}
    errors: tuple[type[Exception], ...] = (DataError, OSError)
    if annotator == "gemini":
        from ..models.gemini import GeminiError, GeminiLM

        try:
            lm = GeminiLM(
                model=model,
                base_url=base_url,
                api_version=api_version,
                cache=cache,
                concurrency=concurrency,
                thinking_budget=thinking_budget,
            )
        except GeminiError as exc:
            _fail(str(exc))
        today = datetime.now(timezone.utc).date().isoformat()
        options |= {"lm": lm, "model": model, "retries": retries, "date": date or today}
        options["progress"] = lambda line: typer.echo(f"  {line}")
        errors += (GeminiError,)
    for name in bench:
        for what in kinds:
            try:
                built = annotations(name, what, annotator, **options)
                path = write(built, root)
            except errors as exc:
                _fail(str(exc))
            typer.echo(f"{built.summary()}\n  wrote {path}")
    typer.echo(f"use them with {ENV_VAR}={root} (or --metadata '{{\"spark_probes_dir\": ...}}')")


@app.command("verify")
def verify_command(
    directory: Annotated[
        Path | None,
        typer.Argument(
            help=f"Probes folder (default: ${ENV_VAR}, else $SPARK_MATH_DATA_DIR/probes).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check sha256, schema, benchmark match and answer leaks of every annotation file."""
    try:
        problems = verify(directory)
    except DataError as exc:
        _fail(str(exc))
    for problem in problems:
        typer.echo(f"{problem.file}: {problem.message}", err=True)
    if problems:
        _fail(f"{len(problems)} problem(s)")
    typer.echo(f"{probes_dir(directory)}: all annotation files ok")


def _record(line: Line) -> dict:
    """A report line as JSON-ready data; NaN (no failing chain, no common problem) as null."""
    record = {"bench": line.bench, "probe": line.probe} | vars(line) | {"gain": line.gain}
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in record.items()}


def _number(value: float | None, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


@app.command()
def report(
    results_dir: Annotated[Path, typer.Argument(help="Folder of lm-eval --output_path results.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    allow_truncated: Annotated[
        bool, typer.Option(help="Exit 0 even when the backend cut prompts.")
    ] = False,
) -> None:
    """Per model: each probe's score, the plain task's on the same problems, and the gain."""
    from ..leaderboard import LeaderboardError
    from ..probes import report as probe_report

    skipped: list[str] = []
    try:
        runs = probe_report.find_runs(results_dir, skipped)
    except LeaderboardError as exc:
        _fail(str(exc))
    for message in skipped:
        typer.echo(f"skipped: {message}", err=True)
    console = Console(width=None if sys.stdout.isatty() else 120)  # files and pipes: no wrapping
    dump, cut = [], 0
    for run in runs:
        lines = probe_report.lines(run)
        checked = probe_report.truncated(run)
        bad = {t: c for t, c in (checked or {}).items() if c[0]}
        cut += sum(c[0] for c in bad.values())
        if as_json:
            dump.append(
                {
                    "model": run.model,
                    "lines": [_record(line) for line in lines],
                    "truncated": None if checked is None else {t: c[0] for t, c in checked.items()},
                }
            )
            continue
        table = Table("bench", "probe", "n", "score", "plain", "gain", "note", title=run.model)
        for line in lines:
            table.add_row(
                line.bench,
                line.probe,
                str(line.n),
                _number(line.score),
                _number(line.plain),
                _number(line.gain, signed=True),
                line.note,
            )
        console.print(table if lines else f"{run.model}: no probe tasks in these results")
        if checked is None:
            console.print("prompt truncation: not checked (needs an hf/vllm run with samples)")
        for task, (n, total, budget) in bad.items():
            typer.echo(
                f"TRUNCATED: {n} of {total} {task} prompts exceed max_length - max_gen_toks = "
                f"{budget} tokens; the backend cut them from the left and their scores are "
                "not valid",
                err=True,
            )
    if as_json:
        typer.echo(json.dumps(dump, indent=2, allow_nan=False, default=str))
    if cut and not allow_truncated:
        raise typer.Exit(1)
