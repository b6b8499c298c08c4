"""Scoring hooks for the spark tasks: grade every sample once, then aggregate per document.

The YAML files run a `custom` filter (`grade_<profile>`) that turns each response into a verdict
record, `{"correct", "extracted", "reason", "group", "truncated", "tokens", "reasoning"}`
(`--log_samples` writes it as JSON text in `filtered_resps`, showing what the grader took and
why), and `process_results` turns a document's n verdicts into the metrics of `metric_names(n)`:

- `exact_match`: the first sample; `pass@1`: the mean over the n samples (= `exact_match` when
  greedy, = `avg@n` when sampled), the headline the groups average;
- n > 1: `pass@k` for k = 2, 4, 8, ... < n and k = n (the unbiased estimator of Chen et al. 2021
  from n >= k samples), `avg@n`, and `maj@n` (majority vote over classes of equivalent answers:
  `group` numbers them among a document's samples);
- shares of the samples that hit the token budget (`truncated`, reported when the backend says),
  that have no extractable answer (`no_answer`) and that contain reasoning (`reasoning`: a
  non-empty `<think>` block, or working before the answer: two or more non-empty lines, or 30
  words), and the mean generated length (`response_tokens`, when the backend counts tokens);
- API backends (`gemini`): the shares of requests without an answer (`blocked`, `empty`,
  `failed`), which are left out of every metric above.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from math import comb

from spark_math.grading import equivalent, grade
from spark_math.models.generation import NOT_ANSWERED, finish_of, status_of

REASONING_WORDS = 30
LOWER_IS_BETTER = {"truncated", "no_answer", "response_tokens", *NOT_ANSWERED}


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
    total = comb(n, k)
    return (total - comb(n - c, k)) / total


def has_reasoning(response: str) -> bool:
    """Whether a response shows reasoning: a non-empty `<think>` block, or (without one) more
    than the answer: two or more non-empty lines, or at least `REASONING_WORDS` words."""
    end = response.find("</think>")
    if end >= 0:
        start = response.find("<think>", 0, end)
        return bool(response[start + len("<think>") if start >= 0 else 0 : end].strip())
    lines = [line for line in response.splitlines() if line.strip()]
    return len(lines) >= 2 or len(response.split()) >= REASONING_WORDS


def grade_samples(
    responses: Sequence[str],
    gold: str,
    task: str,
    truncated: Sequence[bool | None] | None = None,
) -> list[GradedSample]:
    """Verdict records for one document's responses, equivalent answers sharing a `group`.
    `truncated` says per response whether generation hit the token limit (see `grade`); by
    default each response says it itself when it is a `Generation`."""
    records, representatives = [], []
    ends = [finish_of(r) for r in responses]
    cuts = truncated if truncated is not None else [cut for cut, _ in ends]
    for response, cut, (_, tokens) in zip(responses, cuts, ends, strict=True):
        status = status_of(response)
        if status in NOT_ANSWERED:
            records.append(_unanswered(status, tokens))
            continue
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
                truncated=cut,
                tokens=tokens,
                reasoning=has_reasoning(response),
                **({} if status is None else {"status": status}),
            )
        )
    return records


def _unanswered(status: str, tokens: int | None) -> GradedSample:
    """The record of a request that got no answer (failed, blocked, empty): not graded."""
    return GradedSample(
        correct=False,
        extracted=None,
        reason=status,
        group=None,
        truncated=False,
        tokens=tokens,
        reasoning=False,
        status=status,
    )


def majority_correct(records: Sequence[dict]) -> bool:
    """Whether the most frequent answer class is correct (ties go to the class seen first)."""
    votes = Counter(r["group"] for r in records if r["group"] is not None)
    if not votes:
        return False
    winner = max(votes, key=lambda g: (votes[g], -g))
    return next(r["correct"] for r in records if r["group"] == winner)


def pass_ks(n: int) -> list[int]:
    """The k of the `pass@k` reported from n samples: 1, 2, 4, ... below n, and n."""
    return sorted({2**i for i in range(n.bit_length()) if 2**i < n} | {n})


def metric_names(n: int) -> list[str]:
    """Every metric a task with n samples per document reports, in the order shown."""
    names = ["exact_match"] + [f"pass@{k}" for k in pass_ks(n)]
    if n > 1:
        names += [f"avg@{n}", f"maj@{n}"]
    return [
        *names,
        "truncated",
        "no_answer",
        "reasoning",
        "response_tokens",
        *sorted(NOT_ANSWERED),
    ]


def metric_list(n: int) -> list[dict]:
    """lm-eval `metric_list` entries for `metric_names(n)` (all averaged over documents)."""
    return [
        {"metric": name, "aggregation": "mean", "higher_is_better": name not in LOWER_IS_BETTER}
        for name in metric_names(n)
    ]


def sample_metrics(records: Sequence[dict]) -> dict[str, float]:
    """Per-document metrics from its verdict records (see the module docstring). Requests an API
    backend got no answer for (`status` failed, blocked or empty) are left out of every other
    metric and counted in `failed`, `blocked` and `empty`; a document without any answer has
    only those."""
    statuses = [r.get("status") for r in records]
    counts = {}
    if any(status is not None for status in statuses):
        counts = {name: statuses.count(name) / len(records) for name in sorted(NOT_ANSWERED)}
    answered = [r for r in records if r.get("status") not in NOT_ANSWERED]
    if not answered:
        return counts
    return _answered_metrics(answered, drawn=len(records)) | counts


def _answered_metrics(records: Sequence[dict], drawn: int) -> dict[str, float]:
    """Metrics over the answered records; names follow the `drawn` samples (`avg@8` when 7 of 8
    were answered, so every document reports the task's metrics), and pass@k needs k answers."""
    n = len(records)
    correct = sum(bool(r["correct"]) for r in records)
    scores = {"exact_match": float(records[0]["correct"])}
    scores.update({f"pass@{k}": pass_at_k(n, correct, k) for k in pass_ks(drawn) if k <= n})
    if drawn > 1:
        scores[f"avg@{drawn}"] = correct / n
        scores[f"maj@{drawn}"] = float(majority_correct(records))
    truncated = [r.get("truncated") for r in records]
    if None not in truncated:
        scores["truncated"] = sum(map(bool, truncated)) / n
    scores["no_answer"] = sum(r["extracted"] is None for r in records) / n
    scores["reasoning"] = sum(bool(r.get("reasoning")) for r in records) / n
    tokens = [r.get("tokens") for r in records]
    if None not in tokens:
        scores["response_tokens"] = sum(tokens) / n
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
grade_minerva = _grading_filter("minerva")
grade_choice = _grading_filter("choice")
grade_gaokao = _grading_filter("gaokao")
