"""Exact values of simple numeric answers, without sympy.

`exact_value` turns the arithmetic subset of LaTeX that most answers use (integers, decimals,
scientific notation, fractions, mixed numbers, powers, square roots, `\\pi`, `e`, `\\infty`) into
a `fractions.Fraction`, an `Irrational` (`\\frac{\\sqrt{3}}{2}`, `2\\pi`, `e^2`) or +-inf. Anything
else returns None, and the caller asks sympy. Sizes are guarded: a value with more than `MAX_BITS`
bits raises `TooLarge` instead of being computed, so `10^{10^{10}}` costs microseconds, not minutes.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

MAX_BITS = 40_000  # about 12,000 decimal digits; no real answer is larger
MAX_DEPTH = 60
MAX_TERMS = 16  # of an Irrational; more (or larger coefficients, powers) is left to sympy
MAX_IRRATIONAL_BITS = 2_000
MAX_IRRATIONAL_POWER = 1_000
INF = float("inf")

Term = tuple[int, int, int]  # (a, b, m): pi^a e^b sqrt(m)

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<cmd>\\[a-zA-Z]+)|(?P<sym>[-+*/^(){}\[\]])|(?P<e>e)(?![a-zA-Z]))"
)
_MIXED = re.compile(r"(-?)(\d+)\s+(\d+)\s*/\s*(\d+)")
_COMMANDS = {"\\frac", "\\sqrt", "\\cdot", "\\times", "\\div", "\\infty", "\\pi"}
_IMPLICIT = ("\\pi", "e", "\\sqrt")  # juxtaposed factors: 2\\pi, 3\\sqrt{2}, \\pi e
_PRIMES = [p for p in range(2, 1000) if all(p % q for q in range(2, math.isqrt(p) + 1))]
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


class Irrational:
    """An exact non-rational value: a sum of rational multiples of pi^a e^b sqrt(m).

    The form is canonical (m squarefree, no zero terms, sorted, never a lone rational), so equal
    terms mean equal values, and different terms different values: pi and e are transcendental
    (and taken to be algebraically independent) and the square roots of distinct squarefree
    numbers are linearly independent over the rationals.
    """

    __slots__ = ("terms",)

    def __init__(self, terms: tuple[tuple[Term, Fraction], ...]):
        self.terms = terms

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Irrational) and self.terms == other.terms

    def __hash__(self) -> int:
        return hash(self.terms)

    def __repr__(self) -> str:
        return f"Irrational({self.terms!r})"

    def __neg__(self) -> Irrational:
        return Irrational(tuple((term, -c) for term, c in self.terms))

    def __add__(self, other: object) -> Value:
        terms = dict(self.terms)
        for term, c in _terms(other):
            terms[term] = terms.get(term, 0) + c
        return _from_terms(terms)

    def __sub__(self, other: object) -> Value:
        return self + -_coerce(other)

    def __rsub__(self, other: object) -> Value:
        return -self + other

    def __mul__(self, other: object) -> Value:
        terms: dict[Term, Fraction] = {}
        for (a1, b1, m1), c1 in self.terms:
            for (a2, b2, m2), c2 in _terms(other):
                g = math.gcd(m1, m2)  # sqrt(m1) sqrt(m2) = g sqrt(m1 m2 / g^2), still squarefree
                term = (a1 + a2, b1 + b2, (m1 // g) * (m2 // g))
                terms[term] = terms.get(term, 0) + c1 * c2 * g
        return _from_terms(terms)

    def __truediv__(self, other: object) -> Value:
        return self * _inverse(_coerce(other))

    def __rtruediv__(self, other: object) -> Value:
        return _inverse(self) * _coerce(other)

    __radd__ = __add__
    __rmul__ = __mul__


Value = Fraction | float | Irrational  # float only for +-inf
_PI = Irrational((((1, 0, 1), Fraction(1)),))
_E = Irrational((((0, 1, 1), Fraction(1)),))


def _coerce(value: object) -> Fraction | Irrational:
    if isinstance(value, Irrational | Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    raise _Unsupported("infinity with pi, e or a root")


def _terms(value: object) -> tuple[tuple[Term, Fraction], ...]:
    value = _coerce(value)
    return value.terms if isinstance(value, Irrational) else (((0, 0, 1), value),)


def _from_terms(terms: dict[Term, Fraction]) -> Fraction | Irrational:
    """The canonical value of a sum of terms."""
    terms = {term: c for term, c in terms.items() if c}
    if set(terms) <= {(0, 0, 1)}:
        return terms.get((0, 0, 1), Fraction(0))
    if len(terms) > MAX_TERMS or any(
        max(abs(c.numerator).bit_length(), c.denominator.bit_length()) > MAX_IRRATIONAL_BITS
        for c in terms.values()
    ):
        raise _Unsupported("irrational value too large")
    return Irrational(tuple(sorted(terms.items())))


def _inverse(value: Fraction | Irrational) -> Fraction | Irrational:
    """1/value; of an Irrational only when it is one term (1/sqrt(2) = sqrt(2)/2)."""
    if isinstance(value, Fraction):
        return 1 / value
    if len(value.terms) > 1:
        raise _Unsupported("division by a sum")
    (a, b, m), c = value.terms[0]
    return _from_terms({(-a, -b, m): 1 / (c * m)})


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
    scientific = any("e" in t.lower() for k, t in tokens if k == "num")
    if scientific and any(t in _IMPLICIT for _, t in tokens):
        return None  # 3e+1 alone is 30, but among pi, e and roots it may be 3e + 1
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


def _check_size(value: Value) -> Value:
    if not isinstance(value, Fraction):  # an Irrational's size is checked when it is made
        return value
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise TooLarge("value too large")
    return value


def _number(token: str) -> Fraction:
    if token.isdigit() and len(token) <= 4000:
        return Fraction(int(token))
    mantissa, _, exponent = token.lower().partition("e")
    exp = int(exponent) if exponent else 0
    if abs(exp) > MAX_BITS // 3 or len(mantissa) > 4000:
        raise TooLarge("number too large")
    return _check_size(Fraction(mantissa) * Fraction(10) ** exp)


def _power(base: Value, exp: Value) -> Value:
    if not isinstance(exp, Fraction) or isinstance(base, float):
        raise _Unsupported("irrational or infinite power")
    if exp.denominator == 2 and isinstance(base, Fraction) and base >= 0:  # 8^{3/2} = sqrt(8^3)
        return _sqrt(_power(base, Fraction(exp.numerator)))
    if exp.denominator != 1:
        raise _Unsupported("non-integer power")
    e = exp.numerator
    if isinstance(base, Irrational):
        if abs(e) > MAX_IRRATIONAL_POWER:
            raise _Unsupported("power too large")
        result: Value = Fraction(1)
        base = base if e > 0 else 1 / base
        for bit in bin(abs(e))[2:]:  # square and multiply
            result = result * result
            if bit == "1":
                result = result * base
        return result
    if base == 0:
        if e <= 0:
            raise _Unsupported("0 to a non-positive power")
        return Fraction(0)
    bits = max(abs(base.numerator).bit_length(), base.denominator.bit_length())
    if bits > 1 and abs(e) * (bits - 1) > MAX_BITS:
        raise TooLarge("power too large")
    return _check_size(base**e)


def _sqrt(value: Value) -> Fraction | Irrational:
    if not isinstance(value, Fraction) or value < 0:
        raise _Unsupported("sqrt")
    square, free = _split_square(value.numerator * value.denominator)  # sqrt(p/q) = sqrt(pq)/q
    return _from_terms({(0, 0, free): Fraction(square, value.denominator)})


def _split_square(n: int) -> tuple[int, int]:
    """(s, m) with n = s^2 m and m squarefree; `_Unsupported` where that needs real factoring."""
    root = math.isqrt(n)
    if root * root == n:
        return root, 1
    square, free = 1, 1
    for p in _PRIMES:
        if p * p > n:
            return square, free * n  # what is left is 1 or a prime
        while n % (p * p) == 0:
            n //= p * p
            square *= p
        if n % p == 0:
            n //= p
            free *= p
    if n >= 1009**3:  # could hide the square of a prime above 1000
        raise _Unsupported("radicand too large to factor")
    root = math.isqrt(n)  # n is 1, q, q^2 or q r for primes q, r > 1000
    return (square * root, free) if root * root == n else (square, free * n)


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
        divided = False
        while self.peek() in ("*", "/", "\\cdot", "\\times", "\\div", *_IMPLICIT):
            if self.peek() in _IMPLICIT:
                if divided:  # sympy reads 1/2\\pi as 1/(2\\pi)
                    raise _Unsupported("implicit product after a division")
                value = value * self.power(depth)
            elif self.take() in ("/", "\\div"):
                rhs = self.unary(depth)
                if isinstance(rhs, float) or isinstance(value, float):
                    raise _Unsupported("infinite division")
                value, divided = value / rhs, True
            else:
                value = value * self.unary(depth)
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
            if not isinstance(fraction, Fraction) or not 0 < fraction < 1:
                raise _Unsupported("not a mixed number")
            if self.peek() in _IMPLICIT:  # sympy reads 2\\frac{1}{2}\\pi as 2 (1/2) pi
                raise _Unsupported("a mixed number times pi, e or a root")
            return base + fraction
        return base

    def exponent(self, depth: int) -> Value:
        if depth > MAX_DEPTH:
            raise _Unsupported("too deep")
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
        if tok in ("\\pi", "e"):
            self.take()
            return _PI if tok == "\\pi" else _E
        raise _Unsupported(f"token {tok!r}")
