"""Grader benchmark: spark-math against raw math-verify and lm-eval's minerva `is_equiv`.

The corpus is built from the gold answers of GSM8K test (1319) and MATH-500 (500): for each
problem one correct and one incorrect prediction, written as a model writes them (reasoning from
the reference solution, then the final answer in one of several common formats). Correct
predictions restate the gold in an equivalent surface form; incorrect ones change one digit of it
(or, for answers without digits, use a different answer of the same kind), so every verdict is
known by construction. The reasoning still mentions the gold's numbers, as real outputs do.

    SPARK_MATH_DATA_DIR=../shared/datasets python benchmarks/grader_bench.py

Prints one row per grader: agreement with the known verdict, false positives, false negatives,
answers per second, p99 and max latency.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

GSM8K_FORMATS = (
    "{reasoning}\n#### {answer}",
    "{reasoning}\nThe answer is {answer}.",
    "{reasoning}\nTherefore, the final answer is $\\boxed{{{answer}}}$.",
    "{reasoning}\n\n**Answer:** ${answer_commas}",
    "<think>\n{reasoning}\n</think>\n\n<answer>{answer}</answer>",
)
MATH_FORMATS = (
    "{reasoning_boxed}",
    "{reasoning}\n\nFinal Answer: The final answer is ${answer}$. I hope it is correct.",
    "{reasoning}\n\nThe answer is $\\boxed{{{answer}}}$.",
    "<think>\n{reasoning}\n</think>\n\nSo the final answer is $\\boxed{{{answer}}}$.",
)


@dataclass(frozen=True)
class Item:
    source: str
    prediction: str
    gold: str
    expected: bool
    task: str | None = None  # the grader profile; the source's own when None
    truncated: bool | None = None  # what the backend recorded (only spark-math reads it)

    @property
    def profile(self) -> str:
        return self.task or self.source


def _box_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in re.finditer(r"\\boxed\{", text):
        depth, i = 0, match.end() - 1
        while i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                spans.append((match.end(), i))
                break
            i += 1
    return spans


def perturb(answer: str) -> str:
    """Change the first digit of an answer: a near miss that is certainly a different value.

    (Not the last digit: that may be a unit's exponent, as in `864 \\mbox{ inches}^2`.)
    """
    i = re.search(r"\d", answer).start()
    return answer[:i] + str((int(answer[i]) + 1) % 10) + answer[i + 1 :]


def restate(answer: str, i: int) -> str:
    """An equivalent surface form of a gold answer (presentation changes only)."""
    forms = (
        answer,
        answer.replace("\\frac", "\\dfrac"),
        re.sub(r",(?=\S)(?!\\!|\d{3}(?!\d))", ", ", answer),  # not inside 10,\!080
        answer.replace("(", "\\left(").replace(")", "\\right)")
        if "\\left" not in answer
        else answer,
    )
    return forms[i % len(forms)]


def _with_commas(number: str) -> str:
    whole, dot, frac = number.partition(".")
    return f"{int(whole):,}{dot}{frac}"


def gsm8k_items(rows: list[dict]) -> list[Item]:
    items = []
    for i, row in enumerate(rows):
        lines = re.sub(r"<<[^>]*>>", "", row["solution"]).splitlines()
        reasoning = "\n".join(line for line in lines if not line.startswith("####"))
        gold = row["answer"]
        numbers = (n.replace(",", "") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", reasoning))
        slips = [n for n in numbers if float(n) != float(gold)]  # a slip in the last step
        wrong = slips[-1] if slips else str(int(gold) + 1)
        for expected, answer, fmt in ((True, gold, i), (False, wrong, i + 2)):
            text = GSM8K_FORMATS[fmt % len(GSM8K_FORMATS)].format(
                reasoning=reasoning, answer=answer, answer_commas=_with_commas(answer)
            )
            items.append(Item("gsm8k", text, gold, expected))
    return items


def math_items(rows: list[dict]) -> list[Item]:
    digitless = [r["answer"] for r in rows if not re.search(r"\d", r["answer"])]
    items = []
    for i, row in enumerate(rows):
        gold, solution = row["answer"], row["solution"]
        start, end = _box_spans(solution)[-1]
        if re.search(r"\d", gold):
            wrong = perturb(gold)
        else:
            wrong = digitless[(digitless.index(gold) + 1) % len(digitless)]
        reasoning = solution[: start - len("\\boxed{")] + solution[start:end] + solution[end + 1 :]
        for expected, answer, fmt in ((True, restate(gold, i), i), (False, wrong, i + 1)):
            text = MATH_FORMATS[fmt % len(MATH_FORMATS)].format(
                reasoning=reasoning,
                reasoning_boxed=solution[:start] + answer + solution[end:],
                answer=answer,
            )
            items.append(Item("math500", text, gold, expected))
    return items


def case_items(cases_dir: Path) -> list[Item]:
    """The hand-written case set of tests/grading_cases (the grader's own test cases)."""
    import yaml

    items = []
    for path in sorted(cases_dir.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
            task = case.get("task") or "math"
            items.append(
                Item(
                    path.stem,
                    case["pred"],
                    case["gold"],
                    case["correct"],
                    task,
                    case.get("truncated"),
                )
            )
    return items


def load(data_dir: Path, name: str) -> list[dict]:
    path = data_dir / name / "test.jsonl"
    if not path.is_file():
        sys.exit(
            f"missing {path}: set SPARK_MATH_DATA_DIR to a folder laid out like ../shared/datasets"
        )
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def spark_grader() -> Callable[[Item], bool]:
    from spark_math.grading import grade

    return lambda item: (
        grade(item.prediction, item.gold, task=item.profile, truncated=item.truncated).correct
    )


def math_verify_grader() -> Callable[[Item], bool]:
    from math_verify import parse, verify

    def run(item: Item) -> bool:
        gold = parse(f"${item.gold}$") or parse(f"\\boxed{{{item.gold}}}")
        return verify(gold, parse(item.prediction))

    return run


def minerva_grader() -> Callable[[Item], bool]:
    from lm_eval.tasks.minerva_math.utils import (
        get_unnormalized_answer,
        is_equiv,
        last_boxed_only_string,
        normalize_final_answer,
        remove_boxed,
    )

    def run(item: Item) -> bool:
        answer = get_unnormalized_answer(item.prediction)
        if (
            answer == "[invalidanswer]"
        ):  # lm-eval reads only the Minerva sentence; add a box fallback
            boxed = last_boxed_only_string(item.prediction)
            if boxed is None:
                return False
            answer = remove_boxed(boxed)
        return is_equiv(normalize_final_answer(answer), normalize_final_answer(item.gold))

    return run


GRADERS = {
    "spark-math": spark_grader,
    "math-verify 0.9 (raw)": math_verify_grader,
    "lm-eval minerva is_equiv (+box fallback)": minerva_grader,
}


def measure(name: str, judge: Callable[[Item], bool], items: list[Item]) -> dict:
    latencies, fp, fn = [], 0, 0
    by_source = {source: [0, 0] for source in dict.fromkeys(i.source for i in items)}
    for item in items:
        start = time.perf_counter()
        try:
            verdict = bool(judge(item))
        except Exception:  # a crash counts as "not correct", as a caller would treat it
            verdict = False
        latencies.append(time.perf_counter() - start)
        fp += verdict and not item.expected
        fn += item.expected and not verdict
        by_source[item.source][0] += verdict and not item.expected
        by_source[item.source][1] += item.expected and not verdict
    total = sum(latencies)
    ordered = sorted(latencies)
    return {
        "grader": name,
        "agreement": f"{100 * (1 - (fp + fn) / len(items)):.2f} %",
        "FP": fp,
        "FN": fn,
        "by source": {source: f"{a}/{b}" for source, (a, b) in by_source.items()},
        "answers/s": f"{len(items) / total:,.0f}",
        "mean ms": f"{1000 * statistics.fmean(latencies):.2f}",
        "p99 ms": f"{1000 * ordered[int(0.99 * (len(ordered) - 1))]:.1f}",
        "max ms": f"{1000 * ordered[-1]:.0f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("SPARK_MATH_DATA_DIR"))
    parser.add_argument("--limit", type=int, help="use only the first N problems of each set")
    parser.add_argument("--graders", nargs="+", choices=list(GRADERS), default=list(GRADERS))
    parser.add_argument("--show-errors", action="store_true", help="print every wrong verdict")
    parser.add_argument(
        "--cases", type=Path, help="grade a case folder (tests/grading_cases) instead of the corpus"
    )
    args = parser.parse_args()
    if args.cases:
        items = case_items(args.cases)
    elif args.data_dir is None:
        sys.exit("set SPARK_MATH_DATA_DIR or pass --data-dir")
    else:
        items = gsm8k_items(load(args.data_dir, "gsm8k")[: args.limit])
        items += math_items(load(args.data_dir, "math500")[: args.limit])
    print(f"{len(items)} predictions ({sum(i.expected for i in items)} correct)\n")
    rows = []
    for name in args.graders:
        judge = GRADERS[name]()
        rows.append(measure(name, judge, items))
        if args.show_errors:
            for item in items:
                if bool(judge(item)) != item.expected:
                    print(
                        f"[{name}] expected {item.expected}: gold {item.gold!r}\n"
                        f"  ...{item.prediction[-160:]!r}"
                    )
    by_source = {row["grader"]: row.pop("by source") for row in rows}
    print(tabulate(rows, headers="keys", tablefmt="github"))
    print("\nFP/FN by subset:\n")
    subsets = [
        {"subset": s, **{g: v[s] for g, v in by_source.items()}}
        for s in by_source[rows[0]["grader"]]
    ]
    print(tabulate(subsets, headers="keys", tablefmt="github"))


if __name__ == "__main__":
    main()
