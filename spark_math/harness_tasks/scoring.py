"""Scoring hooks for the spark tasks: grade every sample once, then aggregate per document.

The YAML files run a `custom` filter (`grade_<profile>`) that turns each response into a verdict
record, `{"correct", "extracted", "reason", "group"}` (`--log_samples` writes it as JSON text in
`filtered_resps`, showing what the grader took and why), and `process_results` turns a
document's k verdicts into `exact_match` (the first sample) and, when k > 1, `avg@k`, `pass@k`
(Chen et al. 2021) and `maj@k`. `group` numbers the classes of equivalent answers among a
document's samples; `maj@k` votes over those classes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from math import comb

from spark_math.grading import equivalent, grade


class GradedSample(dict):
    """A verdict record; prints as JSON, which is how lm-eval's sample logs store it."""

    def __str__(self) -> str:
        return json.dumps(self, ensure_ascii=False)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021, eq. 1)."""
    if not 0 < k <= n or not 0 <= c <= n:
        raise ValueError(f"pass@k needs 0 < k <= n and 0 <= c <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def grade_samples(
    responses: Sequence[str],
    gold: str,
    task: str,
    truncated: Sequence[bool | None] | None = None,
) -> list[GradedSample]:
    """Verdict records for one document's responses, equivalent answers sharing a `group`;
    `truncated` says per response whether generation hit the token limit (see `grade`)."""
    records, representatives = [], []
    for response, cut in zip(responses, truncated or [None] * len(responses), strict=True):
        verdict = grade(response, gold, task=task, truncated=cut)
        group = None
        if verdict.extracted is not None:
            group = next(
                (
                    i
                    for i, rep in enumerate(representatives)
                    if equivalent(rep, verdict.extracted, task=task)
                ),
                None,
            )
            if group is None:
                group = len(representatives)
                representatives.append(verdict.extracted)
        records.append(
            GradedSample(
                correct=verdict.correct,
                extracted=verdict.extracted,
                reason=verdict.reason,
                group=group,
            )
        )
    return records


def majority_correct(records: Sequence[dict]) -> bool:
    """Whether the most frequent answer class is correct (ties go to the class seen first)."""
    votes = Counter(r["group"] for r in records if r["group"] is not None)
    if not votes:
        return False
    winner = max(votes, key=lambda g: (votes[g], -g))
    return next(r["correct"] for r in records if r["group"] == winner)


def sample_metrics(records: Sequence[dict]) -> dict[str, float]:
    """Per-document metrics from its verdict records."""
    k = len(records)
    correct = sum(bool(r["correct"]) for r in records)
    scores = {"exact_match": float(records[0]["correct"])}
    if k > 1:
        scores[f"avg@{k}"] = correct / k
        scores[f"pass@{k}"] = pass_at_k(k, correct, k)
        scores[f"maj@{k}"] = float(majority_correct(records))
    return scores


def process_results(doc: dict, results: list) -> dict[str, float]:
    """lm-eval `process_results`: `results[0]` holds the document's graded samples."""
    return sample_metrics(results[0])


def _grading_filter(task: str):
    def apply(resps: list[list[str]], docs: list[dict]) -> list[list[dict]]:
        return [grade_samples(r, doc["answer"], task) for r, doc in zip(resps, docs, strict=True)]

    apply.__name__ = apply.__qualname__ = f"grade_{task}"
    apply.__doc__ = f"lm-eval `custom` filter: grade responses with the {task!r} profile."
    return apply


grade_gsm8k = _grading_filter("gsm8k")
grade_math = _grading_filter("math")
grade_aime = _grading_filter("aime")
grade_amc = _grading_filter("amc")
grade_olympiadbench = _grading_filter("olympiadbench")
