"""Pathological inputs, the hard timeout, and property tests: never raise, never overrun."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spark_math.grading import Verdict, grade

SLACK = 0.5
SLOW_SYMPY = r"\boxed{(x+1)^{2000}}", "(x+1)^{2001}"  # expanding this takes sympy minutes

NESTED_FRACTION = "\\frac{1}{1+" * 10_000 + "1" + "}" * 10_000
PATHOLOGICAL = {
    "power tower": (r"The answer is $\boxed{10^{10^{10}}}$.", "10^{10^{10}}", True),
    "power tower vs small": (r"$\boxed{10^{10^{10}}}$", "5", False),
    "unbraced tower": (r"$\boxed{9^9^9^9}$", "1", False),
    "braced tower": (r"$\boxed{9^{9^{9^{9}}}}$", "9", False),
    "huge factorial": (r"$\boxed{(10^{8})!}$", "2", False),
    "huge exponent in sci notation": (r"$\boxed{1e999999999}$", "1", False),
    "10k nested fractions as prediction": (f"$\\boxed{{{NESTED_FRACTION}}}$", "1", False),
    "10k nested fractions as gold": (r"$\boxed{1}$", NESTED_FRACTION, False),
    "10k nested fractions inline": (f"The answer is {NESTED_FRACTION}.", "1", False),
    "100 kB of garbage": ("x+}{^\\frac" * 10_000, "1", False),
    "100 kB of open boxes": ("\\boxed{" * 14_000, "1", False),
    "100 kB of digits": ("9" * 100_000 + ".", "9", False),
    "deep braces then answer": ("{" * 50_000 + r"\boxed{7}", "7", True),
    "slow sympy": (*SLOW_SYMPY, False),
}


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_pathological_input_is_bounded(name: str) -> None:
    pred, gold, correct = PATHOLOGICAL[name]
    start = time.monotonic()
    verdict = grade(pred, gold, timeout=1.0)
    assert time.monotonic() - start < 1.0 + SLACK
    assert verdict.correct is correct, verdict


def test_slow_sympy_times_out_and_the_next_call_still_works() -> None:
    start = time.monotonic()
    verdict = grade(*SLOW_SYMPY, timeout=0.5)
    assert verdict == Verdict(False, "(x+1)^{2000}", "timeout")
    assert time.monotonic() - start < 0.5 + SLACK
    assert grade(r"$\boxed{\frac{\sqrt{2}}{2}}$", r"\frac{1}{\sqrt2}").correct


TIMEOUT = 1.5  # generous: two of the jobs below keep both CI cores busy until they are killed


def _timed_grade(args: tuple[str, str]) -> tuple[float, Verdict]:
    start = time.monotonic()
    verdict = grade(*args, timeout=TIMEOUT)
    return time.monotonic() - start, verdict


def test_timeout_holds_in_threads() -> None:
    jobs = [SLOW_SYMPY, *[(r"\boxed{\pi/2}", r"\frac{\pi}{2}")] * 2] * 2
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(_timed_grade, jobs))
    for (elapsed, verdict), job in zip(results, jobs, strict=True):
        assert elapsed < TIMEOUT + SLACK
        assert verdict.reason == ("timeout" if job == SLOW_SYMPY else "equal")


def test_timeout_holds_in_daemonic_pool_workers() -> None:
    # lm-eval and DataLoader workers are daemonic: they may not start multiprocessing children.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.map(_timed_grade, [SLOW_SYMPY, (r"\boxed{\pi/2}", r"\frac{\pi}{2}")])
    assert results[0][1].reason == "timeout" and results[0][0] < TIMEOUT + SLACK
    assert results[1][1].correct


_latex_atoms = st.sampled_from(
    [
        "\\frac",
        "\\sqrt",
        "\\boxed",
        "\\fbox",
        "{",
        "}",
        "^",
        "_",
        "(",
        ")",
        "[",
        "]",
        "\\{",
        "\\}",
        "1",
        "0",
        "9",
        "-",
        "+",
        ".",
        ",",
        "=",
        "x",
        "\\pi",
        "\\infty",
        "\\left(",
        "\\right)",
        "\\cup",
        "%",
        "$",
        "\\text{",
        "or",
        " ",
        "\n",
        "####",
        "The answer is",
        "</think>",
        "<think>",
        "<answer>",
        "</answer>",
        "\\begin{pmatrix}",
        "\\end{pmatrix}",
        "&",
        "\\\\",
        "!",
        "e",
        "10^{",
    ]
)
_latexish = st.lists(_latex_atoms, max_size=60).map("".join)
_any_text = st.one_of(st.text(max_size=300), _latexish)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pred=_any_text, gold=_any_text, task=st.sampled_from([None, "gsm8k", "math", "aime"]))
def test_never_raises_and_never_overruns(pred: str, gold: str, task: str | None) -> None:
    start = time.monotonic()
    verdict = grade(pred, gold, task=task, timeout=1.0)
    assert time.monotonic() - start < 1.0 + SLACK
    assert isinstance(verdict.correct, bool)
    assert verdict.reason in {"equal", "not-equal", "no-answer", "ambiguous", "timeout", "error"}
    assert verdict.correct == (verdict.reason == "equal")


@settings(max_examples=150, deadline=None)
@given(value=st.fractions(max_denominator=10**6) | st.integers(-(10**12), 10**12))
def test_exact_numbers_equal_themselves_and_not_their_neighbours(value) -> None:
    text = str(value)
    num, _, den = text.partition("/")
    latex = rf"\frac{{{num}}}{{{den}}}" if den else text
    assert grade(rf"$\boxed{{{latex}}}$", text).correct
    assert not grade(rf"$\boxed{{{latex}+1}}$", text).correct
