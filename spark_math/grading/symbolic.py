"""Symbolic equivalence through math-verify and sympy; runs inside the guarded worker process.

math-verify does the LaTeX parsing and most of the comparison. Two of its verdicts are replaced:
constant expressions are compared at 50 significant digits instead of its `chop=True` evaluation
(which calls 2^-99 equal to 2^-98) and its 6-decimal rounding of floats; equations are also equal
when one is a non-zero multiple of the other (`2x+4y=6` and `x+2y=3`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import lru_cache, partial

import sympy
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

# Timeouts are enforced by killing the worker process; math-verify's SIGALRM ones are switched off
# and it warns about that once per process.
logging.getLogger("math_verify").setLevel(logging.ERROR)

_EXTRACTION = (LatexExtractionConfig(), ExprExtractionConfig())
_DIGITS = 50
_WARM_UP = (  # one pair of each common kind: the first of each costs 0.1-0.3 s
    ("(x+1)^2", "x^2+2x+1"),
    ("\\frac{\\sqrt{3}}{2}", "\\sin(\\pi/3)"),
    ("x+2y=3", "2x+4y=6"),
    ("[1,2)", "\\{1,2\\}"),
)


def equal_pairs(pairs: Sequence[tuple[str, str]]) -> list[bool]:
    """For each (gold, prediction) pair of normalised LaTeX strings: are they equivalent?"""
    return [_equal(gold, pred) for gold, pred in pairs]


def warm_up_steps() -> list[Callable[[], object]]:
    """Comparisons that pay the first-use costs of the parser and of sympy (0.5-1 s in all)."""
    return [partial(equal_pairs, [pair]) for pair in _WARM_UP]


@lru_cache(maxsize=8192)
def parse_latex(text: str) -> tuple:
    """math-verify's parse of a bare answer (it needs math delimiters to find one)."""
    for wrapped in (f"${text}$", f"\\boxed{{{text}}}"):
        parsed = parse(
            wrapped,
            extraction_config=_EXTRACTION,
            fallback_mode="no_fallback",
            parsing_timeout=None,
        )
        if parsed:
            return tuple(parsed)
    return ()


def _equal(gold: str, pred: str) -> bool:
    gold_parsed, pred_parsed = parse_latex(gold), parse_latex(pred)
    if not gold_parsed or not pred_parsed:
        return False
    g, p = gold_parsed[0], pred_parsed[0]
    numeric = _constants_equal(g, p)
    if numeric is not None:
        return numeric
    if _proportional_equations(g, p):
        return True
    return verify(list(gold_parsed), list(pred_parsed), timeout_seconds=None)


def _constants_equal(a, b) -> bool | None:
    """Equality of two constant expressions to 50 digits; None if either is not a constant."""
    if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
        return None
    if a.free_symbols or b.free_symbols or not (a.is_number and b.is_number):
        return None
    try:
        x, y = sympy.N(a, _DIGITS), sympy.N(b, _DIGITS)
        if x.has(sympy.nan, sympy.zoo) or y.has(sympy.nan, sympy.zoo):
            return None
        scale = max(abs(x), abs(y))
        if scale == 0:
            return True
        return bool(abs(x - y) <= scale * sympy.Float(10) ** (10 - _DIGITS))
    except (TypeError, ValueError, ArithmeticError):
        return None


def _proportional_equations(a, b) -> bool:
    if not (isinstance(a, sympy.Equality) and isinstance(b, sympy.Equality)):
        return False
    try:
        ratio = sympy.simplify((a.lhs - a.rhs) / (b.lhs - b.rhs))
    except (TypeError, ValueError, ArithmeticError):
        return False
    return bool(ratio.is_number and ratio != 0 and ratio.is_finite)
