"""Seconds per GRPO step (TRL GRPOTrainer, generation included), with and without LoRA.

`--model-size tiny` is the test suite's random qwen2 (140k parameters, CPU); `0.5b` is a random
Qwen2.5-0.5B-shaped model (24 layers, hidden 896, vocab 151,936: ~494M parameters) for a GPU.
Each step generates `--prompts` x `--num-generations` completions of exactly
`--completion-tokens` tokens (EOS is suppressed so every run does the same work), scores them
with a dense reward and takes one optimizer step. The first `--warmup` steps are not timed.

    python benchmarks/train_step.py [--model-size tiny|0.5b] [--steps 10] [--lora both|on|off]

Prints one row per setting: median and min seconds per step, completions and generated tokens
per second.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from datasets import Dataset
from tabulate import tabulate
from transformers import AutoModelForCausalLM, GenerationConfig, Qwen2Config, TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from spark_math.models.tiny import build_tokenizer, make_tiny_model
from spark_math.training.rewards import build_reward

QWEN25_05B = dict(
    vocab_size=151_936,
    hidden_size=896,
    intermediate_size=4864,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    max_position_embeddings=4096,
    tie_word_embeddings=True,
    use_sliding_window=False,
)


class StepTimer(TrainerCallback):
    """Wall time of every optimizer step (generation, scoring, forward, backward, update)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def on_step_begin(self, args, state, control, **kwargs) -> None:
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.times.append(time.perf_counter() - self._start)


def write_model(size: str, folder: Path) -> tuple[Path, int]:
    """A random model of the given size with the tiny ChatML tokenizer."""
    if size == "tiny":
        path = make_tiny_model(folder / "tiny")
    else:
        tokenizer = build_tokenizer()
        eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
        pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
        config = Qwen2Config(**QWEN25_05B, bos_token_id=None, eos_token_id=eos, pad_token_id=pad)
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad)
        path = folder / "qwen2-0.5b-random"
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
    params = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(path).parameters())
    return path, params


def measure(model: Path, lora: bool, opts: argparse.Namespace, out: Path) -> list[float]:
    """Per-step seconds of the timed GRPO steps."""
    from peft import LoraConfig

    prompts = [
        [{"role": "user", "content": f"Solve {i}x + {i + 1} = {3 * i}. Put the answer in a box."}]
        for i in range(opts.prompts * (opts.steps + opts.warmup))
    ]
    dataset = Dataset.from_list([{"prompt": p, "answer": "1"} for p in prompts])
    gpu = torch.cuda.is_available()
    config = GRPOConfig(
        output_dir=str(out),
        max_steps=opts.steps + opts.warmup,
        per_device_train_batch_size=opts.prompts * opts.num_generations,
        num_generations=opts.num_generations,
        max_completion_length=opts.completion_tokens,
        generation_kwargs={"min_new_tokens": opts.completion_tokens},
        learning_rate=1e-5,
        use_cpu=not gpu,
        bf16=gpu,
        gradient_checkpointing=False,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        shuffle_dataset=False,
    )
    timer = StepTimer()
    trainer = GRPOTrainer(
        model=str(model),
        reward_funcs=[build_reward("length", mode="target", target=200, unit="chars")],
        args=config,
        train_dataset=dataset,
        peft_config=LoraConfig(r=16, lora_alpha=32, target_modules="all-linear") if lora else None,
        callbacks=[timer],
    )
    trainer.train()
    return timer.times[opts.warmup :]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-size", choices=("tiny", "0.5b"), default="tiny")
    parser.add_argument("--lora", choices=("both", "on", "off"), default="both")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--prompts", type=int, default=4, help="prompts per step")
    parser.add_argument("--num-generations", type=int, default=8)
    parser.add_argument("--completion-tokens", type=int, default=64)
    opts = parser.parse_args()
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model, params = write_model(opts.model_size, Path(tmp))
        for lora in {"both": (False, True), "on": (True,), "off": (False,)}[opts.lora]:
            times = measure(model, lora, opts, Path(tmp) / f"run-{lora}")
            completions = opts.prompts * opts.num_generations
            median = statistics.median(times)
            rows.append(
                [
                    f"{opts.model_size} ({params / 1e6:.1f}M)",
                    "LoRA r=16" if lora else "full",
                    device,
                    f"{median:.2f}",
                    f"{min(times):.2f}",
                    f"{completions / median:.1f}",
                    f"{completions * opts.completion_tokens / median:.0f}",
                ]
            )
    headers = ["model", "weights", "device", "s/step (median)", "s/step (min)", "compl/s", "tok/s"]
    print(
        f"GRPO, {opts.prompts} prompts x {opts.num_generations} generations x "
        f"{opts.completion_tokens} tokens per step, {opts.steps} timed steps"
    )
    print(tabulate(rows, headers=headers, tablefmt="github"))


if __name__ == "__main__":
    main()
