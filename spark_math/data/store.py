"""Offline data folders: fill one from the hub (`pull`) and check one (`verify`)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .benchmarks import BENCHMARKS, DataError, Row
from .loading import ENV_VAR, LAYOUT, data_dir, load_hub

SUMS = "SHA256SUMS"
SCHEMA = (("id", (str,)), ("problem", (str,)), ("answer", (str,)), ("solution", (str, type(None))))


@dataclass(frozen=True)
class Problem:
    """Something wrong with one file of a data folder (`file` is relative to the folder)."""

    file: str
    message: str


@dataclass
class FileCheck:
    """The outcome for one file: rows found (None if unreadable) and expected (None if unknown)."""

    file: str
    rows: int | None
    expected: int | None
    problems: list[Problem] = field(default_factory=list)


def resolve_dir(directory: str | Path | None) -> Path:
    """`directory`, else `$SPARK_MATH_DATA_DIR`; DataError if neither names a folder."""
    root = Path(directory).expanduser() if directory is not None else data_dir()
    if root is None:
        raise DataError(
            f"no data folder: pass one, or set {ENV_VAR} to a folder laid out as {LAYOUT}"
        )
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; expected a data folder laid out as {LAYOUT}")
    return root


def pullable() -> list[str]:
    """The benchmarks that come from the hub (all but the generated ones)."""
    return [name for name, b in BENCHMARKS.items() if b.normalise is not None]


def pull(to: str | Path, names: list[str] | None = None, progress: bool = True) -> list[Path]:
    """Download and normalise benchmarks from the hub into `<to>/<name>/<split>.jsonl`.

    Also adds their sha256 to `<to>/SHA256SUMS`. Returns the files written. `verify` compares
    them with the pinned reference copies; hub copies can differ (MATH file ids are not on the hub).
    """
    to = Path(to).expanduser()
    names = list(dict.fromkeys(names or pullable()))
    unknown = [n for n in names if n not in pullable()]
    if unknown:
        raise DataError(
            f"cannot pull {', '.join(unknown)}: "
            f"the benchmarks on the hub are {', '.join(pullable())}"
        )
    jobs = [(name, split) for name in names for split in BENCHMARKS[name].splits]
    written = []
    for name, split in tqdm(jobs, desc="pull", unit="file", disable=not progress):
        rows = load_hub(name, split)
        path = to / name / f"{split}.jsonl"
        _write_atomic(path, _serialise(rows))
        _update_sums(to, {f"{name}/{split}.jsonl": _sha256(path)})
        written.append(path)
    return written


def _serialise(rows: Iterable[Row]) -> bytes:
    """JSON Lines exactly as the reference copies: `json.dumps(ensure_ascii=False)` per line."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_sums(root: Path) -> dict[str, str]:
    """`<root>/SHA256SUMS` as {relative path: sha256} (empty if the file is absent)."""
    path = root / SUMS
    if not path.is_file():
        return {}
    sums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.strip().partition(" ")
        if name:
            sums[name.strip().lstrip("*")] = digest.lower()
    return sums


def _update_sums(root: Path, new: dict[str, str]) -> None:
    sums = read_sums(root) | new
    text = "".join(f"{sums[name]}  {name}\n" for name in sorted(sums))
    _write_atomic(root / SUMS, text.encode("utf-8"))


def check(directory: str | Path | None = None, *, only_present: bool = False) -> list[FileCheck]:
    """Check every registry file in a data folder against its pinned count, schema and sha256,
    then every `*.jsonl` listed in the folder's own SHA256SUMS against that list.

    Missing registry files are problems unless `only_present`.
    """
    root = resolve_dir(directory)
    checks: dict[str, FileCheck] = {}
    digests: dict[str, str] = {}
    for name, benchmark in BENCHMARKS.items():
        for split, spec in benchmark.splits.items():
            if spec.sha256 is None:  # generated in memory
                continue
            rel = f"{name}/{split}.jsonl"
            path = root / rel
            if not path.is_file():
                if not only_present:
                    missing = Problem(rel, f"missing; expected {spec.rows} rows (pull it)")
                    checks[rel] = FileCheck(rel, None, spec.rows, [missing])
                continue
            data = path.read_bytes()
            rows, problems = _check_rows(rel, data)
            if rows != spec.rows:
                problems.append(Problem(rel, f"{rows} rows, expected {spec.rows}"))
            digest = digests[rel] = hashlib.sha256(data).hexdigest()
            if digest != spec.sha256:
                problems.append(
                    Problem(
                        rel,
                        f"sha256 {digest[:12]}… differs from the pinned {spec.sha256[:12]}… "
                        "(edited, or another upstream version)",
                    )
                )
            checks[rel] = FileCheck(rel, rows, spec.rows, problems)
    for rel, expected in read_sums(root).items():
        if not rel.endswith(".jsonl"):
            continue
        path = root / rel
        entry = checks.get(rel)
        if entry is None:
            if not path.is_file() and only_present:
                continue
            rows = _count_lines(path) if path.is_file() else None
            entry = checks[rel] = FileCheck(rel, rows, None)
        if not path.is_file():
            entry.problems.append(Problem(rel, f"listed in {SUMS} but missing"))
        elif (digests.get(rel) or _sha256(path)) != expected:
            entry.problems.append(Problem(rel, f"sha256 differs from the one in {SUMS}"))
    return list(checks.values())


def verify(directory: str | Path | None = None, *, only_present: bool = False) -> list[Problem]:
    """All problems `check` finds in a data folder (default `$SPARK_MATH_DATA_DIR`); [] if clean."""
    return [p for entry in check(directory, only_present=only_present) for p in entry.problems]


def _count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n")


def _check_rows(rel: str, data: bytes) -> tuple[int, list[Problem]]:
    """Row count and schema problems (first bad line, then how many more) of a JSON Lines file."""
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError as exc:
        return data.count(b"\n"), [Problem(rel, f"not UTF-8 ({exc})")]
    if lines[-1] == "":
        lines.pop()
    bad: list[str] = []
    ids: set[str] = set()
    for number, line in enumerate(lines, 1):
        error = _row_error(line, ids)
        if error:
            bad.append(f"line {number}: {error}")
    problems = []
    if bad:
        more = f" (and {len(bad) - 1} more bad lines)" if len(bad) > 1 else ""
        problems.append(Problem(rel, bad[0] + more))
    return len(lines), problems


def _row_error(line: str, ids: set[str]) -> str | None:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"invalid JSON ({exc.msg})"
    if not isinstance(row, dict):
        return "not a JSON object"
    keys = tuple(row)[: len(SCHEMA)]
    if keys != tuple(k for k, _ in SCHEMA):
        return f"keys start {keys}, expected {tuple(k for k, _ in SCHEMA)}"
    for key, types in SCHEMA:
        if not isinstance(row[key], types):
            return f"{key} is {type(row[key]).__name__}"
    if not row["problem"].strip() or not row["answer"].strip():
        return "empty problem or answer"
    if row["id"] in ids:
        return f"duplicate id {row['id']!r}"
    ids.add(row["id"])
    return None
