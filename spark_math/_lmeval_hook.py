"""Startup hook that plugs spark-math into lm-eval without `--include_path`.

lm-eval 0.4.x discovers tasks only in its own folder and models only in its in-process registry.
`spark_math_lmeval.pth` (installed into site-packages) imports this module at interpreter start.
It imports nothing from lm-eval; a `sys.meta_path` finder waits for lm-eval's own modules to load
and then (1) makes every `TaskManager` also scan our task folder, before the user's include paths
so theirs still override, and (2) registers our model names as lazy registry placeholders.
Set `SPARK_MATH_NO_PLUGIN=1` to switch it off; `--include_path "$(spark-math tasks-dir)"` is the
explicit route. The entry points declared in pyproject.toml serve lm-eval versions that read them.
"""

from __future__ import annotations

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


def _register_models(module) -> None:
    import lm_eval.models  # noqa: F401  (built-ins first: lm-eval loads them only into an empty registry)

    for name, target in MODELS.items():
        if name not in module.model_registry:
            module.model_registry.register(name, target=target)


_PATCHES = {"lm_eval.tasks.manager": _patch_task_manager, "lm_eval.api.registry": _register_models}


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
