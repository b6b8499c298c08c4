"""Export a trained checkpoint as a Hugging Face folder and score it with lm-eval.

`export` writes `<run>/export/`: the LoRA adapter merged into its base (a plain model folder),
or with `merge=False` the adapter alone, with the training record `spark_math_training.json`
(answer format, trainer, step) next to the weights. `evaluate` runs lm-eval on that folder (the
`vllm` backend when vLLM is installed, else `hf`) with the chat template applied, and writes
lm-eval's own results and sample files under `<run>/eval/`, where the leaderboard reads them.
`evaluate_checkpoint` first swaps each task for the one whose prompt asks for the folder's
recorded answer format (`spark_math.harness_tasks.formats.tasks_for_format`).
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ADAPTER_CONFIG = "adapter_config.json"
TRAINING_RECORD = "spark_math_training.json"


def write_training_record(folder: str | Path, record: dict[str, Any]) -> Path:
    """Write what a model folder was trained as (`format`, `trainer`, `global_step`, ...)."""
    path = Path(folder) / TRAINING_RECORD
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_training_record(folder: str | Path) -> dict[str, Any] | None:
    """The training record of a model folder, or None (not trained here, or a hub id)."""
    path = Path(folder) / TRAINING_RECORD
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def training_format(folder: str | Path) -> str | None:
    """The answer format a model folder was trained in, or None when it has no record."""
    record = read_training_record(folder)
    return record.get("format") if record else None


def is_adapter(path: str | Path) -> bool:
    """Whether `path` holds a LoRA adapter rather than a whole model."""
    return (Path(path) / ADAPTER_CONFIG).is_file()


def export(checkpoint: str | Path, out: str | Path, merge: bool = True) -> Path:
    """Write `checkpoint` to `out` as a loadable HF folder (merged, or the adapter alone)."""
    checkpoint, out = Path(checkpoint), Path(out)
    if out.exists():
        shutil.rmtree(out)  # a stale model file next to an adapter would be loaded instead
    if not is_adapter(checkpoint) or not merge:
        shutil.copytree(checkpoint, out, ignore=shutil.ignore_patterns("optimizer.pt", "rng_*"))
        return out
    import torch
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    # The adapter is merged into the base at full width (a QLoRA adapter too: merging into 4-bit
    # weights would round the update away): bfloat16 on a GPU, float32 on a CPU.
    dtype = getattr(torch, resolve_dtype("auto"))
    model = AutoPeftModelForCausalLM.from_pretrained(str(checkpoint), dtype=dtype)
    model = model.merge_and_unload()
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(checkpoint)).save_pretrained(out)
    record = read_training_record(checkpoint)
    if record is not None:
        write_training_record(out, record)
    return out


def default_backend() -> str:
    """`vllm` when vLLM is installed, else `hf`."""
    return "vllm" if importlib.util.find_spec("vllm") is not None else "hf"


def has_gpu() -> bool:
    """Whether torch sees a CUDA device."""
    import torch

    return torch.cuda.is_available()


def resolve_dtype(name: str = "auto") -> str:
    """A recipe's `dtype` as a torch dtype name: `auto` is bfloat16 on a CUDA GPU that supports
    it and float32 otherwise (a CPU, or an fp16-only GPU, where bf16 is emulated or missing)."""
    if name != "auto":
        return name
    if not has_gpu():
        return "float32"
    import torch

    return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"


# Multi-process launches (accelerate launch, torchrun): one process per GPU, all running the same
# command. Training is collective; exporting, scoring with lm-eval and sampling a model to mine
# data are not, and on every rank they would repeat the work N times, write the same files at
# once and (lm-eval, vLLM) mistake the launch's process group for their own. They run on the
# main process only; the others wait for its hand-off file (polling the disk, not a collective
# barrier: a mining or evaluation run outlasts NCCL's barrier timeout).

# The variables through which torchrun/accelerate tell a process it is one rank of many.
DISTRIBUTED_ENV = (
    "RANK",
    "LOCAL_RANK",
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "GROUP_RANK",
    "ROLE_RANK",
    "ROLE_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "TORCHELASTIC_RUN_ID",
    "TORCHELASTIC_RESTART_COUNT",
    "TORCHELASTIC_MAX_RESTARTS",
    "ACCELERATE_USE_DEEPSPEED",
    "ACCELERATE_DEEPSPEED_ZERO_STAGE",
    "ACCELERATE_DEEPSPEED_CONFIG_FILE",
    "ACCELERATE_USE_FSDP",
    "ACCELERATE_MIXED_PRECISION",
)


def distributed_state():
    """accelerate's `PartialState` under a multi-process launch (`WORLD_SIZE` > 1), else None
    (a plain `spark-math train` run: nothing to coordinate, no process group started)."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return None
    from accelerate import PartialState

    state = PartialState()
    return state if state.num_processes > 1 else None


def is_main_process() -> bool:
    """Whether this process is the launch's main process (always, for a single process)."""
    state = distributed_state()
    return state is None or state.is_main_process


