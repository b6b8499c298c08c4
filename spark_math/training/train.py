"""Run a recipe with TRL's SFTTrainer, GRPOTrainer or DPOTrainer (LoRA/QLoRA through peft).

The run folder (`args.output_dir`) gets `checkpoint-N/` folders (a rerun resumes from the last
one and says so), `log.jsonl` (every logged step: TRL's metrics plus wall time and, for GRPO
without a KL term, `kl_start`), `recipe.json` and, at the end, `final/` (the model or the LoRA
adapter, with `spark_math_training.json`: the answer format, trainer and step it was trained to).
A rerun of a finished run (its `final/` record reaches the recipe's `max_steps`) trains nothing
and says "already finished", unless forced.

SPARKLE stage 2's hinted prompts end inside the assistant turn. TRL's GRPOTrainer renders a
conversational prompt with `add_generation_prompt=True`, which would close the hint as a finished
assistant message and open a new turn; so when any prompt is prefilled, every prompt is rendered
to text here (`data.render_prompt`: the hint continued with `continue_final_message=True`, the
others with the generation prompt) and GRPO sees plain-text prompts whose completion continues
the hint.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from .data import build_dataset, is_prefilled, prompt_text, render_prompt
from .export import (
    has_gpu,
    is_main_process,
    read_training_record,
    resolve_dtype,
    wait_for_everyone,
    write_training_record,
)
from .progress import quiet_libraries, show_progress
from .recipes import Recipe, RecipeError, config_class
from .rewards import build_reward

LOG_FILE = "log.jsonl"
FINAL_DIR = "final"


class RunLog(TrainerCallback):
    """Appends every log event to `<output_dir>/log.jsonl`; on resume, drops the events logged
    after the checkpoint (so each step appears once) and records `resumed_from`. With a
    `KLProbe`, adds `kl_start`."""

    def __init__(self, path: Path, probe: KLProbe | None = None) -> None:
        self.path = path
        self.probe = probe
        self.started = time.monotonic()

    def on_train_begin(self, args, state, control, **kwargs) -> None:
        if not state.is_world_process_zero:
            return
        kept = []
        if self.path.exists() and state.global_step > 0:
            lines = self.path.read_text(encoding="utf-8").splitlines()
            kept = [line for line in lines if json.loads(line)["step"] <= state.global_step]
        if kept:
            kept.append(json.dumps({"step": state.global_step, "resumed_from": state.global_step}))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def on_log(self, args, state, control, logs=None, model=None, **kwargs) -> None:
        record: dict[str, Any] = {"step": state.global_step, **(logs or {})}
        if self.probe is not None and model is not None and "loss" in record:
            record["kl_start"] = self.probe.kl(model)
        if not state.is_world_process_zero:
            return
        record["elapsed_s"] = round(time.monotonic() - self.started, 3)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


class KLProbe:
    """KL(start policy || current policy) per token, estimated on completions the starting
    policy sampled for a few fixed prompts (k3 estimator). TRL logs `kl` only when `beta > 0`;
    this tracks drift without a reference model. Saved next to the checkpoints for resumes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.batch: dict[str, Any] | None = None

    def prepare(self, model, tokenizer, prompts: list[Any], max_new_tokens: int) -> None:
        import torch

        if self.path.exists():
            self.batch = torch.load(self.path)
            return
        texts = [prompt_text(tokenizer, p) for p in prompts]
        side = tokenizer.padding_side
        tokenizer.padding_side = "left"
        # Text prompts are tokenized as TRL does (special tokens added); a rendered chat
        # template already holds its own.
        special = all(isinstance(p, str) for p in prompts)
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=special)
        tokenizer.padding_side = side
        enc = {k: v.to(model.device) for k, v in enc.items()}
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            ids = model.generate(
                **enc,
                do_sample=True,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
            )
        prompt_len = enc["input_ids"].shape[1]
        mask = torch.ones_like(ids)
        mask[:, :prompt_len] = enc["attention_mask"]
        completion = torch.zeros_like(ids)
        completion[:, prompt_len:] = ids[:, prompt_len:] != tokenizer.pad_token_id
        self.batch = {
            "input_ids": ids.cpu(),
            "attention_mask": mask.cpu(),
            "completion": completion,
        }
        self.batch["ref_logps"] = self._logps(model)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.batch, self.path)

    def _logps(self, model):
        import torch

        assert self.batch is not None
        ids = self.batch["input_ids"].to(model.device)
        mask = self.batch["attention_mask"].to(model.device)
        was_training = model.training
        model.eval()
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        model.train(was_training)
        logps = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        return logps.cpu()

    def kl(self, model) -> float:
        """The mean per-token k3 estimate of KL(start || current) on the probe completions."""
        import torch

        assert self.batch is not None
        log_ratio = self._logps(model) - self.batch["ref_logps"]  # log(current / start)
        k3 = torch.exp(log_ratio) - 1 - log_ratio
        tokens = self.batch["completion"][:, 1:].float()
        return float((k3 * tokens).sum() / tokens.sum().clamp(min=1))


