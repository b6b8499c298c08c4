"""The `reference` annotator: plans, knowledge, subproblems and hints derived offline and
deterministically from the benchmark's own reference solutions.

- GSM8K: the solution lines and their `<<a*b=c>>c` calculator annotations. A plan is the lines
  with every computed value replaced by a name (r1, r2, ...); each annotation is a subproblem
  ("fill in the blank"); hints are the first lines.
- MATH / AIME (LaTeX): sentences and display equations. A plan is those steps up to the one that
  reaches the answer, with the values each equation computes hidden; subproblems ask for the
  values the solution assigns to the problem's own variables (`s = 2.5`), then the question.
- Knowledge, both: the facts of `glossary` whose trigger occurs in the problem or solution.

Each function returns the payload, or a `Skip` saying why a problem gets no annotation.
"""

from __future__ import annotations

import re

from .glossary import facts_for
from .leaks import find_leak, squash
from .schema import Row, Skip
from .steps import (
    NUMBER,
    Calc,
    abstract_math,
    calcs,
    gsm8k_lines,
    is_bare_value,
    latex_steps,
    math_symbols,
    number_value,
    plain,
    same_value,
)

PROMPT_VERSION = "reference-1"
MAX_FACTS = 5
MAX_INTERMEDIATE = 4
FINAL_QUESTION = "Now answer the original question."
_SEGMENT = re.compile(r"\$[^$]+\$|\\\[.+?\\\]", re.S)
_CHOICE = re.compile(
    r"\b(?:setting|set|let|letting|plug\w*|substitut\w*|when|if|for|take|taking)\W*$", re.I
)
_ASSIGNMENT = re.compile(
    r"(?<![\\a-zA-Z_^{])([a-zA-Z])\s*=\s*([^=<>,;$]+?)\s*"
    r"(?=[,;$]|\.(?:\s|$)|\\\]|\\\\|\\text|\\q?quad|\\implies|\\Rightarrow|$)"
)


def annotate(bench: str, kind: str, row: Row) -> dict | Skip:
    """The reference annotation payload of one benchmark row (see `schema`)."""
    if not row.get("solution"):
        return Skip("no reference solution")
    make = {"plan": plan, "knowledge": knowledge, "subproblems": subproblems, "hints": hints}
    return make[kind](bench, row)


def steps_of(bench: str, row: Row) -> list[str]:
    """The reference solution's steps as a reader sees them."""
    if bench == "gsm8k":
        return [plain(line) for line in gsm8k_lines(row["solution"])]
    return latex_steps(row["solution"])


def _answer_step(steps: list[str], row: Row) -> int | None:
    """Index of the first step that states the final answer."""
    return next(
        (i for i, s in enumerate(steps) if find_leak(s, row["answer"], row["problem"])), None
    )


def hints(bench: str, row: Row) -> dict | Skip:
    """The solution's steps before the first one that states the answer, and the step count."""
    steps = steps_of(bench, row)
    stop = _answer_step(steps, row)
    shown = steps[: len(steps) if stop is None else stop]
    if len(shown) == len(steps):  # never give a whole solution: the last step is held back
        shown = shown[:-1]
    if not shown:
        return Skip("the first step already states the answer")
    return {"hints": shown, "total_steps": len(steps)}


