"""Field paths into JSON records: `output.0`, `ground_truth.answer`, `debug_result[2:-1].content`,
with `*` standing for every key that holds a value (one system per key)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

WILDCARD = "*"

Segment = str | int | slice


class PathError(LookupError):
    """A field path that does not lead to a value in a record."""


class PathSyntaxError(ValueError):
    """A field path that cannot be parsed."""


@cache
def parse_path(path: str) -> tuple[Segment, ...]:
    """A field path: keys, list indexes and slices joined by dots or in brackets
    (``output.0``, ``ground_truth.answer``, ``debug_result[2:-1].content``), ``*`` for any key.
    After a slice the rest of the path applies to each element, giving a list."""
    segments: list[Segment] = []
    for part in path.replace("[", ".").replace("]", "").split("."):
        if not part:
            raise PathSyntaxError(f"bad field path {path!r}: empty segment")
        if re.fullmatch(r"-?\d+", part):
            segments.append(int(part))
        elif re.fullmatch(r"-?\d*:-?\d*", part):
            start, stop = (int(x) if x else None for x in part.split(":"))
            segments.append(slice(start, stop))
        else:
            segments.append(part)
    if segments.count(WILDCARD) > 1:
        raise PathSyntaxError(f"bad field path {path!r}: more than one '*'")
    return tuple(segments)


def resolve(value: Any, path: Sequence[Segment]) -> Any:
    """The value at `path` (see `parse_path`) in a record; PathError when there is none."""
    for i, segment in enumerate(path):
        if isinstance(segment, slice):
            if not isinstance(value, list):
                raise PathError(f"cannot slice a {type(value).__name__}")
            return [resolve(item, path[i + 1 :]) for item in value[segment]]
        if isinstance(value, dict):
            if str(segment) not in value:
                raise PathError(f"no key {str(segment)!r}")
            value = value[str(segment)]
        elif isinstance(value, list) and isinstance(segment, int):
            if not -len(value) <= segment < len(value):
                raise PathError(f"no item {segment} in a list of {len(value)}")
            value = value[segment]
        else:
            raise PathError(f"no {segment!r} in a {type(value).__name__}")
    return value


def bind(path: str, key: str | None) -> tuple[Segment, ...]:
    """The segments of `path` with its ``*`` replaced by `key`."""
    return tuple(key if s == WILDCARD and key is not None else s for s in parse_path(path))


def systems(record: dict[str, Any], path: str) -> list[str | None]:
    """The keys that the ``*`` of `path` takes in `record` ([None] without a ``*``)."""
    segments = parse_path(path)
    if WILDCARD not in segments:
        return [None]
    star = segments.index(WILDCARD)
    try:
        parent = resolve(record, segments[:star])
    except PathError as exc:
        raise PathError(f"cannot read {path!r}: {exc}") from None
    if not isinstance(parent, dict):
        raise PathError(f"cannot read {path!r}: '*' needs an object, found a list")
    keys = [k for k in parent if resolves(parent[k], segments[star + 1 :])]
    if not keys:
        raise PathError(f"cannot read {path!r}: no key holds it")
    return keys


def resolves(value: Any, path: Sequence[Segment]) -> bool:
    try:
        resolve(value, path)
    except PathError:
        return False
    return True