def check_device(recipe: Recipe) -> None:
    """What this machine cannot run, in one line naming the recipe: QLoRA's 4-bit weights need
    bitsandbytes on a CUDA GPU."""
    if not recipe.qlora:
        return
    where = recipe.source or "recipe"
    if not has_gpu():
        raise RecipeError(
            f"{where}: qlora: true loads the base in 4-bit NF4, which needs a CUDA GPU and "
            "bitsandbytes; on a CPU pass qlora=false (the same LoRA adapter on float32 weights)"
        )
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is None:
        raise RecipeError(
            f"{where}: qlora: true needs bitsandbytes: pip install 'spark-math[qlora]'"
        )


def trl_config(recipe: Recipe):
    """TRL's config for the recipe's trainer, from `args` unchanged (plus CPU-safe defaults, the
    weights' dtype and the reward weights)."""
    check_device(recipe)
    cls = config_class(recipe.trainer)
    args = dict(recipe.args)
    if not has_gpu():  # TRL defaults to bf16, which a CPU rejects (or emulates ~10x slower)
        args.setdefault("use_cpu", True)
        args.setdefault("bf16", False)
    # TRL loads a model named by path in float32 unless told otherwise: the recipe's dtype
    # (auto: bfloat16 on a GPU) goes in model_init_kwargs, unless args already set one there.
    init = args.get("model_init_kwargs")
    if init is None or isinstance(init, dict):
        init = dict(init or {})
        init.setdefault("dtype", resolve_dtype(recipe.dtype))
        args["model_init_kwargs"] = init
    if recipe.trainer == "grpo":
        args["reward_weights"] = [r.weight for r in recipe.rewards]
    try:
        with warnings.catch_warnings():  # TRL's configs set it under the name transformers 5
            # deprecates, whatever the recipe says: nothing a user can act on
            warnings.filterwarnings("ignore", "`gradient_checkpointing` is deprecated")
            return cls(**args)
    except (TypeError, ValueError) as exc:
        message = " ".join(str(exc).split())
        raise RecipeError(f"{recipe.source or 'recipe'}: args: {cls.__name__}: {message}") from None


def peft_config(recipe: Recipe):
    """peft's LoraConfig for the recipe's `lora` section, or None."""
    if recipe.lora is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=recipe.lora.r,
        lora_alpha=recipe.lora.alpha,
        lora_dropout=recipe.lora.dropout,
        target_modules=recipe.lora.targets,
        task_type="CAUSAL_LM",
    )


def quantization_config(recipe: Recipe):
    """4-bit NF4 (QLoRA) when the recipe asks for it, else None."""
    if not recipe.qlora:
        return None
    import torch
    from transformers import BitsAndBytesConfig

    dtype = getattr(torch, resolve_dtype(recipe.dtype))
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype,
        # packed 4-bit weights stored in the model's dtype, which ZeRO-3 and FSDP need to shard
        # them alongside the other (bf16) parameters
        bnb_4bit_quant_storage=dtype,
    )


def last_checkpoint(output_dir: Path) -> str | None:
    """The newest complete `checkpoint-N` folder, or None. The trainer state is written last,
    so a folder without it is a save cut short by a kill and is skipped."""
    done = [
        p
        for p in output_dir.glob("checkpoint-*")
        if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()
    ]
    return str(max(done, key=lambda p: int(p.name.split("-")[-1]))) if done else None


