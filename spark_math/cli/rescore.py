"""`spark-math rescore`: re-grade saved generations and show what the grader change did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..rescore import RescoreError, TaskReport, counterpart, verdict_records
from ..rescore import rescore as rescore_files


def rescore(
    samples: Annotated[
        list[Path],
        typer.Argument(
            help="lm-eval samples_<task>_<date>.jsonl files (--log_samples), or JSON Lines "
            "with problem, response and gold fields (optional: correct, id, task).",
            metavar="SAMPLES",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write every document's new verdicts here (JSON Lines)."),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            help="Grading profile for all files (gsm8k, math, aime, ...); default: from each "
            "file's task name, math for JSON Lines without a task field."
        ),
    ] = None,
    filter_name: Annotated[
        str | None,
        typer.Option(
            "--filter",
            help="lm-eval filter whose verdicts changes are listed against (default: the "
            "first one in the file).",
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar while grading.")] = True,
) -> None:
    """Grade saved responses with today's grader: old vs new scores and every changed verdict."""
    console = Console(width=max(Console().width, 120))
    try:
        reports = rescore_files(samples, task, progress)
        for report in reports:
            _print_report(console, report, filter_name)
    except RescoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if out is not None:
        records = list(verdict_records(reports))
        with out.open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        console.print(Text(f"wrote {len(records)} documents' verdicts to {out}"))


def _print_report(console: Console, report: TaskReport, filter_name: str | None) -> None:
    console.print()
    console.print(
        Text(report.source.name, style="bold"),
        Text(f" task {report.task or '-'}  profile {report.profile}  n={len(report.docs)}"),
    )
    new = report.new_scores()
    scores = Table("old metric", "old", "n", "new metric", "new", "change")
    for key, (value, n) in report.old_scores().items():
        name = counterpart(key, new)
        delta = _delta(new[name] - value)
        scores.add_row(Text(key), f"{value:.4f}", str(n), name, f"{new[name]:.4f}", delta)
    shown = {counterpart(key, new) for key in report.old_keys()}
    for name, value in new.items():
        if name not in shown:
            scores.add_row("-", "-", "-", name, f"{value:.4f}", "")
    console.print(scores)
    baseline = report.baseline(filter_name)
    if baseline is None:
        console.print("no recorded verdicts to compare with")
        return
    changed = report.changed(baseline)
    fixed = sum(bool(d.new["exact_match"]) for d in changed)
    console.print(
        f"{len(changed)} verdicts changed against {baseline}: {fixed} now correct, "
        f"{len(changed) - fixed} now wrong"
    )
    if not changed:
        return
    table = Table("doc", "old", "new", "extracted", "gold", "reason")
    for doc in changed:
        verdict = doc.verdicts[0]
        table.add_row(
            Text(doc.sample.doc_id),
            _mark(doc.sample.old[baseline]),
            _mark(verdict["correct"]),
            _cell(verdict["extracted"]),
            _cell(doc.sample.gold),
            verdict["reason"],
        )
    console.print(table)


def _delta(value: float) -> str:
    return f"{value:+.4f}" if value else "="


def _mark(value: float | bool) -> str:
    return "correct" if value else "wrong"


def _cell(text: str | None, width: int = 40) -> Text:
    """Answer text as-is (no rich markup), on one line, cut at `width`."""
    if text is None:
        return Text("-")
    text = text.replace("\n", " ")
    return Text(text if len(text) <= width else text[: width - 1] + "…")
