"""Synthetic systems of linear equations with a unique integer solution.

Each system `A v = b` has non-zero integer coefficients, an integer solution drawn first and a
non-singular `A` (determinant checked exactly with fractions). The worked solution eliminates one
variable at a time with integer combinations of equations, then substitutes back.

    >>> generate(1, seed=0, n_vars=2)[0]["answer"]
    '(3, -9)'
"""

from __future__ import annotations

import random
from fractions import Fraction
from math import gcd
from typing import Any

_NAMES = ("x", "y", "z", "w")
_MAX_MISSES = 10_000  # consecutive singular or repeated draws before giving up

Equation = tuple[list[int], int]  # coefficients, right-hand side


def generate(
    n: int,
    seed: int,
    n_vars: int | tuple[int, int] = (2, 3),
    coef_range: tuple[int, int] = (-9, 9),
    sol_range: tuple[int, int] = (-10, 10),
) -> list[dict[str, Any]]:
    """`n` distinct systems, the same for the same arguments; `n_vars` is a count or a range."""
    low, high = (n_vars, n_vars) if isinstance(n_vars, int) else n_vars
    if low < 2 or high < low:
        raise ValueError(f"n_vars must be at least 2, got {n_vars}")
    coefficients = [c for c in range(coef_range[0], coef_range[1] + 1) if c]
    if not coefficients:
        raise ValueError(f"coef_range {coef_range} holds no non-zero coefficient")
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    misses = 0
    while len(rows) < n:
        if misses > _MAX_MISSES:
            raise ValueError(
                f"found only {len(rows)} distinct non-singular systems in these ranges"
            )
        k = rng.randint(low, high)
        solution = [rng.randint(*sol_range) for _ in range(k)]
        matrix = [[rng.choice(coefficients) for _ in range(k)] for _ in range(k)]
        system = [(a, sum(c * v for c, v in zip(a, solution, strict=True))) for a in matrix]
        problem = _problem(system, _names(k))
        if problem in seen or _determinant(matrix) == 0:
            misses += 1
            continue
        misses = 0
        seen.add(problem)
        answer = _tuple(solution)
        rows.append(
            {
                "id": f"lineq-{seed}-{len(rows)}",
                "problem": problem,
                "answer": answer,
                "solution": _solution(system, _names(k), answer),
                "n_vars": k,
            }
        )
    return rows


def _names(k: int) -> list[str]:
    return list(_NAMES[:k]) if k <= len(_NAMES) else [f"x_{{{i + 1}}}" for i in range(k)]


def _determinant(matrix: list[list[int]]) -> Fraction:
    """Exact determinant by Gaussian elimination over the rationals."""
    m = [[Fraction(c) for c in row] for row in matrix]
    det = Fraction(1)
    for col in range(len(m)):
        pivot = next((r for r in range(col, len(m)) if m[r][col]), None)
        if pivot is None:
            return Fraction(0)
        if pivot != col:
            m[col], m[pivot] = m[pivot], m[col]
            det = -det
        det *= m[col][col]
        for r in range(col + 1, len(m)):
            factor = m[r][col] / m[col][col]
            m[r] = [a - factor * b for a, b in zip(m[r], m[col], strict=True)]
    return det


def _join(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"


def _tuple(values: list[int]) -> str:
    return "(" + ", ".join(str(v) for v in values) + ")"


def _lhs(coefficients: list[int], names: list[str]) -> str:
    terms = []
    for c, name in zip(coefficients, names, strict=True):
        if c == 0:
            continue
        magnitude = "" if abs(c) == 1 else str(abs(c))
        sign = ("-" if c < 0 else "") if not terms else (" - " if c < 0 else " + ")
        terms.append(f"{sign}{magnitude}{name}")
    return "".join(terms)


def _equation(eq: Equation, names: list[str]) -> str:
    return f"{_lhs(eq[0], names)} = {eq[1]}"


def _problem(system: list[Equation], names: list[str]) -> str:
    rows = " \\\\\n".join(_equation(eq, names) for eq in system)
    variables = _join([f"${n}$" for n in names])
    return (
        f"Solve the following system of linear equations for {variables}:\n"
        f"\\[\n\\begin{{cases}}\n{rows}\n\\end{{cases}}\n\\]\n"
        f"Give your answer as an ordered tuple ${_tuple(names)}$ inside \\boxed{{}}."
    )


def _combine(p: int, eq: Equation, q: int, pivot: Equation) -> Equation:
    """`p * eq - q * pivot`, divided by the gcd of its terms, leading coefficient positive."""
    coefficients = [p * a - q * b for a, b in zip(eq[0], pivot[0], strict=True)]
    rhs = p * eq[1] - q * pivot[1]
    g = gcd(*coefficients, rhs)
    if next(c for c in coefficients if c) < 0:
        g = -g
    return [c // g for c in coefficients], rhs // g


def _multiple(factor: int, label: str) -> str:
    return label if factor == 1 else f"{factor} times {label}"


def _solution(system: list[Equation], names: list[str], answer: str) -> str:
    k = len(names)
    labels = [f"({i + 1})" for i in range(k)]
    steps = [f"Number the equations {_join(labels)}."]
    pivots: list[tuple[int, Equation, str]] = []  # variable, equation, label
    remaining = list(zip(system, labels, strict=True))
    for var in range(k):
        at = next(i for i, (eq, _) in enumerate(remaining) if eq[0][var])
        pivot, pivot_label = remaining.pop(at)
        pivots.append((var, pivot, pivot_label))
        if not remaining:
            break
        parts = []
        for i, (eq, label) in enumerate(remaining):
            if eq[0][var] == 0:
                continue
            p, q = pivot[0][var], eq[0][var]
            if p < 0:
                p, q = -p, -q
            p, q = p // gcd(p, q), q // gcd(p, q)
            new = _combine(p, eq, q, pivot)
            new_label = f"({len(labels) + 1})"
            labels.append(new_label)
            op = "minus" if q > 0 else "plus"
            how = f"{_multiple(p, label)} {op} {_multiple(abs(q), pivot_label)}"
            parts.append(f"{how} gives ${_equation(new, names)}$ {new_label}")
            remaining[i] = (new, new_label)
        steps.append(f"Eliminate ${names[var]}$: " + "; ".join(parts) + ".")
    values: dict[int, int] = {}
    for var, (coefficients, rhs), label in reversed(pivots):
        lhs = _lhs([coefficients[var]], [names[var]])
        others = [j for j, c in enumerate(coefficients) if c and j != var]
        known = sum(coefficients[j] * values[j] for j in others)
        values[var] = int(Fraction(rhs - known, coefficients[var]))
        if others:
            subs = _join([f"${names[j]} = {values[j]}$" for j in others])
            steps.append(
                f"Substituting {subs} into {label}: ${lhs} = {rhs} - ({known}) = {rhs - known}$, "
                f"so ${names[var]} = {values[var]}$."
            )
        elif lhs == names[var]:
            steps.append(f"From {label}, ${names[var]} = {values[var]}$.")
        else:
            steps.append(f"From {label}, ${lhs} = {rhs}$, so ${names[var]} = {values[var]}$.")
    steps.append(f"Therefore ${_tuple(names)} = {answer}$, and the answer is \\boxed{{{answer}}}")
    return "\n".join(steps)