def plan(bench: str, row: Row) -> dict | Skip:
    """The solution's steps with their computed values hidden, numbered."""
    if bench == "gsm8k":
        lines = _gsm8k_plan(row)
    else:
        steps = latex_steps(row["solution"])
        stop = _answer_step(steps, row)
        lines = [abstract_math(s) for s in steps[: len(steps) if stop is None else stop + 1]]
    lines = [line for line in lines if not find_leak(line, row["answer"], row["problem"])]
    if not lines:
        return Skip("every step states the answer")
    return {"plan": "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))}


def _gsm8k_plan(row: Row) -> list[str]:
    given = {number_value(n) for n in NUMBER.findall(row["problem"])}
    names: dict = {}  # value -> the name of the latest result with that value
    out, count = [], 0
    for line in gsm8k_lines(row["solution"]):
        found = calcs(line)
        earlier = {v: n for v, n in names.items() if v not in given}
        shown = [f"r{count + k}" for k in range(1, len(found) + 1)]
        count += len(found)
        own = {number_value(c.result): name for c, name in zip(found, shown, strict=True)}
        names |= own
        out.append(_render(line, found, shown, earlier | own))
    return out


def _render(line: str, found: list[Calc], shown: list[str], prose: dict) -> str:
    """A GSM8K line with its calculator annotations replaced by `shown` and the numbers of its
    prose whose value is a key of `prose` replaced by that value's text."""

    def swap(match: re.Match) -> str:
        return prose.get(number_value(match.group()), match.group())

    pieces, pos = [], 0
    for calc, text in zip(found, shown, strict=True):
        pieces += [NUMBER.sub(swap, line[pos : calc.start]), text]
        pos = calc.end
    pieces.append(NUMBER.sub(swap, line[pos:]))
    return "".join(pieces)


def knowledge(bench: str, row: Row) -> dict | Skip:
    """Glossary facts the problem or its solution calls for, unless they state the answer."""
    facts = [
        fact.statement
        for fact in facts_for(f"{row['problem']}\n{row['solution']}")
        if not find_leak(fact.statement, row["answer"], row["problem"])
    ][:MAX_FACTS]
    if not facts:
        return Skip("no glossary fact applies")
    return {"knowledge": "\n".join(f"- {fact}" for fact in facts)}


def subproblems(bench: str, row: Row) -> dict | Skip:
    """Ordered subproblems, each with its own answer; the last one is the question itself."""
    subs = _gsm8k_subproblems(row) if bench == "gsm8k" else _latex_subproblems(row)
    if not subs:
        return Skip("no intermediate result to ask for")
    if not same_value(subs[-1]["answer"], row["answer"]):
        subs.append({"question": FINAL_QUESTION, "answer": row["answer"]})
    return {"subproblems": subs}


def _gsm8k_subproblems(row: Row) -> list[dict]:
    subs, context = [], []
    for line in gsm8k_lines(row["solution"]):
        found = calcs(line)
        values = [number_value(c.result) for c in found]
        for k, calc in enumerate(found):
            shown = [c.result for c in found[:k]] + ["___"] + ["..."] * (len(found) - k - 1)
            prose = {v: "..." for v in values[k + 1 :]} | {values[k]: "___"}
            question = " ".join([*context, _render(line, found, shown, prose)])
            answer = _clean(calc.result)
            subs.append({"question": f"Fill in the blank: {question}", "answer": answer})
        context = [] if found else [*context, line]
    return subs


def _clean(result: str) -> str:
    value = number_value(result)
    if value is None:
        return result
    return str(value.numerator) if value.denominator == 1 else result.lstrip("0") or "0"


def _latex_subproblems(row: Row) -> list[dict]:
    symbols = math_symbols(row["problem"])
    given = squash(row["problem"])
    subs, asked = [], set()
    for step in latex_steps(row["solution"]):
        for segment in _SEGMENT.finditer(step):
            if _CHOICE.search(step[max(0, segment.start() - 25) : segment.start()]):
                continue  # "Setting $x = 1$": a value chosen, not one found
            for var, value in _ASSIGNMENT.findall(segment.group().strip("$")):
                value = value.strip().rstrip(".")
                if var in asked or var not in symbols or not is_bare_value(value):
                    continue
                if same_value(value, row["answer"]):
                    return subs
                if squash(f"{var}={value}") in given:
                    continue
                asked.add(var)
                subs.append({"question": f"What is the value of ${var}$?", "answer": value})
                if len(subs) == MAX_INTERMEDIATE:
                    return subs
    return subs
