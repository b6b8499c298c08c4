"""A baselines matrix (the packaged `spark_math/baselines/matrix.yaml`, or a user's own):
models with their lm-eval settings and tasks.

    defaults: {tasks: [spark_core], apply_chat_template: true}
    models:
      - name: qwen2.5-math-1.5b
        backend: vllm
        model_args: {pretrained: Qwen/Qwen2.5-Math-1.5B, max_model_len: 4096}

Each entry is one `lm_eval` run. `defaults` fill keys an entry leaves out. A model_args value
may hold `{tiny}`: the path of a tiny random model built on the fly (`spark_math.models.tiny`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
PLACEHOLDERS = ("tiny",)


class MatrixError(ValueError):
    """A matrix file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Entry:
    """One model of the matrix: how to run it through lm-eval and on which tasks.

    `gen_kwargs` is the decoding passed as `--gen_kwargs` (it overrides every task's own; leave
    it empty to keep the tasks' greedy/sampled settings), `seed` lm-eval's `--seed`.
    """

    name: str
    backend: str
    tasks: tuple[str, ...]
    model_args: dict[str, Any] = field(default_factory=dict)
    apply_chat_template: bool | str = False
    system_instruction: str | None = None
    gen_kwargs: dict[str, Any] = field(default_factory=dict)
    limit: float | None = None
    batch_size: int | str | None = None
    device: str | None = None
    seed: int | None = None
    description: str = ""


KEYS = {f.name for f in fields(Entry)}


def load_matrix(path: Path) -> list[Entry]:
    """The matrix's entries, validated; a bad file raises `MatrixError` naming what is wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MatrixError(f"{path}: cannot read the matrix ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise MatrixError(f"{path}: expected a mapping with a 'models' list")
    unknown = set(data) - {"defaults", "models"}
    if unknown:
        raise MatrixError(f"{path}: unknown top-level keys {sorted(unknown)}")
    defaults = data.get("defaults") or {}
    _check_keys(path, "defaults", defaults)
    entries: list[Entry] = []
    for i, body in enumerate(data["models"]):
        where = f"{path}: models[{i}]"
        if not isinstance(body, dict):
            raise MatrixError(f"{where} must be a mapping")
        where += f" ({body.get('name', '?')})"
        _check_keys(path, where, body)
        entries.append(_entry(where, {**defaults, **body}))
    names = [e.name for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise MatrixError(f"{path}: duplicate model names {duplicates}")
    return entries


def _check_keys(path: Path, where: str, body: Any) -> None:
    if not isinstance(body, dict):
        raise MatrixError(f"{path}: {where} must be a mapping")
    unknown = set(body) - KEYS
    if unknown:
        raise MatrixError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(KEYS)}")


def _entry(where: str, body: dict[str, Any]) -> Entry:
    for key in ("name", "backend", "tasks"):
        if not body.get(key):
            raise MatrixError(f"{where}: '{key}' is required")
    if not NAME.match(str(body["name"])):
        raise MatrixError(f"{where}: name must be letters, digits, '.', '_' or '-' (a folder name)")
    tasks = body["tasks"]
    if isinstance(tasks, str) or not all(isinstance(t, str) for t in tasks):
        raise MatrixError(f"{where}: 'tasks' must be a list of task or group names")
    for key in ("model_args", "gen_kwargs"):
        if not isinstance(body.get(key) or {}, dict):
            raise MatrixError(f"{where}: '{key}' must be a mapping")
    for value in (body.get("model_args") or {}).values():
        for name in PLACEHOLDER.findall(str(value)):
            if name not in PLACEHOLDERS:
                raise MatrixError(f"{where}: unknown placeholder {{{name}}}; known: {{tiny}}")
    return Entry(
        **{
            **body,
            "name": str(body["name"]),
            "tasks": tuple(tasks),
            "model_args": dict(body.get("model_args") or {}),
            "gen_kwargs": dict(body.get("gen_kwargs") or {}),
        }
    )
