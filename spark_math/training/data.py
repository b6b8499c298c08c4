"""Training datasets from the benchmark loaders: SFT, GRPO, hinted hard problems, DPO pairs.

Problems come from `spark_math.data.load_rows` (so `SPARK_MATH_DATA_DIR` works as for the
tasks). MATH train is not stored offline: the 4,500 MATH test problems outside MATH-500 stand
in for it, and rows flagged `in_math500` are never used for training.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spark_math.data import lineq, load_rows
from spark_math.grading import grade

from .export import (
    default_backend,
    free_gpu_memory,
    has_gpu,
    is_adapter,
    resolve_dtype,
    run_on_main,
    single_process_env,
)
from .formats import AnswerFormat, Messages, get_format
from .recipes import DataSpec, GenerateSpec, Recipe
from .rewards import count_calculations

Row = dict[str, Any]

_CALCULATOR = re.compile(r"<<[^<>]*>>")
_GSM8K_FINAL = re.compile(r"\n?####.*$", re.DOTALL)
_GRADER_TASK = {"gsm8k": "gsm8k", "math": "math", "lineq": "math"}
# Hand-off files in the run folder: the main process's mined rows, read by the other ranks.
HARD_FILE = "mined-hard.json"
PAIRS_FILE = "dpo-pairs.json"


def load_problems(spec: DataSpec) -> list[Row]:
    """The problems a recipe trains on, shuffled with `shuffle_seed` and cut to `limit`."""
    if spec.source == "jsonl":
        assert spec.path is not None
        lines = Path(spec.path).read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
    elif spec.source == "math":
        if spec.split != "train":
            raise ValueError("data.source math trains on split 'train' only")
        rows = [r for r in load_rows("math", "test") if not r["in_math500"]]
    elif spec.source == "lineq" and spec.lineq:
        rows = lineq.generate(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in spec.lineq.items()}
        )
    else:
        rows = load_rows(spec.source, spec.split)
    for row in rows:
        row.setdefault("task", row.get("task") or _GRADER_TASK.get(spec.source, "math"))
    random.Random(spec.shuffle_seed).shuffle(rows)
    return rows[: spec.limit] if spec.limit is not None else rows


def reasoning_text(row: Row) -> str:
    """The reference solution as reasoning: GSM8K loses its `<<...>>` and `#### N` marks."""
    solution = row.get("solution") or ""
    if row.get("task") == "gsm8k":
        solution = _GSM8K_FINAL.sub("", _CALCULATOR.sub("", solution))
    return solution.strip()


def sft_rows(rows: Sequence[Row], fmt: AnswerFormat, system: str | None) -> list[Row]:
    """Prompt/completion conversations: the reference solution written in the answer format."""
    out = [
        {
            "prompt": fmt.prompt(row["problem"], system),
            "completion": [
                {"role": "assistant", "content": fmt.completion(reasoning_text(row), row["answer"])}
            ],
        }
        for row in rows
        if row.get("solution")
    ]
    if not out:
        raise ValueError("SFT needs reference solutions, and none of these rows has one")
    return out


def grpo_rows(rows: Sequence[Row], fmt: AnswerFormat, system: str | None) -> list[Row]:
    """Prompts with the columns the rewards read: answer, task, answer_format and
    reference_steps (the calculations the reference solution writes after the prompt's hint, if
    any; None without a solution)."""
    out = []
    for row in rows:
        prompt = row.get("prompt") or fmt.prompt(row["problem"], system)
        steps = None
        if row.get("solution"):
            steps = count_calculations(reasoning_text(row))
            if is_prefilled(prompt):
                steps = max(0, steps - count_calculations(prompt[-1]["content"]))
        out.append(
            {
                "prompt": prompt,
                "answer": row["answer"],
                "task": row["task"],
                "answer_format": fmt.name,
                "reference_steps": steps,
            }
        )
    return out


def split_solution(text: str) -> list[str]:
    """Reasoning steps: paragraphs, else lines, else sentences."""
    for pattern in (r"\n\s*\n", r"\n", r"(?<=[.!?])\s+"):
        parts = [p.strip() for p in re.split(pattern, text.strip()) if p.strip()]
        if len(parts) > 1:
            return parts
    return [text.strip()]


def hinted_rows(
    rows: Sequence[Row], fmt: AnswerFormat, system: str | None, levels: Sequence[float]
) -> list[Row]:
    """Each problem as is, plus copies whose reasoning starts with the first `level` fraction of
    the reference solution's steps (SPARKLE stage 2). A hint never includes the step that states
    the final answer, so no level gives the answer away."""
    out = []
    for row in rows:
        out.append(dict(row, prompt=fmt.prompt(row["problem"], system), hint_level=0.0))
        steps = split_solution(reasoning_text(row)) if row.get("solution") else []
        seen = set()
        for level in levels:
            cut = min(round(level * len(steps)), len(steps) - 1)
            if cut <= 0 or cut in seen or any("\\boxed" in s for s in steps[:cut]):
                continue
            seen.add(cut)
            scaffold = "\n".join(steps[:cut])
            prompt = fmt.prompt(row["problem"], system, scaffold=scaffold)
            out.append(dict(row, prompt=prompt, hint_level=level))
    return out


def is_prefilled(prompt: Messages | str) -> bool:
    """Whether a conversational prompt ends in an assistant message the model must continue."""
    return isinstance(prompt, list) and bool(prompt) and prompt[-1].get("role") == "assistant"


def render_prompt(tokenizer, prompt: Messages | str) -> str:
    """A prompt as the text TRL should tokenize (`prompt_text`), less a leading BOS token that
    the tokenizer adds again itself (Llama-style templates write it, and so does tokenizing)."""
    text = prompt_text(tokenizer, prompt)
    bos = tokenizer.bos_token
    if bos and text.startswith(bos):
        ids = tokenizer("x")["input_ids"]
        if ids and ids[0] == tokenizer.bos_token_id:
            text = text[len(bos) :]
    return text


def prompt_text(tokenizer, prompt: Messages | str) -> str:
    """A prompt as the model reads it: a conversation through the chat template, ending in the
    assistant's turn, or continuing a prefilled assistant message (a stage-2 scaffold); plain
    text as it is."""
    if isinstance(prompt, str):
        return prompt
    prefilled = prompt[-1]["role"] == "assistant"
    return tokenizer.apply_chat_template(
        prompt,
        tokenize=False,
        add_generation_prompt=not prefilled,
        continue_final_message=prefilled,
    )


def sample_completions(
    model: str, prompts: Sequence[Messages], gen: GenerateSpec
) -> list[list[str]]:
    """`gen.samples` sampled completions of each conversational prompt: vLLM on a GPU when it
    is installed (a merged model folder or a hub id), transformers' `generate` otherwise."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model, padding_side="left")
    texts = [prompt_text(tokenizer, messages) for messages in prompts]
    if _use_vllm(model):
        return _generate_vllm(model, texts, gen)
    return _generate_hf(model, tokenizer, texts, gen)


