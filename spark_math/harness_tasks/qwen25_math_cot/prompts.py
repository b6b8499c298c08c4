"""Prompt hooks of the `qwen25-math-cot` preset (`doc_to_text` as `!function`).

Upstream: QwenLM/Qwen2.5-Math, commit a45202bd16f1ec06f433442dc1152d0074773465,
`evaluation/utils.py` (`PROMPT_TEMPLATES["qwen25-math-cot"]`, `load_prompt`, `construct_prompt`)
and `evaluation/sh/eval.sh` (which sets get few-shot examples).

Qwen's template is `<|im_start|>system\\n{INSTRUCTION}<|im_end|>\\n<|im_start|>user\\n{input}
<|im_end|>\\n<|im_start|>assistant\\n`. The task YAML gives INSTRUCTION as lm-eval's
`description`, which `--apply_chat_template` turns into the system message; these hooks give
`{input}`: the problem alone, or, where eval.sh asks for shots, Qwen's worked examples and the
problem in the same user turn (`"\\n\\n".join(q + "\\n" + a)`, then `"\\n\\n"`, then the problem).

- `aqua`, `sat_math`, `mmlu_stem` (eval.sh `--num_shots 5`): always the examples (aqua has 4;
  sat_math uses mmlu_stem's, as `load_prompt` maps it).
- `gaokao2024_I`, `gaokao2024_II`, `gaokao2024_mix`, `gaokao_math_qa`, `cn_middle_school`
  (eval.sh `--adapt_few_shot`): the 5 `gaokao` examples only when the gold is a single letter
  A-E, the problem alone otherwise. This reads the gold to pick the prompt, as upstream does.
- Every other set: the problem alone.

The problem is stripped of surrounding whitespace, as Qwen's `parse_question` returns it
(one OlympiadBench problem starts with a new line, one AMC 2023 problem ends with a space).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
EXAMPLES_FILE = Path(__file__).with_name("examples.json")
SPLITTER = "\n\n"  # PROMPT_TEMPLATES["qwen25-math-cot"][2]
SINGLE_LETTERS = ("A", "B", "C", "D", "E")


@cache
def examples(name: str) -> str:
    """Qwen's worked examples of `name` joined as `construct_prompt` does for qwen25-math-cot."""
    pairs = json.loads(EXAMPLES_FILE.read_text(encoding="utf-8"))["examples"][name]
    return SPLITTER.join(q + "\n" + a for q, a in pairs)


def problem(doc: dict) -> str:
    """The user turn of a zero-shot set: the problem alone."""
    return doc["problem"].strip()


def aqua(doc: dict) -> str:
    """AQuA: Qwen's 4 aqua examples, then the problem."""
    return examples("aqua") + SPLITTER + doc["problem"].strip()


def mmlu_stem(doc: dict) -> str:
    """MMLU-STEM and SAT math: Qwen's 5 mmlu_stem examples, then the problem."""
    return examples("mmlu_stem") + SPLITTER + doc["problem"].strip()


def gaokao_adaptive(doc: dict) -> str:
    """The Chinese exam sets: the 5 gaokao examples when the gold is one letter A-E."""
    if doc["answer"] in SINGLE_LETTERS:
        return examples("gaokao") + SPLITTER + doc["problem"].strip()
    return doc["problem"].strip()
