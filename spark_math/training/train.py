"""Run a recipe with TRL's SFTTrainer, GRPOTrainer or DPOTrainer (LoRA/QLoRA through peft).

The run folder (`args.output_dir`) gets `checkpoint-N/` folders (a rerun resumes from the last
one), `log.jsonl` (every logged step: TRL's metrics plus wall time and, for GRPO without a KL
term, `kl_start`), `recipe.json` and, at the end, `final/` (the model or the LoRA adapter).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from .data import build_dataset, prompt_text
from .export import has_gpu
from .recipes import Recipe
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
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
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


def trl_config(recipe: Recipe):
    """TRL's config for the recipe's trainer, from `args` unchanged (plus CPU-safe defaults and
    the reward weights)."""
    from trl import DPOConfig, GRPOConfig, SFTConfig

    cls = {"sft": SFTConfig, "grpo": GRPOConfig, "dpo": DPOConfig}[recipe.trainer]
    args = dict(recipe.args)
    if not has_gpu():  # TRL defaults to bf16, which a CPU rejects (or emulates ~10x slower)
        args.setdefault("use_cpu", True)
        args.setdefault("bf16", False)
    if recipe.trainer == "grpo":
        args["reward_weights"] = [r.weight for r in recipe.rewards]
    try:
        return cls(**args)
    except TypeError as exc:
        raise ValueError(f"args: not a {cls.__name__} field ({exc})") from None


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

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16 if has_gpu() else torch.float32,
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
    dataset = Dataset.from_list(rows if rows is not None else build_dataset(recipe))
    out = recipe.output_dir
    common: dict[str, Any] = {
        "model": recipe.model,
        "args": config,
        "train_dataset": dataset,
        "peft_config": peft_config(recipe),
        "quantization_config": quantization_config(recipe),
    }
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


def train(recipe: Recipe, resume: bool = True) -> Path:
    """Train, resuming from the last checkpoint in the run folder; return the final model folder."""
    out = recipe.output_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(json.dumps(asdict(recipe), indent=2, default=str) + "\n")
    trainer = build_trainer(recipe)
    trainer.train(resume_from_checkpoint=last_checkpoint(out) if resume else None)
    final = out / FINAL_DIR
    trainer.save_model(str(final))
    return final
