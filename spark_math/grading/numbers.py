"""Exact values of simple numeric answers, without sympy.

`exact_value` turns the arithmetic subset of LaTeX that most answers use (integers, decimals,
scientific notation, fractions, mixed numbers, powers, perfect-square roots, `\\infty`) into a
`fractions.Fraction` (or +-inf). Anything else returns None, and the caller asks sympy. Sizes are
guarded: a value with more than `MAX_BITS` bits raises `TooLarge` instead of being computed, so
`10^{10^{10}}` costs microseconds, not minutes.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

MAX_BITS = 40_000  # about 12,000 decimal digits; no real answer is larger
MAX_DEPTH = 60
INF = float("inf")

Value = Fraction | float  # float only for +-inf

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<cmd>\\[a-zA-Z]+)|(?P<sym>[-+*/^(){}\[\]]))"
)
_MIXED = re.compile(r"(-?)(\d+)\s+(\d+)\s*/\s*(\d+)")
_COMMANDS = {"\\frac", "\\sqrt", "\\cdot", "\\times", "\\div", "\\infty"}
_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
_NUMBER_WORDS = {word: i for i, word in enumerate(_UNITS.split())}
_NUMBER_WORDS.update({word: 10 * (i + 2) for i, word in enumerate(_TENS.split())})
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}


class TooLarge(ValueError):
    """The value would be too large to compute exactly."""


class _Unsupported(ValueError):
    """The expression is outside the exact subset."""


def exact_value(text: str) -> Value | None:
    """Exact value of `text` if it is plain arithmetic, else None. Raises `TooLarge`."""
    text = text.strip()
    if not text:
        return None
    mixed = _MIXED.fullmatch(text)
    if mixed:
        sign, whole, num, den = mixed.groups()
        if int(den) == 0:
            return None
        value = int(whole) + Fraction(int(num), int(den))
        return -value if sign else value
    tokens = _tokenize(text)
    if tokens is None:
        return None
    try:
        parser = _Parser(tokens)
        value = parser.expr(0)
        if parser.pos != len(tokens):
            return None
        return value
    except (_Unsupported, ZeroDivisionError, OverflowError):
        return None


def words_value(text: str) -> int | None:
    """Value of an English number phrase ("twenty-five", "one hundred and four"), else None."""
    words = text.lower().replace("-", " ").split()
    if not words:
        return None
    total = current = 0
    for word in words:
        if word == "and":
            continue
        if word in _NUMBER_WORDS:
            current += _NUMBER_WORDS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
        else:
            return None
    return total + current


def _tokenize(text: str) -> list[tuple[str, str]] | None:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            return None
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "cmd" and value not in _COMMANDS:
            return None
        tokens.append((kind, value))
        pos = m.end()
    return tokens


def _check_size(value: Fraction) -> Fraction:
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise TooLarge("value too large")
    return value


def _number(token: str) -> Fraction:
    mantissa, _, exponent = token.lower().partition("e")
    exp = int(exponent) if exponent else 0
    if abs(exp) > MAX_BITS // 3 or len(mantissa) > 4000:
        raise TooLarge("number too large")
    return _check_size(Fraction(mantissa) * Fraction(10) ** exp)


def _power(base: Value, exp: Value) -> Value:
    if isinstance(base, float) or isinstance(exp, float) or exp.denominator != 1:
        raise _Unsupported("non-integer power")
    e = exp.numerator
    if base == 0:
        if e <= 0:
            raise _Unsupported("0 to a non-positive power")
        return Fraction(0)
    bits = max(abs(base.numerator).bit_length(), base.denominator.bit_length())
    if bits > 1 and abs(e) * (bits - 1) > MAX_BITS:
        raise TooLarge("power too large")
    return _check_size(base**e)


def _sqrt(value: Value) -> Fraction:
    if isinstance(value, float) or value < 0:
        raise _Unsupported("sqrt")
    num, den = math.isqrt(value.numerator), math.isqrt(value.denominator)
    if num * num != value.numerator or den * den != value.denominator:
        raise _Unsupported("irrational sqrt")
    return Fraction(num, den)


class _Parser:
    """Recursive descent over the exact subset; depth-limited so deep nests fail fast."""

    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens, self.pos = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise _Unsupported(f"expected {expected}")
        self.pos += 1
        return tok

    def expr(self, depth: int) -> Value:
        if depth > MAX_DEPTH:
            raise _Unsupported("too deep")
        value = self.term(depth)
        while self.peek() in ("+", "-"):
            op = self.take()
            rhs = self.term(depth)
            value = _check_size(value + rhs if op == "+" else value - rhs)
        return value

    def term(self, depth: int) -> Value:
        value = self.unary(depth)
        while self.peek() in ("*", "/", "\\cdot", "\\times", "\\div"):
            op = self.take()
            rhs = self.unary(depth)
            if op in ("/", "\\div"):
                if isinstance(rhs, float) or isinstance(value, float):
                    raise _Unsupported("infinite division")
                value = value / rhs
            else:
                value = value * rhs
            if not isinstance(value, float):
                _check_size(value)
        return value

    def unary(self, depth: int) -> Value:
        if self.peek() in ("-", "+"):
            sign = self.take()
            value = self.unary(depth + 1)
            return -value if sign == "-" else value
        return self.power(depth)

    def power(self, depth: int) -> Value:
        base = self.atom(depth)
        if self.peek() == "^":
            self.take()
            return _power(base, self.exponent(depth + 1))
        if self.peek() == "\\frac" and self._is_integer_literal(self.pos - 1):
            # a mixed number: 2\frac{1}{2} means 2 + 1/2
            fraction = self.atom(depth)
            if isinstance(fraction, float) or not 0 < fraction < 1:
                raise _Unsupported("not a mixed number")
            return base + fraction
        return base

    def exponent(self, depth: int) -> Value:
        if self.peek() in ("-", "+"):
            sign = self.take()
            value = self.exponent(depth + 1)
            return -value if sign == "-" else value
        if self.peek() == "{":
            return self.atom(depth)
        kind, tok = self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)
        if kind == "num" and tok.isdigit():
            # x^23 in LaTeX means x^{2}3; only a single digit belongs to the exponent
            self.pos += 1
            if len(tok) > 1:
                raise _Unsupported("ambiguous exponent")
            value = Fraction(int(tok))
        else:
            value = self.atom(depth)
        if self.peek() == "^":  # 9^9^9: right-associative tower
            self.take()
            return _power(value, self.exponent(depth + 1))
        return value

    def _is_integer_literal(self, index: int) -> bool:
        kind, tok = self.tokens[index]
        return kind == "num" and tok.isdigit()

    def atom(self, depth: int) -> Value:
        if depth > MAX_DEPTH:
            raise _Unsupported("too deep")
        kind, tok = self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)
        if kind == "num":
            self.pos += 1
            return _number(tok)
        if tok in ("{", "(", "["):
            close = {"{": "}", "(": ")", "[": "]"}[tok]
            self.take()
            value = self.expr(depth + 1)
            self.take(close)
            return value
        if tok == "\\frac":
            self.take()
            num = self.atom(depth + 1)
            den = self.atom(depth + 1)
            if isinstance(num, float) or isinstance(den, float):
                raise _Unsupported("infinite fraction")
            return _check_size(num / den)
        if tok == "\\sqrt":
            self.take()
            if self.peek() == "[":
                raise _Unsupported("n-th root")
            return _sqrt(self.atom(depth + 1))
        if tok == "\\infty":
            self.take()
            return INF
        raise _Unsupported(f"token {tok!r}")
