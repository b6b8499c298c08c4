"""Prompt hooks for the task YAML files (`doc_to_text`/`doc_to_target` as `!function`).

Plain functions rather than Jinja strings: lm-eval compiles a Jinja template on every call,
which costs more than grading the answer. The protocol presets keep their own prompts
(`sparkle/prompts.py`, `lmeval_fewshot/prompts.py`).
"""

from __future__ import annotations

ZERO_SHOT_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def zero_shot(doc: dict) -> str:
    """The spark defaults' prompt: the problem, then Qwen2.5-Math's instruction to reason and
    box the answer, both in the user turn (Qwen's own `qwen25-math-cot` puts the instruction in
    the system message: the `spark_qwen_*` tasks)."""
    return f"{doc['problem']}\n{ZERO_SHOT_INSTRUCTION}"


def answer(doc: dict) -> str:
    """The gold final answer (what the grader compares with)."""
    return doc["answer"]
