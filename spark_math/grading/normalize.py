"""Cheap normalisation of answer strings and their structure.

`analyze` turns an answer string into an `Answer`: a scalar (with its exact value when it is plain
arithmetic), an ordered tuple or interval (brackets kept), a set, an unordered list, a union of
intervals, a matrix, an equation, an option letter or words. Comparison then needs sympy only for
scalar pairs whose exact values are unknown, and sends just those pairs to the worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from .numbers import TooLarge, Value, exact_value, words_value

MAX_ANALYZED_CHARS = 2_000

_SPACING = re.compile(r"(?<!\\)\\[,;: ]|\\q?quad\b|~")  # not the \\ of a matrix row
_SIZING = re.compile(r"\\(?:left|right|[bB]igg?[lr]?)(?![a-zA-Z])\.?")
_WRAPPERS = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|textsf|mbox|mathrm|mathbf|mathit|mathsf|operatorname|emph)"
    r"\s*\{([^{}]*)\}"
)
_DEGREES = re.compile(r"(?:\^\s*\{?\s*\\circ\s*\}?|\\circ|\\degree|°)(?:\s*[CF](?![a-zA-Z]))?")
_PERCENT = re.compile(r"\\?%")
_FRAC_DIGITS = (
    (re.compile(r"\\[dtc]?frac\s*(\d)\s*(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\[dtc]?frac\s*(\d)\s*(?=\{)"), r"\\frac{\1}"),
    (re.compile(r"\\[dtc]?frac\s*(\{[^{}]*\})\s*(\d)"), r"\\frac\1{\2}"),
    (re.compile(r"\\[dtc]frac(?![a-zA-Z])"), r"\\frac"),
    (re.compile(r"\\sqrt\s*(\d+)"), r"\\sqrt{\1}"),
)
_THOUSANDS = re.compile(r"(-?)(\d{1,3}(?:,\d{3})+)(?![\d,])")
_UNICODE_MATH = str.maketrans(
    {
        "π": "\\pi ",
        "×": "\\times ",
        "÷": "\\div ",
        "·": "\\cdot ",
        "−": "-",
        "–": "-",
        "∞": "\\infty ",
        "≤": "\\le ",
        "≥": "\\ge ",
        "²": "^2",
        "³": "^3",
    }
)
_UNICODE_ROOT = re.compile(r"√\s*(\d+(?:\.\d+)?|[a-zA-Z]|\{[^{}]*\}|\([^()]*\))")
_SPACE_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d.,]| \d)")  # 1 000, 1\u2009000
_IMAGINARY = re.compile(r"(\d)\s+i(?![a-zA-Z])")  # 1 + 274 i
_CLOCK_HOUR = re.compile(r"(\d{1,2}):00(?:\s*[ap]\.?\s?m\.?)?", re.IGNORECASE)  # 2:00 pm
_PER_UNIT = re.compile(r"(.*\d)\s*/\s*[A-Za-z]{2,}\.?")  # $25,000/year
_QUALIFIED = re.compile(
    r"(?:\b(?:at\s+(?:least|most)|(?:more|less|fewer|greater|other)\s+than|over|under|above|"
    r"below|about|approx\.?|approximately|around|nearly|almost|roughly|up\s+to|between|within|"
    r"no|except|exceeds?)|[<>≈~±])\s*$",
    re.IGNORECASE,
)
_HEDGE_WORDS = re.compile(r"\b(?:either|maybe|perhaps|possibly|probably|likely)\b", re.IGNORECASE)
_OR_PAREN = re.compile(r"\(\s*((?:or|and)\b[^()]*)\)", re.IGNORECASE)
_NEGATION = re.compile(r"\bnot\b|\\neq?\b|\\ne(?![a-zA-Z])", re.IGNORECASE)
_BARE_FUNCTION = re.compile(r"(?<![\\A-Za-z])(ln|lg|log|sin|cos|tan|cot|sec|csc)(?=\d|\()")
_NEQ = re.compile(r"\\neq?(?![a-zA-Z])")
_OPTION = re.compile(r"\(?([A-E])\)?(?=$|[\s.:)])")
_WORDS = re.compile(r"[A-Za-z][A-Za-z' .\-]*")
_LETTER_SET = re.compile(  # ACD, A, C, D, (A)(C)(D), A、C、D, A and C: option letters only
    r"\(?[A-E]\)?(?:(?:\s*(?:[,，、;；&]|\band\b|和|与|及)\s*|\s+)?\(?[A-E]\)?)*"
)
MAX_LETTERS_CHARS = 80  # longer answers are never a list of option letters
_CJK_SUFFIX = re.compile(r"\s*([\u4e00-\u9fff]{1,6}(?:/[\u4e00-\u9fff]{1,3})?)$")
# Characters that change the value rather than name a unit: 9万 is 90000, 3分之1 a third
# (千克, 千米, 千瓦 are units: kilogram, kilometre, kilowatt).
_CJK_MAGNITUDE = re.compile(r"^[十百千万亿](?![克米瓦])|分之|点")
_UNIT_WORD = re.compile(r"[A-Za-z]{2,}\.?(?:/[A-Za-z]+)?(?:\^\{?[23]\}?)?")
_NOT_UNITS = frozenset(
    ["or", "and", "not", "either", "pi", "sqrt", "ln", "log", "sin", "cos", "tan", "exp", "inf"]
)
_SIMPLE_LHS = re.compile(r"(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?\w+\}?)?(?:\([a-z]\))?")
_MEMBERSHIP = re.compile(r"((?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?\w+\}?)?)\s*\\in(?![a-zA-Z])\s*(.+)")
_BASE_NUMBER = re.compile(r"([0-9][0-9A-Za-z]*)_\{?(\d+)\}?")
_MATRIX = re.compile(r"\\begin\{([pbvBV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}", re.DOTALL)
_STATEMENT_WORD = re.compile(r"\b[A-Za-z]{2,}\b")
_STATEMENT_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?(?![\w.]*\d)")
_FORMULA = re.compile(r"[=+*/^\\]|\d\s*-\s*\d")
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_LIST_SEPARATORS = (",", ";", " or ", " and ")


@dataclass(frozen=True)
class Answer:
    """The structure of one normalised answer; `text` is what sympy sees for undecided scalars."""

    text: str
    kind: str  # scalar, tuple, set, list, union, matrix, equation, option, words, based, negated
    value: Value | None = None
    huge: bool = False
    items: tuple[Answer, ...] = field(default=(), repr=False)
    brackets: str = ""
    shape: tuple[int, int] = (0, 0)
    lhs: str | None = None  # the variable of an assignment (`x = 5`, `x \in [1, 2]`) ...
    source: str = ""  # ... and the whole assignment, for comparison with an equation
    percent: bool = False
    option: str | None = None

    @property
    def is_multi(self) -> bool:
        return self.kind in ("list", "set", "union") and len({i.text for i in self.items}) > 1


def clean(text: str) -> tuple[str, bool]:
    """Strip presentation (delimiters, spacing, sizing, text wrappers, degrees, percent).

    Returns the cleaned string and whether it carried a percent sign.
    """
    s = _UNICODE_ROOT.sub(_latex_root, text.strip()).translate(_UNICODE_MATH)
    for token in (
        "\\$",
        "$",
        "€",
        "£",
        "\\(",
        "\\)",
        "\\[",
        "\\]",
        "**",
        "\\displaystyle",
        "\\limits",
    ):
        s = s.replace(token, " ")
    s = re.sub(r"(\d)\\,(?=\d{3}(?!\d))", r"\1", s)  # 1\,000
    s = s.replace("\\!", "")
    s = _BARE_FUNCTION.sub(r"\\\1 ", s)  # ln2 -> \ln 2
    s = s.replace("{,}", ",")
    s = _SPACING.sub(" ", s)
    s = _SIZING.sub("", s)
    for pattern, repl in _FRAC_DIGITS:
        s = pattern.sub(repl, s)
    s = _DEGREES.sub("", s)
    percent = bool(_PERCENT.search(s))
    s = _PERCENT.sub("", s)
    previous = None
    while previous != s:
        previous, s = s, _WRAPPERS.sub(r" \1 ", s)
    s = re.sub(r"\s+(?=\^)", "", " ".join(s.split()))
    s = _SPACE_THOUSANDS.sub(lambda m: m.group().replace(" ", ""), s)
    s = _IMAGINARY.sub(r"\1i", s)
    s = s.rstrip(".,;:").strip()
    thousands = _THOUSANDS.match(s)
    if thousands and "," not in s[thousands.end() :]:
        s = thousands.group(1) + thousands.group(2).replace(",", "") + s[thousands.end() :]
    elif len(_STATEMENT_WORD.findall(s)) >= 2:  # "will receive $140,000 in two weeks"
        s = _THOUSANDS.sub(lambda m: m.group().replace(",", ""), s)
    return s, percent


def _latex_root(match: re.Match) -> str:
    """`√2` -> `\\sqrt{2}`, `√(x+1)` -> `\\sqrt{x+1}`."""
    radicand = match.group(1)
    if radicand[0] in "{(":
        radicand = radicand[1:-1]
    return f"\\sqrt{{{radicand}}}"


def analyze(text: str) -> Answer:
    """Normalise and parse an answer string (see module docstring)."""
    s, percent = clean(text[:MAX_ANALYZED_CHARS])
    if _NEGATION.search(s):  # `x \neq 4` and `x\ne4` are one inequation
        return Answer(_NEQ.sub(r"\\ne ", s).replace(" ", ""), "negated")
    s = _OR_PAREN.sub(r" \1", s)
    s = " ".join(_HEDGE_WORDS.sub(" ", s).split())
    answer = _structure(s, 0)
    if percent and answer.kind == "scalar":
        answer = replace(answer, percent=True)
    return answer


analyze_gold = lru_cache(maxsize=16_384)(analyze)


def option_letters(text: str) -> frozenset[str] | None:
    """The option letters of an answer made of letters A-E alone (`ACD`, `A, C, D`, `(A)(C)`,
    `A、C、D`), or None when it holds anything else."""
    if len(text) > MAX_LETTERS_CHARS or not _LETTER_SET.fullmatch(text):
        return None
    return frozenset(re.findall(r"[A-E]", text))


def blanks(text: str) -> list[str] | None:
    """The blanks of a fill-in answer written `first;second` (top-level `;`), or None."""
    parts = split_top(text, (";", "；"))
    return parts if len(parts) > 1 and all(parts) else None


def split_top(s: str, separators: tuple[str, ...]) -> list[str]:
    """Split `s` at separators that are outside every bracket pair."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and s.startswith(("\\{", "\\}"), i):
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            sep = next((x for x in separators if s.startswith(x, i)), None)
            if sep is not None:
                parts.append(s[start:i])
                i += len(sep)
                start = i
                continue
        i += 1
    parts.append(s[start:])
    return [p.strip() for p in parts]


