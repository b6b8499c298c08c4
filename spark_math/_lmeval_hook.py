"""Startup hook that plugs spark-math into lm-eval without `--include_path`.

lm-eval 0.4.x discovers tasks only in its own folder and models only in its in-process registry.
`spark_math_lmeval.pth` (installed into site-packages) imports this module at interpreter start.
It imports nothing from lm-eval; a `sys.meta_path` finder waits for lm-eval's own modules to load
and then (1) makes every `TaskManager` also scan our task folder, before the user's include paths
so theirs still override, and lets a glob (`--tasks 'spark_*'`) name a group and its members
without lm-eval's duplicate-task error; (2) registers our model names as lazy registry
placeholders; (3) writes nested hook functions into results files by name, not by memory
address, so identical runs give identical files; (4) makes the `hf` and `vllm` backends mark
responses that hit the token budget (`spark_math.models.lmeval_backends`); (5) redacts API keys
from every log record and prints spark-math's errors as one line on the `lm_eval` command line.
Set `SPARK_MATH_NO_PLUGIN=1` to switch it off; `--include_path "$(spark-math tasks-dir)"` is the
explicit route. The entry points declared in pyproject.toml serve lm-eval versions that read them.
"""

from __future__ import annotations

import logging
import os
import sys
from importlib.abc import MetaPathFinder
from pathlib import Path

from spark_math.harness_tasks import TASKS_DIR

MODELS = {
    "gemini": "spark_math.models.gemini:GeminiLM",
    "spark-replay": "spark_math.models.replay:ReplayLM",
    "spark-oracle": "spark_math.models.oracle:OracleLM",
}


def _patch_task_manager(module) -> None:
    manager = module.TaskManager
    if getattr(manager.__init__, "_spark_math", False):
        return
    original = manager.__init__

    def __init__(self, verbosity=None, include_path=None, include_defaults=True, metadata=None):
        paths = include_path if isinstance(include_path, (list, tuple)) else [include_path]
        paths = [p for p in paths if p is not None]
        if str(TASKS_DIR) not in {str(Path(p).resolve()) for p in paths}:
            paths.insert(0, str(TASKS_DIR))
        original(self, verbosity, paths, include_defaults, metadata)

    __init__._spark_math = True
    manager.__init__ = __init__
    match = manager.match_tasks

    def match_tasks(self, task_list):
        names = match(self, task_list)
        if any(set(pattern) & set("*?[") for pattern in task_list):
            names = _without_overlaps(self, names)
        return names

    manager.match_tasks = match_tasks


def _members(manager, name: str, seen: frozenset = frozenset()) -> set[str]:
    """Every task a group or tag name stands for (recursively), from lm-eval's task index."""
    entry = manager.task_index.get(name)
    if entry is None or name in seen:
        return set()
    kind = entry.kind.name
    if kind == "TAG":
        return {n for n, e in manager.task_index.items() if name in e.tags and n != name}
    if kind != "GROUP":
        return {name}
    found: set[str] = set()
    for child in (entry.cfg or {}).get("task") or []:
        child = child if isinstance(child, str) else child.get("task") or child.get("group")
        if isinstance(child, str):
            found |= _members(manager, child, seen | {name}) or {child}
    return found


def _without_overlaps(manager, names: list[str]) -> list[str]:
    """A glob's matches with tags expanded and nothing run twice: tasks inside a matched group
    and groups inside (or overlapping) an earlier matched group are dropped."""
    index = manager.task_index
    kinds = {n: index[n].kind.name if n in index else "" for n in names}
    members = {n: _members(manager, n) for n in names if kinds[n] in ("GROUP", "TAG")}
    groups = sorted((n for n in names if kinds[n] == "GROUP"), key=lambda g: -len(members[g]))
    kept_groups, covered = [], set()
    for group in groups:
        if not members[group] & covered:
            kept_groups.append(group)
            covered |= members[group]
    tasks = set()
    for name in names:
        if kinds[name] == "TAG":
            tasks |= members[name]
        elif kinds[name] != "GROUP":
            tasks.add(name)
    return sorted(kept_groups) + sorted(tasks - covered)