def _use_vllm(model: str) -> bool:
    """vLLM on a GPU for a whole model folder or hub id; an adapter goes through peft."""
    return not is_adapter(model) and has_gpu() and default_backend() == "vllm"


def _generate_vllm(model: str, texts: list[str], gen: GenerateSpec) -> list[list[str]]:
    from vllm import LLM, SamplingParams

    params = SamplingParams(
        n=gen.samples, temperature=gen.temperature, max_tokens=gen.max_new_tokens
    )
    # Under a multi-GPU launch this runs on the main process only; vLLM must not take the
    # launch's rank variables for its own.
    with single_process_env():
        llm = LLM(model=model)
        outputs = llm.generate(texts, params)
    del llm
    free_gpu_memory()
    return [[choice.text for choice in output.outputs] for output in outputs]


def _generate_hf(model: str, tokenizer, texts: list[str], gen: GenerateSpec) -> list[list[str]]:
    import torch
    from transformers import AutoModelForCausalLM

    dtype = getattr(torch, resolve_dtype("auto"))  # bfloat16 on a GPU, float32 on a CPU
    if is_adapter(model):
        from peft import AutoPeftModelForCausalLM

        policy = AutoPeftModelForCausalLM.from_pretrained(model, dtype=dtype)
    else:
        policy = AutoModelForCausalLM.from_pretrained(model, dtype=dtype)
    if has_gpu():
        policy.to(torch.device("cuda", torch.cuda.current_device()))
    policy.eval()
    out: list[list[str]] = []
    for start in range(0, len(texts), gen.batch_size):
        batch = tokenizer(
            texts[start : start + gen.batch_size],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        ).to(policy.device)
        with torch.no_grad():
            ids = policy.generate(
                **batch,
                do_sample=True,
                temperature=gen.temperature,
                max_new_tokens=gen.max_new_tokens,
                num_return_sequences=gen.samples,
                pad_token_id=tokenizer.pad_token_id,
            )
        decoded = tokenizer.batch_decode(
            ids[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
        )
        out.extend(decoded[i : i + gen.samples] for i in range(0, len(decoded), gen.samples))
    del policy
    free_gpu_memory()
    return out


def mine_hard(
    rows: Sequence[Row], model: str, fmt: AnswerFormat, system: str | None, gen: GenerateSpec
) -> list[Row]:
    """The problems `model` solves in none of `gen.samples` tries."""
    prompts = [fmt.prompt(row["problem"], system) for row in rows]
    samples = sample_completions(model, prompts, gen)
    return [
        row
        for row, texts in zip(rows, samples, strict=True)
        if not any(grade(t, row["answer"], task=row["task"]).correct for t in texts)
    ]


def dpo_pairs(
    rows: Sequence[Row],
    model: str,
    fmt: AnswerFormat,
    system: str | None,
    gen: GenerateSpec,
    reference_chosen: bool,
) -> list[Row]:
    """Preference pairs from sampling `model`: graded-correct responses are chosen over
    graded-incorrect ones of the same prompt; with `reference_chosen`, the reference solution
    in the answer format is chosen where no sample is correct."""
    prompts = [fmt.prompt(row["problem"], system) for row in rows]
    pairs = []
    for row, prompt, texts in zip(
        rows, prompts, sample_completions(model, prompts, gen), strict=True
    ):
        verdicts = [grade(t, row["answer"], task=row["task"]).correct for t in texts]
        good = [t for t, ok in zip(texts, verdicts, strict=True) if ok]
        bad = list(dict.fromkeys(t for t, ok in zip(texts, verdicts, strict=True) if not ok))
        if not good and reference_chosen and row.get("solution"):
            good = [fmt.completion(reasoning_text(row), row["answer"])]
        pairs.extend(
            {
                "prompt": prompt,
                "chosen": [{"role": "assistant", "content": good[i % len(good)]}],
                "rejected": [{"role": "assistant", "content": rejected}],
            }
            for i, rejected in enumerate(bad if good else [])
        )
    return pairs


def build_dataset(recipe: Recipe) -> list[Row]:
    """The rows the recipe's trainer consumes (before conversion to a `datasets.Dataset`)."""
    fmt = get_format(recipe.format)
    spec, system = recipe.data, recipe.system_prompt
    rows = load_problems(spec)
    if recipe.trainer == "dpo" and rows and "chosen" in rows[0]:
        return [{k: row[k] for k in ("prompt", "chosen", "rejected")} for row in rows]
    # Sampling a model (hard problems, DPO pairs) runs on the main process of a multi-GPU
    # launch; the others read its result from the run folder (`export.run_on_main`).
    out = recipe.output_dir
    if spec.hard is not None:
        hard, model = spec.hard, spec.hard.model or recipe.model
        rows = run_on_main(lambda: mine_hard(rows, model, fmt, system, hard), out / HARD_FILE)
        rows = hinted_rows(rows, fmt, system, spec.hint_levels)
    if recipe.trainer == "sft":
        return sft_rows(rows, fmt, system)
    if recipe.trainer == "grpo":
        return grpo_rows(rows, fmt, system)
    gen = spec.pairs or GenerateSpec()
    model = gen.model or recipe.model
    return run_on_main(
        lambda: dpo_pairs(rows, model, fmt, system, gen, spec.reference_chosen),
        out / PAIRS_FILE,
    )
