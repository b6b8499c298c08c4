"""Prompts of lm-eval's few-shot math tasks, for our documents (`problem` field).

Sources (lm-eval 0.4.13, `lm_eval/tasks/`): `gsm8k/gsm8k-cot.yaml` (`doc_to_text`
`Q: {{question}}\\nA:`, the 8 exemplars of `fewshot_config.samples`, targets as written there) and
`minerva_math/utils.py` (`doc_to_text`, `list_fewshot_samples`; few-shot targets are the
exemplar solutions). The exemplars are copied into `exemplars.json`; lm-eval itself adds the
target delimiter (" ") between a prompt and its target and the few-shot delimiter ("\\n\\n") after
each exemplar, so no text here carries them. tests/test_protocol_lmeval.py renders both tasks
with lm-eval's own configs and compares.
"""

from __future__ import annotations

import json
from pathlib import Path

_EXEMPLARS = json.loads(Path(__file__).with_name("exemplars.json").read_text(encoding="utf-8"))


def gsm8k_cot(doc: dict) -> str:
    """gsm8k_cot's `Q: {{question}}\\nA:`."""
    return f"Q: {doc['problem']}\nA:"


def gsm8k_cot_samples() -> list[dict]:
    """gsm8k_cot's 8 exemplars (Wei et al. 2022), `problem` and `target`."""
    return [dict(shot) for shot in _EXEMPLARS["gsm8k_cot"]]


def gsm8k_cot_target(doc: dict) -> str:
    """An exemplar's chain of thought, ending in `The answer is N.`"""
    return doc["target"]


def minerva_math(doc: dict) -> str:
    """minerva_math's `Problem:\\n{problem}\\n\\nSolution:`."""
    return f"Problem:\n{doc['problem']}\n\nSolution:"


def minerva_math_samples() -> list[dict]:
    """minerva_math's 4 exemplars (Lewkowycz et al. 2022), `problem` and `solution`."""
    return [dict(shot) for shot in _EXEMPLARS["minerva_math"]]


def minerva_solution(doc: dict) -> str:
    """An exemplar's solution, ending in `Final Answer: The final answer is $X$. ...`"""
    return doc["solution"]
