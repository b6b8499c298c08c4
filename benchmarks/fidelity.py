"""Scoring fidelity: re-score published model generations with our grader and with math-verify.

The five sets in ../shared/fidelity (see its README; SPARK_MATH_FIDELITY_DIR overrides the folder)
are read with the same field mappings that docs/rescoring.md gives for `spark-math rescore`, and
graded by the same code. Per source and model it prints n, the published accuracy (the authors'
labels, ToRA's `.metrics` Mean score, ZeroEval's summary Acc), ours, math-verify's, our agreement
with the labels where there are labels, and the disagreements grouped by cause (the label and our
verdict's reason). `--out` (default out/fidelity.json) receives the rows and every disagreement.

    SPARK_MATH_DATA_DIR=../shared/datasets python benchmarks/fidelity.py [--limit 150]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

from spark_math.rescore import (
    Agreement,
    Fields,
    Report,
    file_groups,
    grade_report,
    read_records,
    read_reports,
)

FIDELITY_DIR = Path(
    os.environ.get("SPARK_MATH_FIDELITY_DIR")
    or Path(__file__).resolve().parents[2] / "shared/fidelity"
)
TAIL = 400


def _file_stem(report: Report) -> str:
    return report.files[0].stem


_FIRST_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def tora_rule(record: dict[str, Any]) -> bool:
    """ToRA's verdict, rebuilt: its own extraction `pred` equals `gt` as a number, within
    `math_equal`'s relative tolerance 1e-4, also as a percentage (gt, gt/100, gt*100)."""
    try:
        pred = float(str(record["pred"][0]).replace(",", ""))
        gold = float(str(record["gt"]).replace(",", ""))
    except (ValueError, IndexError, TypeError):
        return False
    return any(math.isclose(pred, g, rel_tol=1e-4) for g in (gold, gold / 100, gold * 100))


def zeroeval_rule(record: dict[str, Any]) -> bool:
    """ZeroEval's verdict, rebuilt: the `answer` of the first JSON object that has one (else a
    loose `"answer": value`), less `$` and `,`, whose first number equals the gold's first number
    (a fraction answer compared as its value)."""
    answer = _zeroeval_answer(record["output"][0])
    if answer is None:
        return False
    numbers = []
    for text in (answer, record["answer"].replace("#", "")):
        text = text.replace("$", "").replace(",", "").strip()
        fraction = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)", text)
        if fraction and float(fraction.group(2)):
            numbers.append(float(fraction.group(1)) / float(fraction.group(2)))
            continue
        first = _FIRST_NUMBER.search(text)
        numbers.append(float(first.group()) if first else None)
    return None not in numbers and numbers[0] == numbers[1]


def _zeroeval_answer(output: str) -> str | None:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", output):
        try:
            value, _ = decoder.raw_decode(output, match.start())
        except ValueError:
            continue
        if isinstance(value, dict) and "answer" in value:
            return str(value["answer"])
    loose = re.search(r'"answer"\s*:\s*"?([^"\n]*)', output)
    return loose.group(1) if loose else None


@dataclass(frozen=True)
class Source:
    """One published set: its files (globs), grading profile, field mapping, where its published
    accuracy is ("labels", "metrics" or "summary"), how a report names its model, and for sets
    without per-item labels the authors' scorer rebuilt (`rule`, on each raw record), whose
    verdicts stand in for labels."""

    files: tuple[str, ...]
    task: str
    fields: Fields
    published: str
    model: Callable[[Report], str] = _file_stem
    rule: Callable[[dict[str, Any]], bool] | None = None


def _zeroeval(folder: str, task: str) -> Source:
    """ZeroEval's results for one benchmark: a JSON array per model, `{folder}.summary.json`."""
    fields = Fields(response="output.0", gold="answer", id="id")
    return Source((f"zeroeval/{folder}/*.json",), task, fields, "summary", rule=zeroeval_rule)


SOURCES: dict[str, Source] = {
    "openai": Source(
        ("openai-gsm8k/example_model_solutions.jsonl",),
        "gsm8k",
        Fields(response="*.solution", label="*.is_correct", gold="ground_truth"),
        "labels",
        lambda report: str(report.system),
    ),
    "tora": Source(
        ("tora-gsm8k/*/test_tora_*.jsonl",),
        "gsm8k",
        Fields(response="code.0", gold="gt", id="idx"),
        "metrics",
        lambda report: report.files[0].parent.name,
        tora_rule,
    ),
    "mathcoder": Source(
        ("mathcoder-gsm8k/*-correct.jsonl", "mathcoder-gsm8k/*-wrong.jsonl"),
        "gsm8k",
        Fields(
            response="debug_result[2:-1].content",
            join=True,
            label_from_filename=("-correct", "-wrong"),
            gold="ground_truth.answer",
            id="id",
        ),
        "labels",
        lambda report: "MathCoder-L-7b",
    ),
    "qwen": Source(
        ("qwen25math-cot100/math_cot_100.jsonl",),
        "math",
        Fields(response="code", label="score", gold="gt", id="idx"),
        "labels",
    ),
    "zeroeval-gsm": _zeroeval("gsm", "gsm8k"),
    "zeroeval-math-l5": _zeroeval("math-l5", "math"),
}


