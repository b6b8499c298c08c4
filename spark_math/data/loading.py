"""Load benchmark rows from an offline folder (`SPARK_MATH_DATA_DIR`) or from the hub."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from functools import cache
from pathlib import Path

from .benchmarks import DataError, HubSource, Row, Split, lookup

logger = logging.getLogger(__name__)

ENV_VAR = "SPARK_MATH_DATA_DIR"
ALLOW_MODIFIED = "SPARK_MATH_ALLOW_MODIFIED_DATA"
REQUIRED_KEYS = ("id", "problem", "answer")
LAYOUT = "<name>/<split>.jsonl"

_CACHE: dict[Path, tuple[tuple[int, int], list[Row]]] = {}


def data_dir() -> Path | None:
    """The offline data folder named by `$SPARK_MATH_DATA_DIR`, or None when it is unset."""
    return _env_dir()


def _env_dir() -> Path | None:
    value = os.environ.get(ENV_VAR, "").strip()
    return Path(value).expanduser() if value else None


def fix_hint(root: Path | str) -> str:
    """How to get a usable data folder, for the end of error messages."""
    return (
        f"Run `spark-math data pull --to {root}` where the Hugging Face hub is reachable, or set "
        f"{ENV_VAR} to a folder laid out as {LAYOUT} (such as ../shared/datasets)."
    )


def load_rows(name: str, split: str = "test", data_dir: str | Path | None = None) -> list[Row]:
    """The rows of a benchmark split in our schema (`id`, `problem`, `answer`, `solution`, ...).

    Reads `<data_dir>/<name>/<split>.jsonl` when a folder is given or `$SPARK_MATH_DATA_DIR`
    is set, and the hub otherwise; generated benchmarks (`lineq`) ignore both. Each call
    returns fresh row dicts; parsed files are cached while their mtime and size stay the same.
    """
    _, spec = lookup(name, split)
    if spec.generate is not None:
        return [dict(row) for row in _generated(name, split)]
    root = Path(data_dir).expanduser() if data_dir is not None else _env_dir()
    if root is None:
        return load_hub(name, split)
    return [dict(row) for row in read_split(root, name, split, spec)]


@cache
def _generated(name: str, split: str) -> tuple[Row, ...]:
    _, spec = lookup(name, split)
    assert spec.generate is not None
    return tuple(spec.generate())


def read_split(root: Path, name: str, split: str, spec: Split) -> list[Row]:
    """The parsed rows of `<root>/<name>/<split>.jsonl` (cached), checked for keys and count."""
    path = root / name / f"{split}.jsonl"
    try:
        stat = path.stat()
    except OSError:
        raise DataError(
            f"{path}: no such file (expected the {spec.rows} rows of {name}/{split}). "
            + fix_hint(root)
        ) from None
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _CACHE.get(path.resolve())
    if cached is not None and cached[0] == key:
        return cached[1]
    rows, digest = _parse(path, root)
    if len(rows) != spec.rows:
        raise DataError(
            f"{path}: {len(rows)} rows, expected {spec.rows} for {name}/{split}; the file is "
            "truncated or from another version. " + fix_hint(root)
        )
    _check_sha256(path, digest, spec.sha256, f"{name}/{split}")
    _CACHE[path.resolve()] = (key, rows)
    return rows


def _check_sha256(path: Path, digest: str, pinned: str | None, what: str) -> None:
    """Refuse a file that differs from its pinned sha256 (an edited gold answer changes every
    score computed on it), unless `$SPARK_MATH_ALLOW_MODIFIED_DATA` says to use it anyway."""
    if pinned is None or digest == pinned:
        return
    message = (
        f"{path}: sha256 {digest[:12]}... differs from the pinned {pinned[:12]}... of {what}: "
        "the file was edited or is another version, so scores on it are not comparable"
    )
    if os.environ.get(ALLOW_MODIFIED, "").lower() in {"1", "true", "yes"}:
        logger.warning("%s; used anyway because %s is set", message, ALLOW_MODIFIED)
        return
    raise DataError(
        f"{message}. Restore it (`spark-math data verify`, `spark-math data pull`), or set "
        f"{ALLOW_MODIFIED}=1 to use it anyway."
    )


def _parse(path: Path, root: Path) -> tuple[list[Row], str]:
    """The rows of a JSON Lines file and the sha256 of its bytes."""
    try:
        data = path.read_bytes()
        lines = data.decode("utf-8").split("\n")
    except (OSError, UnicodeError) as exc:
        raise DataError(f"{path}: cannot read it ({exc}). " + fix_hint(root)) from None
    if lines[-1] == "":
        lines.pop()
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}, line {number}: invalid JSON ({exc.msg}). " + fix_hint(root)
            ) from None
        missing = [k for k in REQUIRED_KEYS if k not in row] if isinstance(row, dict) else ["all"]
        if missing:
            raise DataError(
                f"{path}, line {number}: the row lacks {', '.join(missing)} (every row needs "
                f"{', '.join(REQUIRED_KEYS)}). " + fix_hint(root)
            )
        rows.append(row)
    return rows, hashlib.sha256(data).hexdigest()


def hub_rows(source: HubSource) -> list[Row]:
    """The rows of a hub dataset as plain dicts, its configs concatenated in order."""
    from datasets import load_dataset

    rows: list[Row] = []
    for config in source.configs:
        rows.extend(dict(row) for row in load_dataset(source.path, config, split=source.split))
    return rows


def load_hub(name: str, split: str) -> list[Row]:
    """A benchmark split from the hub, normalised; any failure becomes a one-line DataError."""
    benchmark, spec = lookup(name, split)
    if spec.generate is not None:
        raise DataError(f"{name} is generated locally and has no hub source")
    if benchmark.normalise is None or not spec.hub:
        raise DataError(
            f"{name}/{split} has no Hugging Face hub source (it comes from Qwen2.5-Math's "
            f"evaluation data), so it loads only from an offline folder: set {ENV_VAR} to a "
            f"folder laid out as {LAYOUT} that holds {name}/{split}.jsonl (such as "
            '../shared/datasets), or pass `--metadata \'{"spark_data_dir": "DIR"}\'` to lm_eval.'
        )
    sources = "; ".join(str(source) for source in spec.hub)
    try:
        rows = benchmark.normalise(split, *(hub_rows(source) for source in spec.hub))
    except Exception as exc:
        logger.debug("loading %s/%s from the hub failed", name, split, exc_info=True)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DataError(
            f"cannot load {name}/{split} from the Hugging Face hub ({sources}): "
            f"{type(exc).__name__}{': ' + reason if reason else ''}. Set {ENV_VAR} to an offline "
            f"copy laid out as {LAYOUT}, or run `spark-math data pull --to DIR` on a machine "
            "that reaches the hub."
        ) from None
    if len(rows) != spec.rows:
        raise DataError(
            f"{name}/{split} from the hub ({sources}) has {len(rows)} rows, expected "
            f"{spec.rows}; the hub copy has changed. Set {ENV_VAR} to an offline copy."
        )
    return rows
