"""Reference solutions as steps: GSM8K lines with `<<a*b=c>>c` calculator annotations, and LaTeX
solutions (MATH, AIME) split into sentences and display equations.

`Calc` is one calculator annotation; `latex_steps` splits at sentence ends outside math;
`abstract_math` hides the values an equation chain computes (`r = \\sqrt{9} = 3` becomes
`r = \\sqrt{9} = \\dots`) so a plan can say what to compute without the results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ..grading import equivalent
from .leaks import as_number

CALC = re.compile(r"<<([^<>]*)>>(-?[\d,]*\.?\d+)?")
NUMBER = re.compile(r"(?<![\w.\]])\d[\d,]*(?:\.\d+)?(?![\w\[])")
_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.S)
_MATH = re.compile(
    r"\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|\$(?:\\\$|[^$])+?\$"
    r"|\\begin\{(\w+\*?)\}.*?\\end\{\1\}",
    re.S,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z$\\])|\n\s*\n|(?<=[^,:\s])[ \t]*\n(?=[A-Z])")
_DELIMITED = re.compile(
    r"(\$\$|\$|\\\[|\\\(|\\begin\{\w+\*?\})(.*?)(\$\$|\$|\\\]|\\\)|\\end\{\w+\*?\})", re.S
)
_BOXED = re.compile(r"\\(?:boxed|fbox|framebox)\{")
_BARE_TOKENS = re.compile(r"\\[dt]?frac|\\sqrt|\\pi|\\circ|\\%|%|[\d.{}^\s]|\\text\{[^}]*\}")


@dataclass(frozen=True)
class Calc:
    """One GSM8K calculator annotation: `<<expr=result>>shown` at `start:end` of its line."""

    start: int
    end: int
    expr: str
    result: str


def gsm8k_lines(solution: str) -> list[str]:
    """The reasoning lines of a GSM8K solution, without the final `#### answer` line."""
    body = solution.rsplit("####", 1)[0]
    return [line.strip() for line in body.split("\n") if line.strip()]


def calcs(line: str) -> list[Calc]:
    """The calculator annotations of a GSM8K line with their results."""
    found = []
    for match in CALC.finditer(line):
        expr, _, result = match.group(1).rpartition("=")
        if expr and result.strip():
            found.append(Calc(match.start(), match.end(), expr, result.strip()))
    return found


def plain(line: str) -> str:
    """A GSM8K line as a reader sees it: the annotations removed, the shown results kept."""
    return CALC.sub(lambda m: m.group(2) or "", line)


def number_value(text: str) -> Fraction | None:
    """The value of a number as written in prose (`1,200`, `0.5`)."""
    return as_number(text.replace(",", ""))


def latex_steps(solution: str) -> list[str]:
    """A LaTeX solution split at paragraph and sentence ends outside math; figures dropped."""
    text = _ASY.sub(" ", solution)
    spans = [m.span() for m in _MATH.finditer(text)]
    cuts, start = [], 0
    for end_match in _SENTENCE_END.finditer(text):
        at = end_match.start()
        if any(a < at < b for a, b in spans):
            continue
        cuts.append(text[start:at])
        start = end_match.end()
    cuts.append(text[start:])
    return [piece.strip() for piece in cuts if re.search(r"\w", piece)]


def is_bare_value(expr: str) -> bool:
    """Whether a math expression is a constant such as 3, -0.5, \\frac{\\sqrt 3}{2} or 45^\\circ."""
    core = expr.strip().removeprefix("-").strip()
    return bool(core) and any(c.isdigit() for c in core) and not _BARE_TOKENS.sub("", core)


def _split_top(expr: str, sep: str) -> list[str]:
    """`expr` split at `sep` outside braces (and not inside `\\le`, `\\ge`, `\\ne` forms)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(expr):
        ch = expr[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and expr.startswith(sep, i):
            parts.append(expr[start:i])
            start = i + len(sep)
            i = start
            continue
        i += 1
    parts.append(expr[start:])
    return parts


def _abstract_row(row: str) -> str:
    sides = _split_top(row, "=")
    if len(sides) == 1:
        return row
    lhs, first = sides[0], sides[1]
    amp = "&" if first.rstrip().endswith("&") else ""
    shown = first if first.strip(" &") and not is_bare_value(first.strip(" &")) else f" \\dots{amp}"
    if len(sides) == 2 and shown is first:
        return row
    tail = "" if len(sides) == 2 else "= \\dots"
    if not lhs.strip(" &"):  # a continuation row of an aligned chain: all of it is a result
        return f"{lhs}= \\dots"
    return f"{lhs}={shown}{tail}".rstrip()


def _abstract_segment(segment: str) -> str:
    """One math segment (delimiters included) with its computed values hidden."""
    match = _DELIMITED.fullmatch(segment)
    assert match is not None  # every _MATH match has one of these delimiters
    opening, inner, closing = match.groups()
    inner, end = re.fullmatch(r"(.*?)([\s.,;]*)", _hide_boxes(inner), re.S).groups()
    rows = re.split(r"(\\\\)", inner)
    body = "".join(r if r == "\\\\" else _abstract_row(r) for r in rows)
    return f"{opening}{body}{end}{closing}"


def _hide_boxes(text: str) -> str:
    out, pos = [], 0
    for match in _BOXED.finditer(text):
        if match.start() < pos:
            continue
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        out.append(text[pos : match.end()] + "\\dots}")
        pos = i
    out.append(text[pos:])
    return "".join(out)


def abstract_math(step: str) -> str:
    """The step with the values its equations compute replaced by `\\dots` (and boxes emptied)."""
    out, pos = [], 0
    for match in _MATH.finditer(step):
        out.append(step[pos : match.start()])
        out.append(_abstract_segment(match.group()))
        pos = match.end()
    out.append(step[pos:])
    return "".join(out)


def math_symbols(text: str) -> set[str]:
    """Single-letter symbols used inside the math of `text` (`x`, `a_1` gives `a`)."""
    symbols = set()
    for match in _MATH.finditer(text):
        body = re.sub(r"\\[a-zA-Z]+", " ", match.group())
        symbols.update(re.findall(r"(?<![a-zA-Z])[a-zA-Z](?![a-zA-Z])", body))
    return symbols


def same_value(a: str, b: str) -> bool:
    """Whether two answers are the same answer for the shared grader."""
    return equivalent(a, b, task="math")