@dataclass
class Row:
    """One model of one source, re-scored."""

    source: str
    model: str
    items: int
    responses: int
    published: float | None
    ours: float
    math_verify: float | None
    agreement: Agreement | None
    published_as: str = ""
    notes: list[str] = field(default_factory=list)
    disagreements: list[dict[str, Any]] = field(default_factory=list)


def match_name(name: str, names: Sequence[str]) -> str | None:
    """The published name that a file's model name stands for: the same name (any case), else the
    only one whose name tokens include all of the file name's ("deepseek-chat" ->
    "deepseek-v2-chat-0628")."""
    by_case = {n.lower(): n for n in names}
    if name.lower() in by_case:
        return by_case[name.lower()]

    def tokens(text: str) -> set[str]:
        return set(re.split(r"[-_.@/ ]+", text.lower())) - {""}

    candidates = [n for n in names if tokens(name) <= tokens(n)]
    return candidates[0] if len(candidates) == 1 else None


def published_accuracy(source: Source, report: Report, model: str) -> tuple[float | None, str]:
    """The authors' accuracy for one report, and the name it was published under."""
    if source.published == "labels":
        return report.label_accuracy(), model
    first = report.files[0]
    if source.published == "metrics":
        text = first.with_suffix(".metrics").read_text()
        match = re.search(r"Mean score:\s*\[([\d.]+)\]", text)
        return (float(match.group(1)) / 100 if match else None), model
    summary = json.loads(first.parent.with_name(first.parent.name + ".summary.json").read_text())
    acc = {entry["Model"]: float(entry["Acc"]) / 100 for entry in summary}
    name = match_name(model, list(acc))
    return (acc[name] if name else None), name or "unmatched"


def math_verify_verdicts(report: Report) -> list[list[bool]]:
    """math-verify's verdict on every response (default configs, its own timeouts)."""
    from math_verify import parse, verify

    verdicts = []
    for doc in report:
        gold = doc.sample.gold
        try:
            parsed_gold = parse(f"${gold}$") or parse(f"\\boxed{{{gold}}}")
        except Exception:  # a crash counts as "not correct", as a caller would treat it
            parsed_gold = []
        row = []
        for response in doc.sample.responses:
            try:
                row.append(bool(verify(parsed_gold, parse(response))))
            except Exception:
                row.append(False)
        verdicts.append(row)
    return verdicts


def sample_items(report: Report, limit: int | None, seed: int = 0) -> None:
    """Keep a fixed random sample of `limit` items (file order kept)."""
    if limit is not None and len(report.samples) > limit:
        keep = sorted(random.Random(seed).sample(range(len(report.samples)), limit))
        report.samples = [report.samples[i] for i in keep]


def score_source(
    name: str, root: Path = FIDELITY_DIR, limit: int | None = None, math_verify: bool = True
) -> list[Row]:
    """Re-score every model of one source."""
    source = SOURCES[name]
    paths = [path for pattern in source.files for path in sorted(root.glob(pattern))]
    if not paths:
        raise FileNotFoundError(f"{root}: no {', '.join(source.files)}")
    rows = []
    for files in file_groups(paths, source.fields):
        for report in read_reports(files, source.fields, source.task):
            if source.rule is not None:
                _label_by_rule(report, source)
            sample_items(report, limit)
            grade_report(report)
            model = source.model(report)
            published, published_as = published_accuracy(source, report, model)
            mv = math_verify_verdicts(report) if math_verify else None
            agreement = report.agreement() if report.label_name else None
            rows.append(
                Row(
                    name,
                    model,
                    len(report.docs),
                    sum(len(d.verdicts) for d in report),
                    published,
                    report.accuracy(),
                    sum(map(sum, mv)) / sum(map(len, mv)) if mv else None,
                    agreement,
                    published_as,
                    report.notes,
                    _disagreements(name, model, report, mv),
                )
            )
    return rows


