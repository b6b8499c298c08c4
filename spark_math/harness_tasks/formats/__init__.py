"""Tasks whose prompt asks for a training answer format, and the choice of task for a model
trained in one.

A model trained in a format is scored with a prompt asking for that format:

- `boxed`: the spark defaults, `spark_<bench>` (their prompt is the boxed format's);
- `r1`: SPARKLE's preset `spark_sparkle_<bench>` (R1-Zero prompt) where one exists, else
  `spark_r1_<bench>` here;
- `xml`, `special-tokens`: `spark_xml_<bench>`, `spark_special_tokens_<bench>` here.

Another spark task (`spark_qwen_*`, `spark_lmeval_*`, `spark_<bench>_k8`, ...) asks for the boxed
format or its own, so it is refused for the other formats; a task that is not a spark task is the
user's own and is kept as named.

The tasks here include the plain `spark_<bench>` task (data, grader filter, decoding, k) and
replace only its prompt (`prompts.py`, the training instruction). Run
`python -m spark_math.harness_tasks.formats._generate` after changing the lists below; a test
checks that the committed files match.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

FORMATS_DIR = Path(__file__).resolve().parent
TASKS_DIR = FORMATS_DIR.parent
# The plain spark tasks (spark_<bench>) that have format variants.
BENCHMARKS = (
    "gsm8k",
    "math500",
    "hendrycks_math",
    "minerva_math",
    "olympiadbench",
    "lineq",
    "aime24",
    "aime25",
    "amc23",
)
SPARKLE_BENCHMARKS = ("gsm8k", "math500", "olympiadbench", "aime24", "amc23")
PREFIXES = {"r1": "spark_r1_", "xml": "spark_xml_", "special-tokens": "spark_special_tokens_"}
HOOKS = {"r1": "r1", "xml": "xml", "special-tokens": "special_tokens"}
GROUPS = {"spark_core": TASKS_DIR / "spark_core.yaml"}


class FormatTaskError(ValueError):
    """A task has no variant whose prompt asks for the format."""


def generated_tasks() -> dict[str, tuple[str, str]]:
    """Task name -> (format, benchmark) of every task in this folder."""
    out = {}
    for fmt, prefix in PREFIXES.items():
        for bench in BENCHMARKS:
            if fmt == "r1" and bench in SPARKLE_BENCHMARKS:
                continue
            out[f"{prefix}{bench}"] = (fmt, bench)
    return out


def task_for_format(task: str, fmt: str) -> str:
    """The task that scores `task`'s benchmark with a prompt asking for the answer format
    `fmt`; FormatTaskError when there is none among the spark tasks. A task that is not a spark
    task (`spark_*`) is the user's own: its prompt is theirs, and it is kept as it is."""
    if fmt == "boxed" or _asks_for(task, fmt) or not task.startswith("spark_"):
        return task
    bench = task.removeprefix("spark_")
    if task.startswith("spark_") and bench in BENCHMARKS:
        if fmt == "r1" and bench in SPARKLE_BENCHMARKS:
            return f"spark_sparkle_{bench}"
        if fmt in PREFIXES:
            return f"{PREFIXES[fmt]}{bench}"
    raise FormatTaskError(
        f"{task}: no task asks for the {fmt} answer format on its benchmark; use spark_<bench> "
        f"(bench: {', '.join(BENCHMARKS)}), which is scored with a {fmt} prompt"
    )


def tasks_for_format(tasks: Iterable[str], fmt: str) -> list[str]:
    """`task_for_format` of each task, groups of plain tasks (`spark_core`) expanded."""
    out: list[str] = []
    for task in tasks:
        if fmt != "boxed" and task in GROUPS:
            group = yaml.safe_load(GROUPS[task].read_text(encoding="utf-8"))
            members: Sequence[str] = group["task"]
            out.extend(task_for_format(member, fmt) for member in members)
        else:
            out.append(task_for_format(task, fmt))
    return list(dict.fromkeys(out))


def _asks_for(task: str, fmt: str) -> bool:
    if fmt == "r1" and task.startswith("spark_sparkle_"):
        return True
    return fmt in PREFIXES and task.startswith(PREFIXES[fmt])