def _stable_config_dump(module) -> None:
    config = module.TaskConfig
    if getattr(config.to_dict, "_spark_math", False):
        return
    original = config.to_dict

    def to_dict(self, keep_callable: bool = False) -> dict:
        return _named_callables(original(self, keep_callable), keep_callable)

    to_dict._spark_math = True
    config.to_dict = to_dict


def _named_callables(value, keep_callable: bool):
    """Callables left inside a dumped config (filters, few-shot hooks) as `module.qualname`."""
    if keep_callable:
        return value
    if isinstance(value, dict):
        return {k: _named_callables(v, keep_callable) for k, v in value.items()}
    if isinstance(value, list):
        return [_named_callables(v, keep_callable) for v in value]
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '?')}.{value.__qualname__}"
    return value


def _register_models(module) -> None:
    import lm_eval.models  # noqa: F401  (built-ins first: lm-eval loads them only into an empty registry)

    _redact_log_records()

    for name, target in MODELS.items():
        if name not in module.model_registry:
            module.model_registry.register(name, target=target)


def _redact_log_records() -> None:
    """Every log record made from now on is redacted (lm-eval logs its model_args, however the
    user passed a key in them, before any backend sees them)."""
    from spark_math.errors import redact

    make = logging.getLogRecordFactory()
    if getattr(make, "_spark_math", False):
        return

    def factory(*args, **kwargs):
        record = make(*args, **kwargs)
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is logging's business, not ours
            return record
        clean = redact(text)
        if clean != text:
            record.msg, record.args = clean, ()
        return record

    factory._spark_math = True
    logging.setLogRecordFactory(factory)


def _patch_cli(module) -> None:
    """`lm_eval` prints a spark-math error as one line (what is wrong, how to fix it) and exits
    2; `SPARK_MATH_DEBUG=1` shows the traceback."""
    original = module.cli_evaluate
    if getattr(original, "_spark_math", False):
        return

    def cli_evaluate(*args, **kwargs):
        from spark_math.errors import SparkMathError, debugging, redact

        try:
            return original(*args, **kwargs)
        except SparkMathError as exc:
            if debugging():
                raise
            print(f"error: {redact(str(exc))}", file=sys.stderr)
            raise SystemExit(2) from None

    cli_evaluate._spark_math = True
    module.cli_evaluate = cli_evaluate


def _patch_hf(module) -> None:
    from spark_math.models.lmeval_backends import patch_hf

    patch_hf(module)


def _patch_vllm(module) -> None:
    from spark_math.models.lmeval_backends import patch_vllm

    patch_vllm(module)


_PATCHES = {
    "lm_eval.tasks.manager": _patch_task_manager,
    "lm_eval.api.registry": _register_models,
    "lm_eval.config.task": _stable_config_dump,
    "lm_eval.models.huggingface": _patch_hf,
    "lm_eval.models.vllm_causallms": _patch_vllm,
    "lm_eval.__main__": _patch_cli,
}


class _LmEvalFinder(MetaPathFinder):
    """Lets lm-eval's module load normally, then applies our patch to it."""

    def find_spec(self, name, path=None, target=None):
        patch = _PATCHES.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                break
        else:
            return None
        load = spec.loader.exec_module

        def exec_module(module) -> None:
            load(module)
            try:
                patch(module)
            except Exception as exc:  # never break lm-eval itself
                print(f"[spark-math] lm-eval plugin hook failed: {exc!r}", file=sys.stderr)

        spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    """Install the finder once, unless SPARK_MATH_NO_PLUGIN is set to a true value."""
    if os.environ.get("SPARK_MATH_NO_PLUGIN", "").lower() in {"1", "true", "yes"}:
        return
    if any(isinstance(f, _LmEvalFinder) for f in sys.meta_path):
        return
    for name, patch in _PATCHES.items():
        if name in sys.modules:  # lm-eval imported before us (e.g. the hook was imported late)
            try:
                patch(sys.modules[name])
            except Exception as exc:
                print(f"[spark-math] lm-eval plugin hook failed: {exc!r}", file=sys.stderr)
    sys.meta_path.insert(0, _LmEvalFinder())


try:
    install()
except Exception as exc:  # a .pth import line that raises would warn on every interpreter start
    print(f"[spark-math] lm-eval plugin hook not installed: {exc!r}", file=sys.stderr)
