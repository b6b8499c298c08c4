"""Build annotation files, load them for the probe tasks, verify a folder of them."""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..data import DataError, Problem, load_rows
from ..data.store import SUMS, check, read_sums
from . import llm, reference, sparkle
from .schema import (
    BENCHES,
    KINDS,
    Row,
    Skip,
    check_rows,
    file_path,
    leak,
    make_row,
    probes_dir,
    read_file,
    schema_error,
    serialise,
)

logger = logging.getLogger(__name__)

_MISSING = Skip("no annotation")
ANNOTATOR_KINDS = {"reference": KINDS, "sparkle": sparkle.KINDS, "gemini": llm.KINDS}


@dataclass
class Built:
    """Annotation rows of one bench and kind, and why the other problems have none."""

    bench: str
    kind: str
    rows: list[Row]
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # reason -> its first case

    def skip(self, key: str, skip: Skip) -> None:
        self.skipped[skip.reason] += 1
        self.examples.setdefault(skip.reason, f"{key}: {skip.detail}" if skip.detail else key)

    def summary(self) -> str:
        """One line: rows written, then each reason a problem got none, with its first case."""
        reasons = [f"{n} {r} (first: {self.examples[r]})" for r, n in self.skipped.most_common()]
        skipped = f"; none for {sum(self.skipped.values())}: " + "; ".join(reasons)
        return f"{self.bench}/{self.kind}: {len(self.rows)} rows" + (skipped if reasons else "")


def _check_kind(bench: str, kind: str, annotator: str) -> None:
    if bench not in BENCHES:
        raise DataError(f"unknown bench {bench!r}; probes exist for {', '.join(BENCHES)}")
    if annotator not in ANNOTATOR_KINDS:
        raise DataError(f"unknown annotator {annotator!r}: {', '.join(ANNOTATOR_KINDS)}")
    if kind not in ANNOTATOR_KINDS[annotator]:
        raise DataError(
            f"the {annotator} annotator makes no {kind} annotations "
            f"(it makes {', '.join(ANNOTATOR_KINDS[annotator])}); hints come from the reference"
        )


def collect(
    bench: str,
    kind: str,
    rows: list[Row],
    payloads: Callable[[Row], dict | Skip] | dict[str, dict | Skip],
    provenance: dict,
) -> Built:
    """Validated, leak-free annotation rows in benchmark order; everything else is a Skip."""
    built = Built(bench, kind, [])
    for row in rows:
        payload = payloads(row) if callable(payloads) else payloads.get(row["id"], _MISSING)
        if isinstance(payload, Skip):
            built.skip(row["id"], payload)
            continue
        candidate = make_row(bench, kind, row, payload, provenance)
        if error := schema_error(candidate, bench, kind):
            built.skip(row["id"], Skip("invalid", error))
        elif found := leak(candidate, row):
            built.skip(row["id"], Skip("states the answer", found))
        else:
            built.rows.append(candidate)
    if not callable(payloads):  # annotations for problems the benchmark does not have
        for key, payload in payloads.items():
            if isinstance(payload, Skip) and key.startswith("sparkle:"):
                built.skip(key, payload)
    return built


def annotations(
    bench: str,
    kind: str,
    annotator: str = "reference",
    *,
    rows: list[Row] | None = None,
    data_dir: str | Path | None = None,
    date: str | None = None,
    limit: int | None = None,
    sparkle_source: str | Path | None = None,
    lm: object | None = None,
    model: str | None = None,
    retries: int = 2,
    progress: Callable[[str], None] | None = None,
) -> Built:
    """Annotate a benchmark's test problems (the first `limit` of them) with one annotator.

    `reference` needs nothing; `sparkle` reads `sparkle_source` or the hub; `gemini` needs `lm`
    (an lm-eval LM, e.g. GeminiLM) and records `model`. `date` goes into the provenance as given:
    None keeps reference builds byte-identical from run to run.
    """
    _check_kind(bench, kind, annotator)
    rows = rows if rows is not None else load_rows(bench, "test", data_dir)
    rows = rows[:limit] if limit is not None else rows
    provenance = {"annotator": annotator, "date": date}
    if annotator == "reference":
        return collect(
            bench,
            kind,
            rows,
            lambda row: reference.annotate(bench, kind, row),
            provenance | {"prompt_version": reference.PROMPT_VERSION},
        )
    if annotator == "sparkle":
        found = sparkle.payloads(kind, sparkle.load(bench, sparkle_source), rows)
        provenance |= {"model": sparkle.MODEL, "prompt_version": sparkle.PROMPT_VERSION}
        return collect(bench, kind, rows, found, provenance)
    if lm is None:
        raise DataError("the gemini annotator needs a model (GeminiLM)")
    answers = llm.annotate(lm, bench, kind, rows, retries=retries, progress=progress)
    provenance |= {"model": model, "prompt_version": llm.PROMPT_VERSION}
    return collect(bench, kind, rows, answers, provenance)