def wait_for_everyone() -> None:
    """A collective barrier under a multi-process launch; nothing for a single process."""
    state = distributed_state()
    if state is not None:
        state.wait_for_everyone()


def run_on_main(work: Callable[[], Any], handoff: str | Path, poll_s: float = 5.0) -> Any:
    """`work()` on the main process only; every process returns its (JSON) result.

    A single process just runs it. Under a launch, the main process deletes a stale `handoff`,
    all processes meet at a barrier (they arrive together, so NCCL's timeout is no concern), the
    main process runs `work` and writes its result to `handoff` (atomically), and the others
    poll for that file and read it. If the main process fails, the launcher stops the others."""
    state = distributed_state()
    if state is None:
        return work()
    handoff = Path(handoff)
    if state.is_main_process:
        handoff.unlink(missing_ok=True)
    state.wait_for_everyone()
    if state.is_main_process:
        result = work()
        handoff.parent.mkdir(parents=True, exist_ok=True)
        partial = handoff.with_name(handoff.name + ".partial")
        partial.write_text(json.dumps(result), encoding="utf-8")
        partial.replace(handoff)
        return result
    while not handoff.exists():
        time.sleep(poll_s)
    return json.loads(handoff.read_text(encoding="utf-8"))


def single_process_environ() -> dict[str, str]:
    """This process's environment without the launch's rank variables: a child started with it
    (or vLLM's engine) sees one process of its own, not rank N of the training launch."""
    return {k: v for k, v in os.environ.items() if k not in DISTRIBUTED_ENV}


@contextlib.contextmanager
def single_process_env() -> Iterator[None]:
    """Hide the launch's rank variables from code run inside (vLLM reads them)."""
    saved = {k: os.environ.pop(k) for k in DISTRIBUTED_ENV if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def free_gpu_memory() -> None:
    """Return cached GPU memory to the device (after training, before vLLM or lm-eval)."""
    gc.collect()
    if has_gpu():
        import torch

        torch.cuda.empty_cache()


def model_args(model_dir: str | Path, backend: str) -> dict[str, Any]:
    """lm-eval `model_args` for an exported folder (a base plus adapter for an adapter folder)."""
    model_dir = Path(model_dir).resolve()
    dtype = "auto" if has_gpu() else "float32"
    if not is_adapter(model_dir):
        return {"pretrained": str(model_dir), "dtype": dtype}
    base = json.loads((model_dir / ADAPTER_CONFIG).read_text())["base_model_name_or_path"]
    if backend == "vllm":
        return {"pretrained": base, "lora_local_path": str(model_dir), "dtype": dtype}
    return {"pretrained": base, "peft": str(model_dir), "dtype": dtype}


def evaluate(
    model_dir: str | Path,
    tasks: Sequence[str],
    output_path: str | Path,
    *,
    limit: int | None = None,
    samples: dict[str, list[int]] | None = None,
    max_gen_toks: int | None = None,
    batch_size: str | int = "auto",
    include_path: str | None = None,
    backend: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Run lm-eval on `tasks`, save results and samples under `output_path`, return the
    per-task metrics (lm-eval's `results` section)."""
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker

    backend = backend or default_backend()
    tracker = EvaluationTracker(output_path=str(output_path))
    results = simple_evaluate(
        model=backend,
        model_args=model_args(model_dir, backend),
        tasks=list(tasks),
        limit=limit,
        samples=samples,
        batch_size=batch_size,
        device="cuda" if has_gpu() else "cpu",
        apply_chat_template=True,
        gen_kwargs={"max_gen_toks": max_gen_toks} if max_gen_toks else None,
        log_samples=True,
        evaluation_tracker=tracker,
        task_manager=_task_manager(tasks, include_path),
    )
    if results is None:  # a non-zero rank in a distributed run
        return {}
    logged = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=logged)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=logged[task])
    return results["results"]


def _task_manager(tasks: Sequence[str], include_path: str | None):
    """lm-eval's task index: the spark tasks and `include_path`, plus lm-eval's own thousands of
    tasks only when a task is not a spark task (indexing those takes seconds)."""
    from lm_eval.tasks import TaskManager

    from spark_math.harness_tasks import TASKS_DIR

    paths = [str(TASKS_DIR), *([include_path] if include_path else [])]
    spark_only = all(task.startswith("spark_") for task in tasks)
    return TaskManager(include_path=paths, include_defaults=not spark_only)


def evaluate_checkpoint(
    model_dir: str | Path, tasks: Sequence[str], output_path: str | Path, **kwargs: Any
) -> dict[str, dict[str, Any]]:
    """`evaluate` on the tasks whose prompts ask for the answer format the folder was trained in
    (its training record; boxed, the spark defaults' format, when it has none)."""
    from spark_math.harness_tasks.formats import tasks_for_format

    fmt = training_format(model_dir) or "boxed"
    return evaluate(model_dir, tasks_for_format(tasks, fmt), output_path, **kwargs)
