"""Append-only JSON Lines response cache that survives ``kill -9``.

Each finished response is one line, written with a single ``write`` on an ``O_APPEND`` descriptor
and then ``fsync``-ed, so a crash loses at most the line being written. A torn last line is
skipped on load, and the next append starts on a fresh line. Later lines win over earlier ones.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class ResponseCache:
    """Map of cache key → entry dict, backed by a JSON Lines file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        torn = 0
        if path.exists():
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                        self.entries[entry["key"]] = entry
                    except (ValueError, KeyError, TypeError):
                        torn += 1
        if torn:
            logger.warning("Skipped %d unreadable line(s) in %s", torn, path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if path.stat().st_size and not _ends_with_newline(path):
            os.write(self._fd, b"\n")

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, entry: dict[str, Any]) -> None:
        """Store an entry (which holds its ``key``) durably before returning."""
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode("utf-8"))
        os.fsync(self._fd)
        self.entries[entry["key"]] = entry

    def close(self) -> None:
        os.close(self._fd)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"
