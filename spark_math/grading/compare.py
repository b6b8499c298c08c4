"""The comparison ladder: strings, exact values and structure in-process; sympy only for the rest.

`compare` matches a gold `Answer` against a predicted one. Pairs of scalars whose exact values are
unknown (`\\sin(\\pi/3)` against `\\frac{\\sqrt3}{2}`) are collected in a first pass, decided all at
once by `symbolic` (which runs in the guarded worker), and the match is re-run with those verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .normalize import Answer, analyze, blanks, option_letters
from .profiles import Profile

Pair = tuple[str, str]
SymbolicJudge = Callable[[Sequence[Pair]], Sequence[bool]]
_UNORDERED = ("list", "set", "union")
_ROUNDED_GOLD = re.compile(r"-?\d*\.(\d{8,})")
_PROSE = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{2,}\s+[a-zA-Z]{2,}")


@dataclass(frozen=True)
class Outcome:
    correct: bool
    reason: str


class _Matcher:
    def __init__(self, profile: Profile, known: dict[Pair, bool]):
        self.profile, self.known, self.needed = profile, known, []

    def symbolic(self, gold: Answer | str, pred: Answer | str) -> bool | None:
        key = (_text(gold), _text(pred))
        if not all(text.isascii() and not _PROSE.search(text) for text in key):
            # math-verify skips what it does not know: "4√2 + 8" parses as 8, "at least 42" as 42
            return False
        if key not in self.known:
            self.needed.append(key)
        return self.known.get(key)

    def match(self, gold: Answer, pred: Answer, top: bool = False) -> bool | None:
        if gold.lhs and pred.lhs and gold.lhs != pred.lhs:
            return False
        if gold.text == pred.text and gold.kind == pred.kind:
            return True
        if "equation" in (gold.kind, pred.kind):  # 4x+6=2y against y=2x+3
            return self.symbolic(_as_equation(gold), _as_equation(pred))
        if gold.kind == "option":
            return pred.option == gold.option
        if gold.kind == "words" or pred.kind == "words":
            return _words_key(gold.text) == _words_key(pred.text)
        if gold.kind == "based":  # 52_8 also accepts a bare 52, but never another base
            return pred.text == gold.text.split("_")[0]
        if pred.kind in ("negated", "option", "based"):
            return False
        if gold.kind == "scalar":
            if pred.kind in _UNORDERED and pred.items:  # the same value boxed twice
                return _all(self.match(gold, item, top) for item in pred.items)
            if pred.kind != "scalar":
                return False
            return self.scalar(gold, pred, top)
        if gold.kind == "tuple":
            if pred.kind == "tuple" and pred.brackets != gold.brackets:
                return False
            if pred.kind == "tuple" or (pred.kind == "list" and gold.brackets == "()"):
                return self.ordered(gold.items, pred.items)
            return False
        if gold.kind == "matrix":
            if pred.kind != "matrix" or pred.shape != gold.shape:
                return False
            return self.ordered(gold.items, pred.items)
        if gold.kind in _UNORDERED:
            if pred.kind not in _UNORDERED or (gold.kind == "union") != (pred.kind == "union"):
                return False
            return self.unordered(gold.items, pred.items)
        return False

    def scalar(self, gold: Answer, pred: Answer, top: bool) -> bool | None:
        if gold.huge or pred.huge:
            return False  # their texts differ, and values this large are never worth sympy
        if gold.value is not None and pred.value is not None:
            if gold.value == pred.value or _rounds_to(gold, pred):
                return True
            if top and self.profile.percent_scaling and gold.percent != pred.percent:
                if gold.percent:
                    return gold.value / 100 == pred.value
                return pred.value / 100 == gold.value
            return False
        return self.symbolic(gold, pred)

    def ordered(self, gold: Sequence[Answer], pred: Sequence[Answer]) -> bool | None:
        if len(gold) != len(pred):
            return False
        return _all(self.match(g, p) for g, p in zip(gold, pred, strict=True))

    def unordered(self, gold: Sequence[Answer], pred: Sequence[Answer]) -> bool | None:
        pred = _dedupe(pred) if len(_dedupe(gold)) == len(gold) else pred
        if len(gold) != len(pred):
            return False
        table = [[self.match(g, p) for p in pred] for g in gold]
        if any(cell is None for row in table for cell in row):
            return None
        used: set[int] = set()
        for row in table:  # equality is transitive, so a greedy assignment is exact
            j = next((j for j, ok in enumerate(row) if ok and j not in used), None)
            if j is None:
                return False
            used.add(j)
        return True


def compare(gold: Answer, pred: Answer, profile: Profile, symbolic: SymbolicJudge) -> Outcome:
    """Decide whether `pred` equals `gold`; `symbolic` is called at most once."""
    if profile.choices:
        letters = option_letters(gold.text)
        if letters is not None:
            return _compare_letters(letters, pred)
    if profile.blanks:
        gold_blanks = blanks(gold.text)
        if gold_blanks is not None:
            gold, pred = _as_blanks(gold_blanks, pred)
    matcher = _Matcher(profile, {})
    verdict = matcher.match(gold, pred, top=True)
    if verdict is None:
        pairs = list(dict.fromkeys(matcher.needed))
        known = dict(zip(pairs, symbolic(pairs), strict=True))
        verdict = _Matcher(profile, known).match(gold, pred, top=True)
    if verdict:
        return Outcome(True, "equal")
    if pred.kind == "negated" or (pred.is_multi and not gold.is_multi):
        return Outcome(False, "ambiguous")
    return Outcome(False, "not-equal")


def _compare_letters(gold: frozenset[str], pred: Answer) -> Outcome:
    """A gold of option letters against a response: the same set of letters (`CAD` = `ACD`), or
    for a one-letter gold an option with its text (`(C) 12`)."""
    letters = option_letters(pred.text)
    if letters is None and pred.option and pred.kind in ("option", "scalar", "words"):
        letters = frozenset(pred.option)
    if letters == gold:
        return Outcome(True, "equal")
    if letters is not None and len(gold) == 1 and len(letters) > 1:
        return Outcome(False, "ambiguous")
    return Outcome(False, "not-equal")


def _as_blanks(gold: list[str], pred: Answer) -> tuple[Answer, Answer]:
    """A fill-in gold `5;10` and the response's answers as ordered tuples (`5; 10`, `5, 10`, or
    boxes joined on one line), so that blanks are compared in order."""
    gold_tuple = Answer(";".join(gold), "tuple", items=tuple(analyze(b) for b in gold))
    parts = blanks(pred.text)
    if parts is not None:
        items = tuple(analyze(p) for p in parts)
    elif pred.kind in ("list", "tuple"):
        items = pred.items
    else:
        return gold_tuple, pred
    return gold_tuple, Answer(pred.text, "tuple", items=items)


def _rounds_to(gold: Answer, pred: Answer) -> bool:
    """A gold written as a long rounded decimal (MAWPS's `0.6666666667`, 8 or more decimals,
    which no one writes for an exact value) equals the exact value it rounds: `\\frac{2}{3}`."""
    digits = _ROUNDED_GOLD.fullmatch(gold.text)
    if digits is None or not isinstance(gold.value, Fraction):
        return False
    if not isinstance(pred.value, Fraction) or pred.value.denominator == 1:
        return False
    places = len(digits.group(1))
    return round(pred.value, places) == gold.value


def _all(results) -> bool | None:
    """Three-valued AND that stops at the first definite False."""
    unknown = False
    for result in results:
        if result is False:
            return False
        unknown |= result is None
    return None if unknown else True


def _dedupe(items: Sequence[Answer]) -> list[Answer]:
    return list({(i.text, i.value): i for i in items}.values())


def _as_equation(answer: Answer) -> str:
    return answer.source if answer.lhs and "=" in answer.source else answer.text


def _text(answer: Answer | str) -> str:
    return answer if isinstance(answer, str) else answer.text


def _words_key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())