def write(built: Built, root: str | Path) -> Path:
    """Write `<root>/<bench>/<kind>.jsonl` and record its sha256 in `<root>/SHA256SUMS`."""
    root = Path(root).expanduser()
    path = file_path(root, built.bench, built.kind)
    data = serialise(built.rows)
    _write_atomic(path, data)
    sums = read_sums(root) | {f"{built.bench}/{built.kind}.jsonl": hashlib.sha256(data).hexdigest()}
    _write_atomic(root / SUMS, "".join(f"{sums[n]}  {n}\n" for n in sorted(sums)).encode())
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


_LOADED: dict[tuple, list[Row]] = {}


def load(
    bench: str,
    kind: str,
    *,
    probes_root: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> list[Row]:
    """The annotations a probe task uses: `<probes dir>/<bench>/<kind>.jsonl`, checked against
    the schema, the benchmark and the leak check (DataError on any problem); reference
    annotations built in memory, with a warning, when that file does not exist."""
    rows = load_rows(bench, "test", data_dir)
    root = probes_dir(probes_root)
    path = file_path(root, bench, kind) if root is not None else None
    if path is None or not path.is_file():
        where = f"{path} does not exist" if path else "no probes folder is set"
        logger.warning(
            "spark probes: %s; using %s/%s reference annotations built in memory. To keep them "
            "(or use another annotator): spark-math probes build --bench %s --kind %s "
            "--annotator reference --out DIR, then SPARK_MATH_PROBES_DIR=DIR",
            where,
            bench,
            kind,
            bench,
            kind,
        )
        key: tuple = (bench, kind, "reference", tuple(r["id"] for r in rows))
        if key not in _LOADED:
            _LOADED[key] = annotations(bench, kind, rows=rows).rows
        return _LOADED[key]
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _LOADED:
        found = read_file(path)
        problems = check_rows(found, bench, kind, {r["id"]: r for r in rows})
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise DataError(
                f"{path}: {problems[0]}{more}. Rebuild it with `spark-math probes build --bench "
                f"{bench} --kind {kind} --out {root}`."
            )
        _LOADED[key] = found
    return _LOADED[key]


def verify(root: str | Path | None = None, data_dir: str | Path | None = None) -> list[Problem]:
    """Every problem of a probes folder: sha256 against its SHA256SUMS, then schema, benchmark
    match and leak check of each `<bench>/<kind>.jsonl`; [] when clean."""
    folder = probes_dir(root)
    if folder is None or not folder.is_dir():
        raise DataError(f"no probes folder at {folder}" if folder else "no probes folder is set")
    problems = [p for entry in check(folder, only_present=True) for p in entry.problems]
    for bench in BENCHES:
        for kind in KINDS:
            path = file_path(folder, bench, kind)
            if not path.is_file():
                continue
            rel = f"{bench}/{kind}.jsonl"
            sources = {r["id"]: r for r in load_rows(bench, "test", data_dir)}
            try:
                found = check_rows(read_file(path), bench, kind, sources)
            except DataError as exc:
                found = [str(exc)]
            problems += [Problem(rel, message) for message in found]
            if rel not in read_sums(folder):
                problems.append(Problem(rel, f"not listed in {SUMS}"))
    return problems
