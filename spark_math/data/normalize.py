"""Upstream rows (hub twins, or the upstream files under `<data dir>/<name>/raw/`) to our schema.

Every normaliser returns rows whose first keys are `id`, `problem`, `answer`, `solution`, followed
by the source's own fields, exactly as in the offline copies (see ../shared/datasets/README.md).
They take the split name and one list of upstream rows per hub source of that split.
"""

from __future__ import annotations

import re
from typing import Any

from spark_math.grading.extract import last_boxed

Row = dict[str, Any]

_AOPS_URL = re.compile(r"/(\d{4})_(AIME|AMC)_(\w+?)_Problems/Problem_(\d+)")
_ENV = re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.DOTALL)


def _row(row_id: str, problem: str, answer: str, solution: str | None, **extra: Any) -> Row:
    return {"id": row_id, "problem": problem, "answer": answer, "solution": solution, **extra}


def _text(row: Row, *keys: str) -> str:
    """The first of `keys` that the row has (hub twins differ in capitalisation)."""
    for key in keys:
        if key in row:
            return row[key]
    raise KeyError(f"none of {keys} in upstream row with keys {sorted(row)}")


def gsm8k(split: str, rows: list[Row]) -> list[Row]:
    """openai/gsm8k: the answer is the text after `#### `, commas removed."""
    return [
        _row(
            f"{split}-{i}",
            r["question"],
            r["answer"].split("#### ")[-1].replace(",", ""),
            r["answer"],
        )
        for i, r in enumerate(rows)
    ]


def math500(split: str, rows: list[Row]) -> list[Row]:
    """HuggingFaceH4/MATH-500 (PRM800K's test split): the upstream answer, unchanged."""
    return [
        _row(
            r["unique_id"],
            r["problem"],
            r["answer"],
            r["solution"],
            subject=r["subject"],
            level=int(r["level"]),
            unique_id=r["unique_id"],
        )
        for r in rows
    ]


def hendrycks_math(split: str, rows: list[Row], math500_rows: list[Row]) -> list[Row]:
    """Hendrycks MATH test: the answer is the last box of the solution.

    Upstream MATH has no ids on the hub, so only the MATH-500 problems get their file id
    (matched by problem text); the others are `idx-<n>`, `unique_id` None.
    """
    ids = {r["problem"].strip(): r["unique_id"] for r in math500_rows}
    out = []
    for i, r in enumerate(rows):
        unique_id = ids.get(r["problem"].strip())
        idx = r.get("idx", i)
        out.append(
            _row(
                unique_id or f"idx-{idx}",
                r["problem"],
                last_boxed(r["solution"]) or "",
                r["solution"],
                level=r["level"],
                type=r["type"],
                idx=idx,
                unique_id=unique_id,
                in_math500=unique_id is not None,
            )
        )
    return out


def _aops(url: str) -> tuple[int, str, int]:
    """(year, contest, problem number) from an AoPS wiki url: (2023, "12A", 1)."""
    found = _AOPS_URL.search(url)
    if found is None:
        raise ValueError(f"not an AoPS problem url: {url!r}")
    return int(found[1]), found[3], int(found[4])


def aime24(split: str, rows: list[Row]) -> list[Row]:
    """AIME 2024 (AI-MO copy with AoPS urls), sorted I-1 … II-15, answers without leading zeros."""
    out = []
    for r in rows:
        year, part, number = _aops(r["url"])
        out.append(
            _row(
                f"{year}-{part}-{number}",
                r["problem"],
                str(int(r["answer"])),
                r["solution"],
                year=year,
                contest=f"AIME {part}",
                problem_number=number,
                url=r["url"],
                source_id=r["id"],
            )
        )
    return sorted(out, key=lambda r: (r["contest"], r["problem_number"]))


def _restore_latex(text: str) -> str:
    """Undo single-backslash damage: `\\f`, `\\t` read as control characters, `\\\\` as `\\ `."""
    text = text.replace("\x0c", "\\f").replace("\t", "\\t")
    return _ENV.sub(lambda m: re.sub(r"(?<!\\)\\ ", r"\\\\ ", m[0]), text)


def aime25(split: str, rows: list[Row]) -> list[Row]:
    """AIME 2025 I then II, 15 each, in upstream order; no solutions upstream."""
    out = []
    for i, r in enumerate(rows):
        part, number = ("I", i + 1) if i < 15 else ("II", i - 14)
        out.append(
            _row(
                f"2025-{part}-{number}",
                _restore_latex(_text(r, "problem", "Problem")),
                str(_text(r, "answer", "Answer")).strip(),
                None,
                year=2025,
                contest=f"AIME {part}",
                problem_number=number,
            )
        )
    return out


def amc23(split: str, rows: list[Row]) -> list[Row]:
    """AMC 12 2023 (AI-MO copy): ids from the AoPS url, float answers `27.0` become `"27"`."""
    out = []
    for r in rows:
        year, part, number = _aops(r["url"])
        value = float(r["answer"])
        out.append(
            _row(
                f"{year}-{part}-{number}",
                _text(r, "problem", "question"),
                str(int(value)) if value.is_integer() else str(value),
                None,
                year=year,
                contest=f"AMC {part}",
                problem_number=number,
                url=r["url"],
                source_id=r["id"],
            )
        )
    return out