def _wraps_whole(s: str) -> bool:
    """True if the bracket opening `s` closes at its last character."""
    depth = 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i == len(s) - 1
    return False


def _structure(s: str, depth: int) -> Answer:
    if depth > 8:
        return Answer(s, "scalar")
    matrix = _MATRIX.fullmatch(s)
    if matrix:
        rows = [split_top(r, ("&",)) for r in re.split(r"\\\\", matrix.group(2)) if r.strip()]
        if rows and all(len(r) == len(rows[0]) for r in rows):
            items = tuple(_structure(c, depth + 1) for r in rows for c in r)
            return Answer(s, "matrix", items=items, shape=(len(rows), len(rows[0])))
    member = _MEMBERSHIP.fullmatch(s)
    if member:  # x \in [1, 2]
        return replace(_structure(member.group(2), depth + 1), lhs=member.group(1), source=s)
    sides = split_top(s, ("=",))
    if len(sides) > 1 and len(split_top(s, _LIST_SEPARATORS)) == 1:
        return _equation(s, sides, depth)
    union = split_top(s, ("\\cup",))
    if len(union) > 1:
        return Answer(s, "union", items=tuple(_structure(u, depth + 1) for u in union))
    if s.startswith("\\{") and s.endswith("\\}"):
        inner = s[2:-2]
        items = [x for x in split_top(inner, (",", ";")) if x]
        return Answer(s, "set", items=tuple(_structure(x, depth + 1) for x in items))
    if len(s) > 1 and s[0] in "([" and s[-1] in ")]" and _wraps_whole(s[:-1] + _OPENERS[s[0]]):
        inner = split_top(s[1:-1], (",",))
        if len(inner) > 1:
            items = tuple(_structure(x, depth + 1) for x in inner)
            return Answer(s, "tuple", items=items, brackets=s[0] + s[-1])
        if s[0] == "(":
            return _structure(s[1:-1].strip(), depth + 1)
    items = [x for x in split_top(s, _LIST_SEPARATORS) if x]
    if len(items) > 1:
        return Answer(s, "list", items=tuple(_structure(x, depth + 1) for x in items))
    if s.count("\\pm") == 1 and split_top(s, ("\\pm",))[0] == s.split("\\pm")[0].strip():
        head, tail = (part.strip() for part in s.split("\\pm"))
        return Answer(s, "list", items=(_scalar(f"{head}+{tail}"), _scalar(f"{head}-{tail}")))
    return _scalar(s)