def _label_by_rule(report: Report, source: Source) -> None:
    """Label every item with the rebuilt verdict of the authors' scorer."""
    id_field = source.fields.id or "id"
    verdicts = {
        str(record[id_field]): source.rule(record)
        for path in report.files
        for _, record in read_records(path, source.fields)
    }
    for sample in report.samples:
        sample.labels = [verdicts[sample.doc_id]]
    report.label_name = "authors' scorer (rebuilt)"


def _disagreements(
    source: str, model: str, report: Report, mv: list[list[bool]] | None
) -> list[dict[str, Any]]:
    index = {id(doc): n for n, doc in enumerate(report.docs)}
    items = []
    for doc, i in report.disagreements():
        verdict = doc.verdicts[i]
        items.append(
            {
                "source": source,
                "model": model,
                "id": doc.sample.doc_id + (f"#{i}" if len(doc.verdicts) > 1 else ""),
                "gold": doc.sample.gold,
                "label": doc.sample.labels[i],
                "ours": verdict["correct"],
                "extracted": verdict["extracted"],
                "reason": verdict["reason"],
                "math_verify": mv[index[id(doc)]][i] if mv else None,
                "cause": cause(doc.sample.labels[i], verdict["reason"]),
                "response_tail": doc.sample.responses[i][-TAIL:],
            }
        )
    return items


def cause(label: bool, reason: str) -> str:
    """A disagreement's cause: the label against our verdict's reason."""
    return f"label {'correct' if label else 'wrong'}, ours {reason}"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def summary_table(rows: Sequence[Row]) -> str:
    """The markdown table of every source and model."""
    table = []
    for row in rows:
        agreement = row.agreement
        table.append(
            {
                "source": row.source,
                "model": row.model,
                "n": f"{row.items}" + (f" ({row.responses})" if row.responses > row.items else ""),
                "published %": percent(row.published),
                "ours %": percent(row.ours),
                "math-verify %": percent(row.math_verify),
                "ours - published": "-"
                if row.published is None
                else f"{100 * (row.ours - row.published):+.2f}",
                "agreement %": percent(agreement.agree / agreement.responses)
                if agreement and agreement.responses
                else "-",
                "disagreements": len(row.disagreements) if agreement else "-",
            }
        )
    return tabulate(table, headers="keys", tablefmt="github", disable_numparse=True)


def causes_table(rows: Sequence[Row]) -> str:
    """The markdown table of disagreements by source and cause, with a few examples."""
    counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        for item in row.disagreements:
            key = (row.source, item["cause"])
            counts[key] += 1
            examples.setdefault(key, []).append(f"{item['model']}:{item['id']}")
    table = [
        {"source": s, "cause": c, "n": n, "examples": ", ".join(examples[s, c][:3])}
        for (s, c), n in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1]))
    ]
    return tabulate(table, headers="keys", tablefmt="github") if table else "(none)"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sources",
        default=",".join(SOURCES),
        help=f"comma-separated subset of {', '.join(SOURCES)} (default: all)",
    )
    parser.add_argument("--limit", type=int, help="a fixed random sample of N items per model")
    parser.add_argument("--no-math-verify", dest="math_verify", action="store_false")
    parser.add_argument("--dir", type=Path, default=FIDELITY_DIR, help="the published sets")
    parser.add_argument("--out", type=Path, default=Path("out/fidelity.json"))
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.sources.split(",") if s.strip()]
    if unknown := sorted(set(names) - set(SOURCES)):
        parser.error(f"unknown sources {unknown}; known: {', '.join(SOURCES)}")
    if not args.dir.is_dir():
        sys.exit(f"no published sets at {args.dir} (set SPARK_MATH_FIDELITY_DIR)")
    start = time.monotonic()
    rows = []
    for name in names:
        rows.extend(score_source(name, args.dir, args.limit, args.math_verify))
        print(f"{name}: {time.monotonic() - start:.0f} s", file=sys.stderr)
    print(summary_table(rows))
    renamed = [f"{r.model} -> {r.published_as}" for r in rows if r.published_as != r.model]
    if renamed:
        print("\nPublished under another name: " + "; ".join(renamed))
    for row in rows:
        for note in row.notes:
            print(f"note: {row.source} {row.model}: {note}")
    print("\nDisagreements with the labels by cause:\n")
    print(causes_table(rows))
    elapsed = time.monotonic() - start
    print(f"\n{sum(r.responses for r in rows)} responses in {elapsed:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "limit": args.limit,
        "rows": [{k: v for k, v in asdict(r).items() if k != "disagreements"} for r in rows],
        "disagreements": [item for r in rows for item in r.disagreements],
    }
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