def olympiadbench(split: str, rows: list[Row]) -> list[Row]:
    """OlympiadBench OE_TO_maths_en_COMP: `final_answer[0]` without `$`, first solution."""
    return [
        _row(
            str(r["id"]),
            r["question"],
            r["final_answer"][0].replace("$", "").strip(),
            r["solution"][0] if r["solution"] else None,
            final_answer=r["final_answer"],
            is_multiple_answer=r["is_multiple_answer"],
            answer_type=r["answer_type"],
            unit=r["unit"],
            error=r["error"],
            subfield=r["subfield"],
            context=r["context"],
            solutions=r["solution"],
        )
        for r in rows
    ]


def minerva_math(split: str, rows: list[Row]) -> list[Row]:
    """Minerva's OCW problems: the answer is the solution's box (the hub twin states it instead)."""
    out = []
    for i, r in enumerate(rows):
        solution = r.get("solution")
        answer = (last_boxed(solution) if solution else None) or str(r["answer"])
        out.append(
            _row(
                str(r.get("idx", i)),
                _text(r, "problem", "question"),
                answer,
                solution,
                type=r.get("type"),
            )
        )
    return out


# Qwen2.5-Math's evaluation sets (QwenLM/Qwen2.5-Math, evaluation/data_loader.py and parser.py at
# a45202bd16f1ec06f433442dc1152d0074773465). Only three have a hub twin that is the same data:
# the ones Qwen's own data_loader.py downloads. The normalisers take either those hub rows or
# Qwen's file (`raw/test.jsonl` of the offline copy) and give the rows of the offline copy.

MMLU_STEM_SUBJECTS = frozenset(
    (
        "abstract_algebra",
        "astronomy",
        "college_biology",
        "college_chemistry",
        "college_computer_science",
        "college_mathematics",
        "college_physics",
        "computer_security",
        "conceptual_physics",
        "electrical_engineering",
        "elementary_mathematics",
        "high_school_biology",
        "high_school_chemistry",
        "high_school_computer_science",
        "high_school_mathematics",
        "high_school_physics",
        "high_school_statistics",
        "machine_learning",
    )
)


def _number_text(value: float | int) -> str:
    """A float gold written as a number: 145.0 -> "145", 0.5 -> "0.5"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _yes_no_suffix(answer: str) -> str:
    """What Qwen's `parse_question` appends when the gold is a yes/no or true/false word."""
    word = re.sub(r"\\text\{(.*?)\}", r"\1", answer.replace("$", "")).strip().rstrip(".").strip()
    word = word.lower()
    if word in ("true", "false"):
        return " (True or False)"
    if word in ("yes", "no"):
        return " (Yes or No)"
    return ""


def svamp(split: str, *sources: list[Row]) -> list[Row]:
    """SVAMP, all 1000 problems (ChilleD/SVAMP train then test, as Qwen's loader): the float
    `Answer` written as a number; the problem is `Body` (with a full stop) and `Question`."""
    out = []
    for i, r in enumerate(row for rows in sources for row in rows):
        body = r["Body"].strip()
        body = body if body.endswith(".") else body + "."
        answer = _number_text(r["Answer"])
        problem = f"{body} {r['Question'].strip()}"
        out.append(
            _row(
                str(r.get("idx", i)),
                (problem + _yes_no_suffix(answer)).strip(),
                answer,
                r["Equation"],
                Answer=r["Answer"],
                Question=r["Question"],
                Body=r["Body"],
                Type=r["Type"],
                ID=r["ID"],
            )
        )
    return out


def asdiv(split: str, rows: list[Row]) -> list[Row]:
    """ASDiv (EleutherAI/asdiv validation) less its multi-answer rows, as Qwen's loader: the
    answer without its `(unit)`, the problem `body` and `question`."""
    rows = [r for r in rows if ";" not in r["answer"]]
    out = []
    for i, r in enumerate(rows):
        answer = re.sub(r"\(.*?\)", "", r["answer"]).strip()
        problem = f"{r['body'].strip()} {r['question'].strip()}"
        out.append(
            _row(
                str(r.get("idx", i)),
                (problem + _yes_no_suffix(answer)).strip(),
                answer,
                r["formula"],
                body=r["body"],
                question=r["question"],
                solution_type=r["solution_type"],
                source_answer=r["answer"],
            )
        )
    return out


def mmlu_stem(split: str, rows: list[Row]) -> list[Row]:
    """MMLU's 18 STEM subjects (hails/mmlu_no_train `all`, test), as Qwen's loader: the
    options appended as `Answer Choices: (A) ...`, the gold index as a letter."""
    out = []
    for r in rows:
        subject = r["type"] if "type" in r else r["subject"]
        if subject not in MMLU_STEM_SUBJECTS:
            continue
        options = " ".join(
            f"({label}) {str(option).strip()}"
            for label, option in zip("ABCD", r["choices"], strict=True)
        )
        out.append(
            _row(
                f"{split}-{len(out)}",
                f"{r['question'].strip()}\nAnswer Choices: {options}",
                "ABCD"[r["answer"]],
                None,
                question=r["question"],
                type=subject,
                choices=list(r["choices"]),
                source_answer=r["answer"],
            )
        )
    return out