def _equation(s: str, sides: list[str], depth: int) -> Answer:
    lhs, rhs = sides[0], sides[-1]
    if _SIMPLE_LHS.fullmatch(lhs):
        return replace(_structure(rhs, depth + 1), lhs=lhs, source=s)
    if len(sides) == 2 and _SIMPLE_LHS.fullmatch(rhs):
        return replace(_structure(lhs, depth + 1), lhs=rhs, source=s)
    return Answer(s, "equation")


def _scalar(s: str) -> Answer:
    based = _BASE_NUMBER.fullmatch(s)
    if based:  # 52_8: compared by digits and base, never by sympy (which drops the subscript)
        return Answer(f"{based.group(1)}_{based.group(2)}", "based")
    option = _OPTION.match(s)
    letter = option.group(1) if option else None
    if option and option.end() == len(s):
        return Answer(s, "option", option=letter)
    value, huge = _value(s)
    if value is None and not huge:
        value, huge = _value_with_units(s)
    if value is None and not huge:
        value, huge = _value_in_statement(s)
    if value is not None or huge:
        return Answer(s, "scalar", value=value, huge=huge, option=letter)
    if _WORDS.fullmatch(s) and sum(c.isalpha() for c in s) > 1:
        return Answer(s, "words", option=letter)
    return Answer(s, "scalar", option=letter)


