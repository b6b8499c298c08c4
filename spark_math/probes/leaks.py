"""Does an annotation state the final answer? (`find_leak`)

A final answer such as "2" occurs in almost every solution text, so a bare substring test would
reject everything. Two rules instead, on text with presentation stripped (`squash`):

- in an answer-stating context, any answer is a leak: `= ANSWER`, `\\boxed{ANSWER}`,
  `answer is ANSWER`, `#### ANSWER` (numbers are compared by value: `= 18.0` states 18);
- anywhere, a *distinctive* answer is a leak: one with two or more digits, or a LaTeX/text answer
  of five or more characters (or three with a digit), that the problem statement itself does not
  contain.

Matches need token boundaries: 18 is not found in 180, 2^{18}, \\frac{18}{5}, -18 or 18x.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

_SPACE = re.compile(r"\s+")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox|textrm)\{([^{}]*)\}")
_DROP = re.compile(r"\\left|\\right|\\[,;:! ]|\\\$|\$|\\displaystyle")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_FRAC = re.compile(r"\\[dt]frac")
_CONTEXT = re.compile(
    r"(?:=|\\boxed\{|\\fbox\{|\\framebox\{|answer is:? ?|answer:|####|equals )",
)
_NUMBER = re.compile(
    r"-?\\frac\{(-?\d+)\}\{(\d+)\}|-?\\frac(\d)(\d)|-?\d+(?:\.\d+)?(?:/\d+)?|-?\.\d+",
)
_OPERATOR_AFTER = re.compile(r"\\(?:cdot|times|div|frac|sqrt|pi|circ)|\^|_|/|\(|\{|!")


@lru_cache(maxsize=8192)
def squash(text: str) -> str:
    """Lower case, without math delimiters, sizing commands, thousands commas and the spaces
    that do not separate two words."""
    text = _FRAC.sub(r"\\frac", _DROP.sub(" ", _TEXT.sub(r" \1 ", text.lower())))
    text = _THOUSANDS.sub("", text)
    return re.sub(r"(?<=\W) | (?=\W)", "", _SPACE.sub(" ", text)).strip()


@lru_cache(maxsize=8192)
def as_number(text: str) -> Fraction | None:
    """The value of a plain number (`18`, `-0.5`, `7/2`, `\\frac{7}{2}`) after `squash`."""
    match = _NUMBER.fullmatch(text)
    if not match:
        return None
    sign = -1 if text.startswith("-") else 1
    num, den = match.group(1) or match.group(3), match.group(2) or match.group(4)
    if num is not None:
        return sign * Fraction(int(num.lstrip("-")), int(den)) if int(den) else None
    try:
        return Fraction(text.lstrip("-")) * sign
    except (ValueError, ZeroDivisionError):
        return None


def _ends_token(text: str, end: int) -> bool:
    """Whether a value that stops at `end` is not continued by digits, letters or operators.

    After a closing `}` or `)` only `^` and `_` continue it: `squash` glues `{3} exactly`.
    """
    rest = text[end:]
    if not rest:
        return True
    if not text[end - 1].isalnum():
        return rest[0] not in "^_"
    if rest[0].isalnum() or re.match(r"\.\d", rest) or _OPERATOR_AFTER.match(rest):
        return False
    return not (rest[0] == "\\" and re.match(r"\\[a-z]+\{?\d", rest))


def _starts_token(text: str, start: int) -> bool:
    """Whether a value that starts at `start` is not the tail of a number, word or argument."""
    before = text[:start]
    if not before:
        return True
    if not text[start].isalnum():  # `\frac`, `(`: `squash` glues `is \frac` into `is\frac`
        return before[-1] not in "{^_"
    return not (before[-1].isalnum() or before[-1] in ".{^_-\\")


def _standalone(text: str, needle: str) -> int | None:
    """Position of the first occurrence of `needle` in `text` that is a whole token."""
    start = text.find(needle)
    while start >= 0:
        if _starts_token(text, start) and _ends_token(text, start + len(needle)):
            return start
        start = text.find(needle, start + 1)
    return None


@lru_cache(maxsize=4096)
def is_distinctive(answer: str, problem: str = "") -> bool:
    """Whether any occurrence of the answer would give it away (see the module docstring)."""
    gold = squash(answer)
    value = as_number(gold)
    digits = sum(c.isdigit() for c in gold)
    long_enough = (
        digits >= 2 if value is not None else len(gold) >= 5 or (len(gold) >= 3 and digits)
    )
    return bool(long_enough) and _standalone(squash(problem), gold) is None


def find_leak(text: str, answer: str, problem: str = "") -> str | None:
    """The part of `text` that states `answer` (about 40 characters around it), or None."""
    body, gold = squash(text), squash(answer)
    if not gold or not body:
        return None
    value = as_number(gold)
    for context in _CONTEXT.finditer(body):
        at = context.end()
        if body.startswith(gold, at) and _ends_token(body, at + len(gold)):
            return _excerpt(body, at, len(gold))
        number = _NUMBER.match(body, at)
        if (
            value is not None
            and number
            and _ends_token(body, number.end())
            and as_number(number.group()) == value
        ):
            return _excerpt(body, at, number.end() - at)
    if is_distinctive(answer, problem):
        where = _standalone(body, gold)
        if where is not None:
            return _excerpt(body, where, len(gold))
    return None


def _excerpt(text: str, start: int, length: int) -> str:
    return text[max(0, start - 30) : start + length + 10]
