"""One grader for every score spark-math reports: answer extraction plus equivalence.

    >>> from spark_math.grading import grade
    >>> grade("So she makes $18 per day.", "18", task="gsm8k")
    Verdict(correct=True, extracted='18', reason='equal')

`grade` never raises on model output and never runs past `timeout` (plus a few milliseconds):
sympy work happens in a forked worker that is killed at the deadline (`guard`). Reasons:
"equal", "not-equal", "no-answer" (nothing final to grade: empty, truncated, still thinking,
retracted), "ambiguous" (several candidate values, a hedge or a negation), "timeout", "error".

How it is built, and which anchor fails where (measured in ../shared/notes/grader-anchors.md and
benchmarks/grader_bench.py):

- Locating the answer (`extract`): lm-eval's GSM8K regexes need "#### N" (strict) or take the last
  "number-like" token, which is "$." for "$\\boxed{18}$." and "000." for "1 000." (flexible);
  math-verify knows no `<answer>` tags and grades a number from the reasoning, accepts hedges
  ("18 or 20") and the last number of a truncated response; minerva reads only "Final Answer: The
  final answer is X"; ZeroEval reads only a JSON `answer` field and takes its first number. We
  take the last box/tag/JSON answer/marker after `</think>`, or a last line that is a labelled or
  bare number ("A: 18"), keep same-line boxes as a list, treat a retracted answer as "no-answer",
  decide truncation from evidence (`truncated`, an unclosed environment) rather than from a full
  stop, and fall back to the last number of a finished response only for GSM8K.
- Normalising (`normalize`): Hendrycks `strip_string` misses `0.5` = `\\frac12` and 27 = 27.0;
  minerva keeps only the text after the last "=" (so two equations ending in "= 0" match) and fails
  to parse identical tuples and intervals; Qwen's `strip_string` erases `\\text{east}`. We strip
  presentation only (delimiters, spacing, `\\text` wrappers, units after numbers, degrees, percent,
  thousands separators) and keep structure: tuples, intervals with their brackets, sets, unordered
  lists, unions, matrices, equations, option letters, words.
- Comparing (`compare`, `numbers`): Qwen compares every number with `rel_tol=1e-4` (70005 = 70000)
  and rescales by 100 without a percent sign (8 = 800); math-verify rounds floats to 6 decimals and
  `chop`s tiny differences (2^-99 = 2^-98). We compare numbers exactly as fractions, rescale percent
  only when exactly one side has a `%` (and only for LaTeX benchmarks), and refuse to compute
  values of more than ~12,000 digits (`10^{10^{10}}`, `9^9^9^9`).
- Symbolic (`symbolic`): math-verify's parser and `verify` for what is left, with constant
  expressions compared at 50 digits and equations equal up to a non-zero factor.
- Bounding time (`guard`): math-verify's SIGALRM timeout fails off the main thread (its issue #63,
  #65) and cannot stop C-level bigint work; minerva also uses SIGALRM; Qwen has no timeout. Work
  done in-process is bounded by size: a response over `MAX_FAST_RESPONSE` characters is graded
  whole in the worker, and answers over `MAX_FAST_ANSWERS` characters are compared there, so the
  deadline covers extraction and comparison too.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from . import guard, symbolic
from .compare import Outcome, compare
from .extract import locate_answer
from .guard import HardTimeout, run_guarded
from .normalize import analyze, analyze_gold
from .profiles import PROFILES, Profile, resolve_profile

__all__ = ["PROFILES", "Profile", "Verdict", "equivalent", "extract_answer", "grade"]

logger = logging.getLogger(__name__)
MAX_FAST_RESPONSE = 10_000  # characters extracted in-process: about 10 ms at worst
MAX_FAST_ANSWERS = 256  # characters of gold and answer compared in-process: a few ms
guard.warm_up(symbolic.warm_up_steps())


@dataclass(frozen=True)
class Verdict:
    """The grade of one prediction: `extracted` is the answer taken from it (None if none)."""

    correct: bool
    extracted: str | None
    reason: str


def extract_answer(
    prediction: str, task: str | None = None, *, truncated: bool | None = None
) -> str | None:
    """The final answer of a model response under the task's conventions, or None."""
    return locate_answer(_as_text(prediction), resolve_profile(task), truncated)


def grade(
    prediction: str,
    gold: str,
    *,
    task: str | None = None,
    timeout: float = 2.0,
    truncated: bool | None = None,
) -> Verdict:
    """Grade a model response against a gold answer within `timeout` seconds of wall time.

    `task` picks the answer conventions: a profile name ("gsm8k", "math", "aime", "amc",
    "olympiadbench", "minerva") or a task name containing one ("spark_aime24"); None means "math".
    `truncated` is what the backend recorded: True when generation hit the token limit
    (`finish_reason == "length"`), False when the model stopped by itself, None when unknown (the
    text's own evidence decides: an unfinished line or an unclosed environment).
    """
    deadline = time.monotonic() + timeout
    profile = resolve_profile(task)
    prediction, gold = _as_text(prediction), _as_text(gold)
    if len(prediction) + len(gold) <= MAX_FAST_RESPONSE:
        return _grade(prediction, gold, profile, truncated, deadline)
    try:
        return run_guarded(_grade, (prediction, gold, profile, truncated, None), deadline)
    except HardTimeout:
        return Verdict(False, None, "timeout")
    except Exception:  # the worker died
        logger.warning("grading failed for a %d-character response", len(prediction), exc_info=True)
        return Verdict(False, None, "error")


def equivalent(a: str, b: str, *, task: str | None = None, timeout: float = 2.0) -> bool:
    """Whether two extracted answers are the same answer (for majority votes over samples)."""
    if a == b:
        return True
    deadline = time.monotonic() + timeout
    try:
        return _compare(_as_text(a), _as_text(b), resolve_profile(task), deadline).correct
    except Exception:  # HardTimeout included: undecided answers are kept apart
        return False


def _grade(
    prediction: str, gold: str, profile: Profile, truncated: bool | None, deadline: float | None
) -> Verdict:
    """`grade` here; `deadline` None means here is the worker, whose caller keeps the deadline."""
    extracted = None
    try:
        extracted = locate_answer(prediction, profile, truncated)
        if extracted is None:
            return Verdict(False, None, "no-answer")
        outcome = _compare(gold, extracted, profile, deadline)
        return Verdict(outcome.correct, extracted, outcome.reason)
    except HardTimeout:
        return Verdict(False, extracted, "timeout")
    except Exception:  # the grader must survive any model output
        logger.warning("grading failed for extracted answer %.80r", extracted, exc_info=True)
        return Verdict(False, extracted, "error")


def _compare(gold: str, pred: str, profile: Profile, deadline: float | None) -> Outcome:
    """`compare` in-process with sympy in the worker, or all of it in the worker for long answers
    (their structure can make matching quadratic)."""
    if deadline is None:
        return compare(analyze_gold(gold), analyze(pred), profile, symbolic.equal_pairs)
    if len(gold) + len(pred) > MAX_FAST_ANSWERS:
        return run_guarded(_compare, (gold, pred, profile, None), deadline)
    return compare(
        analyze_gold(gold),
        analyze(pred),
        profile,
        lambda pairs: run_guarded(symbolic.equal_pairs, (list(pairs),), deadline),
    )


def _as_text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
