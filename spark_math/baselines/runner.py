"""Run matrix entries through the `lm_eval` command line, one subprocess each, resumably.

Entry NAME writes to `<results>/NAME/` exactly what `lm_eval --output_path --log_samples`
writes (`<model>/results_<date>.json` and the samples files), and records NAME in the tasks'
metadata (`spark_run_name`) so the leaderboard shows the row under it. An entry whose folder
already holds results covering all its tasks is skipped unless forced. An entry whose model
folder was trained here in an answer format other than boxed (its `spark_math_training.json`)
runs each task as the variant whose prompt asks for that format (`spark_gsm8k` ->
`spark_xml_gsm8k`; see `spark_math.harness_tasks.formats`).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .. import __version__
from ..leaderboard.results import RUN_NAME_KEY, covered_tasks
from .matrix import Entry

RESULTS_DIR = Path("out/baselines")
TINY_NAME = "tiny-qwen2-seed0"


@dataclass(frozen=True)
class Outcome:
    """What happened to one entry: `done`, `skipped`, `failed` or `planned` (dry run)."""

    name: str
    status: str
    detail: str


def cache_root() -> Path:
    """`$SPARK_MATH_CACHE_DIR`, else `~/.cache/spark_math` (shared with the gemini cache)."""
    return Path(os.environ.get("SPARK_MATH_CACHE_DIR") or Path.home() / ".cache" / "spark_math")


def tiny_model(cache: Path, build: bool = True) -> Path:
    """The tiny random model of `{tiny}` (qwen2, seed 0), built into the cache on first use."""
    path = cache / TINY_NAME
    if build and not (path / "config.json").is_file():
        from ..models.tiny import make_tiny_model

        make_tiny_model(path, arch="qwen2", seed=0)
    return path


def resolve(entry: Entry, cache: Path, build: bool = True) -> Entry:
    """The entry with `{tiny}` in its model_args replaced by the tiny model's path."""
    if not any("{tiny}" in str(v) for v in entry.model_args.values()):
        return entry
    tiny = str(tiny_model(cache, build))
    args = {
        k: v.replace("{tiny}", tiny) if isinstance(v, str) else v
        for k, v in entry.model_args.items()
    }
    return replace(entry, model_args=args)


MODEL_FOLDER_ARGS = ("peft", "lora_local_path", "pretrained")  # where a trained folder may be


def for_training_format(entry: Entry, echo: Callable[[str], None] = print) -> Entry:
    """The entry with its tasks swapped for those asking for the answer format its model was
    trained in (from the model folder's training record); unchanged for boxed or no record. A
    task with no such variant is kept, with a warning."""
    from ..harness_tasks.formats import FormatTaskError, tasks_for_format
    from ..training.export import training_format

    folders = [entry.model_args.get(key) for key in MODEL_FOLDER_ARGS]
    fmt = next((f for v in folders if isinstance(v, str) and (f := training_format(v))), None)
    if fmt is None or fmt == "boxed":
        return entry
    tasks: list[str] = []
    for task in entry.tasks:
        try:
            tasks.extend(tasks_for_format([task], fmt))
        except FormatTaskError:
            echo(f"[{entry.name}] warning: {task} has no {fmt} variant; it keeps its own prompt")
            tasks.append(task)
    tasks = list(dict.fromkeys(tasks))
    echo(f"[{entry.name}] trained in the {fmt} answer format: tasks {', '.join(tasks)}")
    return replace(entry, tasks=tuple(tasks))


def output_dir(entry: Entry, results_dir: Path) -> Path:
    return results_dir / entry.name


def finished(entry: Entry, results_dir: Path) -> Path | None:
    """The newest results file under the entry's folder that covers all its tasks and groups."""
    for path in sorted(output_dir(entry, results_dir).rglob("results*.json"), reverse=True):
        if set(entry.tasks) <= covered_tasks(path):
            return path
    return None


def command(entry: Entry, results_dir: Path) -> list[str]:
    """The `lm_eval` command line of an entry (placeholders already resolved)."""
    metadata = {RUN_NAME_KEY: entry.name, "spark_math_version": __version__}
    cmd = [
        sys.executable, "-m", "lm_eval",
        "--model", entry.backend,
        "--tasks", ",".join(entry.tasks),
        "--output_path", str(output_dir(entry, results_dir)),
        "--log_samples",
        "--metadata", json.dumps(metadata),
    ]  # fmt: skip
    if entry.model_args:
        cmd += ["--model_args", json.dumps(entry.model_args)]
    if entry.apply_chat_template is True:
        cmd.append("--apply_chat_template")
    elif entry.apply_chat_template:
        cmd += ["--apply_chat_template", str(entry.apply_chat_template)]
    if entry.system_instruction:
        cmd += ["--system_instruction", entry.system_instruction]
    if entry.gen_kwargs:
        cmd += ["--gen_kwargs", json.dumps(entry.gen_kwargs)]
    for flag, value in (
        ("--limit", entry.limit),
        ("--batch_size", entry.batch_size),
        ("--device", entry.device),
        ("--seed", entry.seed),
    ):
        if value is not None:
            cmd += [flag, str(value)]
    return cmd


def run_matrix(
    entries: list[Entry],
    results_dir: Path = RESULTS_DIR,
    *,
    force: bool = False,
    dry_run: bool = False,
    echo: Callable[[str], None] = print,
) -> list[Outcome]:
    """Run each entry's lm_eval command in turn; entries with results are skipped."""
    outcomes = []
    for entry in entries:
        entry = for_training_format(entry, echo)
        done = None if force else finished(entry, results_dir)
        if done is not None:
            echo(f"[{entry.name}] skipped: results exist ({done})")
            outcomes.append(Outcome(entry.name, "skipped", str(done)))
            continue
        cmd = command(resolve(entry, cache_root(), build=not dry_run), results_dir)
        echo(f"[{entry.name}] {shlex.join(cmd)}")
        if dry_run:
            outcomes.append(Outcome(entry.name, "planned", shlex.join(cmd)))
            continue
        returncode = subprocess.run(cmd, check=False).returncode
        written = finished(entry, results_dir)
        if returncode == 0 and written is not None:
            outcomes.append(Outcome(entry.name, "done", str(written)))
        else:
            why = f"lm_eval exited with {returncode}" if returncode else "no results written"
            outcomes.append(Outcome(entry.name, "failed", why))
        echo(f"[{entry.name}] {outcomes[-1].status}: {outcomes[-1].detail}")
    return outcomes
