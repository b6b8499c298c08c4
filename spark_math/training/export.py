"""Export a trained checkpoint as a Hugging Face folder and score it with lm-eval.

`export` writes `<run>/export/`: the LoRA adapter merged into its base (a plain model folder),
or with `merge=False` the adapter alone. `evaluate` runs lm-eval on that folder (the `vllm`
backend when vLLM is installed, else `hf`) with the chat template applied, and writes lm-eval's
own results and sample files under `<run>/eval/`, where the leaderboard reads them.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ADAPTER_CONFIG = "adapter_config.json"


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
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    model = AutoPeftModelForCausalLM.from_pretrained(str(checkpoint)).merge_and_unload()
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(checkpoint)).save_pretrained(out)
    return out


def default_backend() -> str:
    """`vllm` when vLLM is installed, else `hf`."""
    return "vllm" if importlib.util.find_spec("vllm") is not None else "hf"


def has_gpu() -> bool:
    """Whether torch sees a CUDA device."""
    import torch

    return torch.cuda.is_available()


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
    from lm_eval.tasks import TaskManager

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
        task_manager=TaskManager(include_path=include_path),
    )
    if results is None:  # a non-zero rank in a distributed run
        return {}
    logged = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=logged)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=logged[task])
    return results["results"]
