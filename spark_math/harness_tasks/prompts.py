"""Prompt hooks for the task YAML files (`doc_to_text`/`doc_to_target` as `!function`).

Plain functions rather than Jinja strings: lm-eval compiles a Jinja template on every call,
which costs more than grading the answer.
"""

from __future__ import annotations

import json
from pathlib import Path

MINERVA_SHOTS = Path(__file__).with_name("minerva_4shot.jsonl")
ZERO_SHOT_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def zero_shot(doc: dict) -> str:
    """The problem and the Qwen2.5-Math instruction to reason and box the answer."""
    return f"{doc['problem']}\n{ZERO_SHOT_INSTRUCTION}"


def gsm8k_fewshot(doc: dict) -> str:
    """GSM8K's base-model format; worked examples end in `#### <answer>`."""
    return f"Question: {doc['problem']}\nAnswer:"


def math_fewshot(doc: dict) -> str:
    """Minerva's base-model format (Lewkowycz et al. 2022)."""
    return f"Problem:\n{doc['problem']}\n\nSolution:"


def answer(doc: dict) -> str:
    """The gold final answer (what the grader compares with)."""
    return doc["answer"]


def worked_solution(doc: dict) -> str:
    """A few-shot example's target: its reference solution."""
    return f" {doc['solution']}"


def math_fewshot_samples() -> list[dict]:
    """The 4 worked examples of Minerva's prompt, problems from MATH train."""
    with MINERVA_SHOTS.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]