def _value_in_statement(s: str) -> tuple[Value | None, bool]:
    """The number of a sentence that states one: `Anne is 8 years old` -> 8.

    Only for a sentence of words around exactly one number, not qualified by what precedes it
    ("at least 8", "more than 8" stay undecided) and without formulas.
    """
    if len(_STATEMENT_WORD.findall(s)) < 2 or _FORMULA.search(s):
        return None, False
    numbers = list(_STATEMENT_NUMBER.finditer(s))
    if len(numbers) != 1 or _QUALIFIED.search(s, 0, numbers[0].start()):
        return None, False
    return _value(numbers[0].group().replace(",", ""))


def _value(s: str) -> tuple[Value | None, bool]:
    try:
        value = exact_value(s)
    except TooLarge:
        return None, True
    if value is None and _WORDS.fullmatch(s):
        words = words_value(s)
        value = None if words is None else words
    return value, False


def _value_with_units(s: str) -> tuple[Value | None, bool]:
    """Value of a number followed by unit words: `18 dollars per day`, `$25,000/year`, `2:00 pm`."""
    for pattern in (_PER_UNIT, _CLOCK_HOUR):
        match = pattern.fullmatch(s)
        if match:
            return _value(match.group(1))
    unit = _CJK_SUFFIX.search(s) if s and "\u4e00" <= s[-1] <= "\u9fff" else None
    if (  # 12元, 3.5 千克, 6平方厘米
        unit
        and unit.start()
        and s[unit.start() - 1].isdigit()
        and not _CJK_MAGNITUDE.search(unit.group(1))
    ):
        return _value(s[: unit.start()])
    words = s.split(" ")
    for cut in range(len(words) - 1, 0, -1):
        word = words[cut]
        if not _UNIT_WORD.fullmatch(word) or word.lower().rstrip(".") in _NOT_UNITS:
            break
        value, huge = _value(" ".join(words[:cut]))
        if value is not None or huge:
            return value, huge
    return None, False
