"""`spark-math rescore`: re-grade saved generations and show what the grader change did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..rescore import (
    Fields,
    Report,
    RescoreError,
    counterpart,
    file_groups,
    grade_report,
    read_reports,
    verdict_records,
)


def _path_option(what: str) -> Any:
    return typer.Option(help=what + ".", metavar="PATH", show_default=False)


def rescore(
    samples: Annotated[
        list[Path],
        typer.Argument(
            help="lm-eval samples_<task>_<date>.jsonl files (--log_samples), or JSON Lines, "
            "JSON array or JSON object files of records; one report per file.",
            metavar="FILES",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ],
    response: Annotated[
        str | None, _path_option("The response, or a list of several (default: response)")
    ] = None,
    gold: Annotated[
        str | None,
        _path_option(
            "The gold answer (default: gold); a reference solution is reduced to its final "
            "answer by the grader's extractor"
        ),
    ] = None,
    problem: Annotated[
        str | None, _path_option("The problem text, for --gold-from (default: problem)")
    ] = None,
    label: Annotated[
        str | None,
        _path_option(
            "The published verdict: bool, 0/1 or 'True'/'False'; a list gives one per response "
            "(default: correct, when present)"
        ),
    ] = None,
    id_path: Annotated[
        str | None,
        typer.Option("--id", help="The item id (default: id).", metavar="PATH", show_default=False),
    ] = None,
    finish_reason: Annotated[
        str | None,
        _path_option(
            "The finish reason, one or one per response: length/max_tokens mark a truncated "
            "response, stop/eos/end_turn a finished one"
        ),
    ] = None,
    join: Annotated[
        bool, typer.Option("--join", help="Join a list of texts at --response into one response.")
    ] = False,
    label_from_filename: Annotated[
        str | None,
        typer.Option(
            help="CORRECT,WRONG: text in the file names that marks their items as correct or "
            "wrong (--label-from-filename=-correct,-wrong); files whose names differ only in it "
            "make one report.",
            metavar="CORRECT,WRONG",
            show_default=False,
        ),
    ] = None,
    gold_from: Annotated[
        str | None,
        typer.Option(
            help="Look each gold up in this benchmark (gsm8k, math500, math, ...) by problem "
            "text, whitespace normalised; items not found are counted and not graded.",
            metavar="BENCHMARK",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write every item's labels and new verdicts here (JSON Lines)."),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            help="Grading profile for all files (gsm8k, math, aime, ...); default: from each "
            "file's task name or record's task field, else --gold-from's benchmark, else math."
        ),
    ] = None,
    filter_name: Annotated[
        str | None,
        typer.Option(
            "--filter",
            help="lm-eval filter whose recorded verdicts are the labels (default: the first "
            "one in the file).",
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar while grading.")] = True,
) -> None:
    """Grade saved responses with today's grader: scores, agreement with the published verdicts
    (labels) and every disagreement.

    A PATH is a dotted path in each record: keys, list indexes and slices (output.0,
    ground_truth.answer, debug_result[2:-1].content; after a slice the rest applies to each
    element). A * segment stands for every key that holds a response and gives one report per
    key; a * in the other paths takes the same key. See docs/rescoring.md.
    """
    console = Console(width=max(Console().width, 120))
    marks = _marks(label_from_filename)
    try:
        fields = Fields(
            response, gold, problem, label, id_path, finish_reason, join, marks, gold_from
        )
    except RescoreError as exc:
        raise typer.BadParameter(str(exc)) from None
    reports: list[Report] = []
    failed = False
    for files in file_groups(samples, fields):
        try:
            for report in read_reports(files, fields, task, filter_name):
                reports.append(grade_report(report, progress))
                _print_report(console, report)
        except RescoreError as exc:
            typer.echo(f"spark-math: error: {exc}", err=True)
            failed = True
    if out is not None:
        records = list(verdict_records(reports))
        with out.open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        console.print(Text(f"wrote {len(records)} items' verdicts to {out}"))
    if failed:
        raise typer.Exit(1)


def _marks(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    marks = tuple(m.strip() for m in value.split(","))
    if len(marks) != 2 or not all(marks) or marks[0] in marks[1] or marks[1] in marks[0]:
        raise typer.BadParameter(
            f"expected CORRECT,WRONG: two texts, neither inside the other; got {value!r}",
            param_hint="--label-from-filename",
        )
    return marks[0], marks[1]


def _print_report(console: Console, report: Report) -> None:
    responses = sum(len(d.verdicts) for d in report)
    console.print()
    console.print(
        Text(report.title, style="bold"),
        Text(
            (f"  task {report.task}" if report.task else "")
            + f"  profile {report.profile}  n={len(report.docs)}"
            + (f" ({responses} responses)" if responses > len(report.docs) else "")
        ),
    )
    for note in report.notes:
        console.print(Text(f"note: {note}"))
    new = report.new_scores()
    if report.old_keys():
        scores = Table("old metric", "old", "n", "new metric", "new", "change")
        for key, (value, n) in report.old_scores().items():
            name = counterpart(key, new)
            delta = _delta(new[name] - value)
            scores.add_row(Text(key), f"{value:.4f}", str(n), name, f"{new[name]:.4f}", delta)
        shown = {counterpart(key, new) for key in report.old_keys()}
        for name, value in new.items():
            if name not in shown:
                scores.add_row("-", "-", "-", name, f"{value:.4f}", "")
    else:
        scores = Table("new metric", "new")
        for name, value in new.items():
            scores.add_row(name, f"{value:.4f}")
    console.print(scores)
    label_accuracy = report.label_accuracy()
    if label_accuracy is None:
        console.print(f"accuracy {report.accuracy():.4f}; no labels to compare with")
        return
    agreement = report.agreement()
    ours = report.accuracy(labelled=True)
    console.print(
        f"labels ({report.label_name}): accuracy {label_accuracy:.4f}, ours {ours:.4f}; "
        f"agreement {_share(agreement.agree, agreement.responses)} of {agreement.responses} "
        f"responses, {_share(agreement.items_agree, agreement.items)} of {agreement.items} items"
    )
    disagreements = report.disagreements()
    now_correct = sum(d.verdicts[i]["correct"] for d, i in disagreements)
    console.print(
        f"{len(disagreements)} disagreements: {now_correct} label wrong, ours correct; "
        f"{len(disagreements) - now_correct} label correct, ours wrong"
    )
    if not disagreements:
        return
    table = Table("id", "label", "ours", "extracted", "gold", "reason")
    for doc, i in disagreements:
        verdict = doc.verdicts[i]
        table.add_row(
            Text(doc.sample.doc_id + (f" #{i}" if len(doc.verdicts) > 1 else "")),
            _mark(doc.sample.labels[i]),
            _mark(verdict["correct"]),
            _cell(verdict["extracted"]),
            _cell(doc.sample.gold),
            verdict["reason"],
        )
    console.print(table)


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "-"


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