def build_trainer(recipe: Recipe, rows: list[dict[str, Any]] | None = None):
    """The TRL trainer for a recipe, with the run-log callback (and KL probe for GRPO)."""
    from datasets import Dataset
    from trl import DPOTrainer, GRPOTrainer, SFTTrainer

    config = trl_config(recipe)
    rows = rows if rows is not None else build_dataset(recipe)
    out = recipe.output_dir
    common: dict[str, Any] = {
        "model": recipe.model,
        "args": config,
        "peft_config": peft_config(recipe),
        "quantization_config": quantization_config(recipe),
    }
    if recipe.trainer == "grpo" and any(is_prefilled(row["prompt"]) for row in rows):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(recipe.model, padding_side="left")
        rows = [dict(row, prompt=render_prompt(tokenizer, row["prompt"])) for row in rows]
        common["processing_class"] = tokenizer
    dataset = Dataset.from_list(rows)
    common["train_dataset"] = dataset
    if recipe.trainer == "sft":
        return SFTTrainer(**common, callbacks=[RunLog(out / LOG_FILE)])
    if recipe.trainer == "dpo":
        return DPOTrainer(**common, callbacks=[RunLog(out / LOG_FILE)])
    probe = KLProbe(out / "kl_probe.pt") if config.beta == 0 else None
    rewards = [build_reward(r.name, **r.params) for r in recipe.rewards]
    trainer = GRPOTrainer(**common, reward_funcs=rewards, callbacks=[RunLog(out / LOG_FILE, probe)])
    if probe is not None:
        prompts = dataset.select(range(min(8, len(dataset))))["prompt"]
        probe.prepare(
            trainer.model, trainer.processing_class, prompts, config.max_completion_length
        )
    return trainer


def finished_run(recipe: Recipe) -> dict[str, Any] | None:
    """The training record of the run folder's `final/` when the run is finished for this
    recipe (trained to at least its `max_steps`, when it sets one), else None."""
    record = read_training_record(recipe.output_dir / FINAL_DIR)
    if record is None or "global_step" not in record:
        return None
    max_steps = recipe.args.get("max_steps")
    if isinstance(max_steps, int) and max_steps > 0 and record["global_step"] < max_steps:
        return None
    return record


def _silent(_: str) -> None:
    """The messages of a non-main process (rank 0 prints them once)."""


def _step(checkpoint: str) -> int:
    return int(Path(checkpoint).name.split("-")[-1])


def train(
    recipe: Recipe,
    resume: bool = True,
    force: bool = False,
    echo: Callable[[str], None] = print,
    label: str | None = None,
) -> Path:
    """Train and return the final model folder. A finished run is left as it is ("already
    finished"); an unfinished one resumes from its last complete checkpoint ("resuming from
    step N"). `force` trains from step 0, deleting the run's checkpoints and final model first;
    `resume=False` starts from step 0 without deleting anything. Progress shows under `label`
    (default: the trainer's name) as a bar on a terminal, else as plain lines through `echo`."""
    out = recipe.output_dir
    final = out / FINAL_DIR
    main = is_main_process()  # under a multi-GPU launch, the files and messages are rank 0's
    if not main:
        echo = _silent
    done = finished_run(recipe)
    if done is not None and not force:
        step = done["global_step"]
        echo(f"{out}: already finished at step {step} ({final}); --force trains again")
        return final
    if force and main:
        stale = [*out.glob("checkpoint-*"), final, out / "kl_probe.pt"] if out.is_dir() else []
        stale = [path for path in stale if path.exists()]
        for path in stale:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        if stale:
            echo(f"{out}: --force: deleted the previous checkpoints and final model")
    wait_for_everyone()  # no rank looks for checkpoints while rank 0 deletes them
    checkpoint = last_checkpoint(out) if resume and not force else None
    if checkpoint is not None:
        echo(f"{out}: resuming from step {_step(checkpoint)} ({checkpoint})")
    else:
        echo(f"{out}: training from step 0")
    out.mkdir(parents=True, exist_ok=True)
    if main:
        text = json.dumps(asdict(recipe), indent=2, default=str) + "\n"
        (out / "recipe.json").write_text(text)
    with quiet_libraries():
        trainer = build_trainer(recipe)
        progress = show_progress(trainer, label or recipe.trainer.upper(), recipe.trainer, echo)
        try:
            trainer.train(resume_from_checkpoint=checkpoint)
        finally:
            progress.close()
        trainer.save_model(str(final))
    if trainer.is_world_process_zero():  # written last: its presence means finished
        write_training_record(
            final,
            {
                "format": recipe.format,
                "trainer": recipe.trainer,
                "model": recipe.model,
                "recipe": recipe.source,
                "global_step": trainer.state.global_step,
                "max_steps": trainer.state.max_steps,
            },
        )
        echo(f"{out}: finished at step {trainer.state.global_step} ({final})")
    return final
