"""Harness overhead: lm-eval wall time per sample, spark tasks against lm-eval's built-ins.

Both sides run through `lm_eval.simple_evaluate` with the same instant model (`spark-oracle`,
which answers from the gold without generating), so the time is lm-eval plus each task's data
loading, prompt building, answer extraction and scoring. lm-eval's `gsm8k_cot_zeroshot`,
`minerva_math500` and `aime24` normally load from the hub; here they are pointed at the same
local rows (upstream field names) through a small include YAML, everything else unchanged.

    SPARK_MATH_DATA_DIR=../shared/datasets HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 \
        python benchmarks/harness_overhead.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import lm_eval
import lm_eval.tasks
import yaml
from lm_eval.tasks import TaskManager
from tabulate import tabulate

from spark_math.harness_tasks import TASKS_DIR
from spark_math.models.oracle import OracleLM

BUILTIN_DIR = Path(lm_eval.tasks.__file__).parent
SPARK_CORE = yaml.safe_load((TASKS_DIR / "spark_core.yaml").read_text(encoding="utf-8"))["task"]


def write_builtin_tasks(data_dir: Path, out: Path) -> list[str]:
    """Include YAMLs that run lm-eval's own tasks on the local copies of their data."""
    rows = {
        name: [json.loads(line) for line in (data_dir / name.replace("_train", "") / split).open()]
        for name, split in [
            ("gsm8k", "test.jsonl"),
            ("gsm8k_train", "train.jsonl"),
            ("math500", "test.jsonl"),
            ("aime24", "test.jsonl"),
        ]
    }
    files = {
        f"{name}.jsonl": [{"question": r["problem"], "answer": r["solution"]} for r in rows[name]]
        for name in ("gsm8k", "gsm8k_train")
    } | {
        "math500.jsonl": [
            {k: r[k] for k in ("problem", "solution", "answer", "subject", "level", "unique_id")}
            for r in rows["math500"]
        ],
        "aime24.jsonl": [
            {
                "ID": r["id"],
                "Problem": r["problem"],
                "Solution": r["solution"],
                "Answer": r["answer"],
            }
            for r in rows["aime24"]
        ],
    }
    for name, items in files.items():
        with (out / name).open("w") as f:
            f.writelines(json.dumps(item) + "\n" for item in items)
    specs = {
        "gsm8k_cot_zeroshot": (
            "gsm8k/gsm8k-cot-zeroshot.yaml",
            {"test": "gsm8k.jsonl", "train": "gsm8k_train.jsonl"},
        ),
        "minerva_math500": ("minerva_math/minerva_math500.yaml", {"test": "math500.jsonl"}),
        "aime24": ("aime/aime24.yaml", {"train": "aime24.jsonl"}),
    }
    for task, (yaml_path, data_files) in specs.items():
        files_yaml = ", ".join(f"{split}: {out / name}" for split, name in data_files.items())
        (out / f"{task}_local.yaml").write_text(
            f"include: {BUILTIN_DIR / yaml_path}\n"
            f"task: {task}_local\n"
            "dataset_path: json\n"
            "dataset_name: null\n"
            f"dataset_kwargs: {{data_files: {{{files_yaml}}}}}\n"
        )
    return [f"{task}_local" for task in specs]


def time_task(task_manager: TaskManager, task: str) -> tuple[int, float, float]:
    """(samples, seconds, exact_match) of one simple_evaluate run with the oracle."""
    start = time.perf_counter()
    out = lm_eval.simple_evaluate(
        model=OracleLM(mode="gold"), tasks=[task], task_manager=task_manager, log_samples=False
    )
    seconds = time.perf_counter() - start
    n = out["n-samples"][task]["effective"] * out["configs"][task].get("repeats", 1)
    score = next(v for k, v in out["results"][task].items() if k.startswith("exact_match,"))
    return n, seconds, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per task; the best is kept")
    args = parser.parse_args()
    data_dir = Path(os.environ["SPARK_MATH_DATA_DIR"])
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        builtins = write_builtin_tasks(data_dir, Path(tmp))
        manager = TaskManager(include_path=[str(TASKS_DIR), tmp], include_defaults=False)
        rows = []
        for task in SPARK_CORE + builtins:
            runs = [time_task(manager, task) for _ in range(args.repeat)]
            n, seconds, score = min(runs, key=lambda r: r[1])
            rows.append([task, n, f"{seconds:.2f}", f"{1000 * seconds / n:.2f}", f"{score:.3f}"])
    print(
        tabulate(
            rows,
            headers=["task", "samples", "best wall s", "ms/sample", "exact_match (gold)"],
            tablefmt="github",
        )
    )


if __name__ == "__main__":
    main()
