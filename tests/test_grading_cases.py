"""The hand-written grader case set: tests/grading_cases/*.yaml, one file per category."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spark_math.grading import grade

CASES_DIR = Path(__file__).parent / "grading_cases"
FILES = sorted(CASES_DIR.glob("*.yaml"))


def _cases() -> list:
    params = []
    for path in FILES:
        for i, case in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]):
            params.append(pytest.param(case, id=f"{path.stem}-{i}"))
    return params


@pytest.mark.parametrize("case", _cases())
def test_case(case: dict) -> None:
    verdict = grade(
        case["pred"], case["gold"], task=case.get("task"), truncated=case.get("truncated")
    )
    assert verdict.correct is case["correct"], f"{verdict} -- {case.get('why', '')}"
    if "reason" in case:
        assert verdict.reason == case["reason"], case.get("why", "")


def test_case_set_covers_every_category_both_ways() -> None:
    total = 0
    for path in FILES:
        cases = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
        verdicts = [c["correct"] for c in cases]
        assert True in verdicts and False in verdicts, path.name
        for case in cases:
            assert isinstance(case["pred"], str) and isinstance(case["gold"], str), case
            assert isinstance(case["correct"], bool), case
        total += len(cases)
    assert total >= 400
