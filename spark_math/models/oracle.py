"""`spark-oracle`: an lm-eval model that answers instantly from the gold answer.

For checking a task's plumbing end to end (the gold scores 1.0, garbage 0.0, a known mix gives
known avg@k/pass@k/maj@k) and for timing the harness without generation cost. It reads the gold
from the request's document (`answer`, or `Answer` for lm-eval's own AIME tasks); it never
looks at the prompt.

    lm_eval --model spark-oracle --model_args mode=mixed,correct_fraction=0.5 --tasks spark_aime24
"""

from __future__ import annotations

import math
from collections import Counter

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

MODES = ("gold", "garbage", "mixed")


@register_model("spark-oracle")
class OracleLM(LM):
    """Answers `generate_until` requests from the document's gold answer.

    `mode=gold`: every sample is a worked response ending in the boxed gold answer.
    `mode=garbage`: every sample is text with no final answer.
    `mode=mixed`: sample i of a document is correct when floor((i+1)f) > floor(i f), with
    f = `correct_fraction`, so a share f of the k samples is correct; the others box distinct
    wrong answers.
    """

    tokenizer_name = "spark-oracle"

    def __init__(self, mode: str = "gold", correct_fraction: float = 0.5, **_lm_eval: object):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"spark-oracle: mode must be one of {MODES}, got {mode!r}")
        if not 0.0 <= float(correct_fraction) <= 1.0:
            raise ValueError(
                f"spark-oracle: correct_fraction must be in [0, 1], got {correct_fraction}"
            )
        self.mode = mode
        self.fraction = float(correct_fraction)
        self._seen: Counter[tuple] = Counter()

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        return [self._respond(r) for r in requests]

    def _respond(self, request) -> str:
        doc = request.doc or {}
        key = (request.task_name, request.doc_id)
        i = self._seen[key]
        self._seen[key] += 1
        gold = str(doc.get("answer", doc.get("Answer", "")))
        correct = {
            "gold": True,
            "garbage": False,
            "mixed": math.floor((i + 1) * self.fraction) > math.floor(i * self.fraction),
        }[self.mode]
        if self.mode == "garbage":
            return "Let me think about this problem. Hmm, I am not sure how to"
        answer = gold if correct else f"{gold}{i + 1}9"
        return (
            f"Working through the problem step by step.\nThe final answer is $\\boxed{{{answer}}}$."
        )

    def apply_chat_template(self, chat_history, add_generation_prompt: bool = True) -> str:
        return "\n".join(f"{m['role']}: {m['content']}" for m in chat_history)

    def chat_template(self, chat_template=False) -> str:
        return "spark-oracle"

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("spark-oracle only answers generate_until requests")

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("spark-oracle only answers generate_until requests")
