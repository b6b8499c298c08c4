"""Every `spark_*` task that README.md and docs/ name in backticks exists (the documented
commands themselves run in tests/test_documented_commands.py)."""

from __future__ import annotations

import re

import pytest
from test_documented_commands import ROOT, documents

lm_eval = pytest.importorskip("lm_eval")
from lm_eval.tasks import TaskManager  # noqa: E402

from spark_math.harness_tasks import TASKS_DIR  # noqa: E402

# `spark_`-names in the docs that are not lm-eval tasks: metadata keys.
NOT_TASKS = {"spark_max_prompt_chars", "spark_run_name", "spark_data_dir"}


def _named_tasks(text: str) -> set[str]:
    """Task names in backticks, `{a,b}` alternatives expanded; placeholders (`<bench>`) skipped."""
    names = set()
    for token in re.findall(r"`(spark_[A-Za-z0-9_{},*]+)`", text):
        parts = [token]
        while any("{" in p for p in parts):
            expanded = []
            for p in parts:
                m = re.search(r"\{([^}]*)\}", p)
                if not m:
                    expanded.append(p)
                    continue
                expanded += [p[: m.start()] + alt + p[m.end() :] for alt in m.group(1).split(",")]
            parts = expanded
        names |= {n for p in parts for n in p.split(",") if "*" not in n and not n.endswith("_")}
    return names


def test_every_task_the_docs_name_exists():
    from spark_math.training.quickstart import TASKS_DIR as QUICKSTART_TASKS  # its own tasks

    manager = TaskManager(
        include_path=[str(TASKS_DIR), str(QUICKSTART_TASKS)], include_defaults=False
    )
    known = set(manager.all_tasks)
    named = {
        (doc.relative_to(ROOT).as_posix(), name)
        for doc in documents()
        for name in _named_tasks(doc.read_text(encoding="utf-8"))
    }
    assert len({name for _, name in named}) > 25
    missing = sorted(
        f"{doc}: {name}"
        for doc, name in named
        if name not in known | NOT_TASKS and not name.startswith("spark_math")
    )
    assert not missing, missing
