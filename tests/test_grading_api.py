"""The public API around `grade`: extract_answer, task profiles, the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from spark_math.cli import app
from spark_math.grading import PROFILES, Verdict, extract_answer, grade


@pytest.mark.parametrize(
    ("response", "task", "expected"),
    [
        (r"So $x = \boxed{\frac{1}{\sqrt{2}}}$.", None, r"\frac{1}{\sqrt{2}}"),
        (r"First $\boxed{3}$, then correcting: $\boxed{4}$", None, "4"),
        ("<think>maybe 3</think>\n<answer>7</answer>", None, "7"),
        ("<think>I think 3 and I keep going", None, None),
        ("9 * 2 = 18\n#### 18", "gsm8k", "18"),
        ("So she makes $18 per day.", "gsm8k", "18"),
        ("So she makes $18 per day.", "math", None),
        ("She makes 9 * 2 = 18 dollars, then she", "gsm8k", None),
        ("Final Answer: The final answer is $5$. I hope it is correct.", None, "5"),
        ("The answer is 7.\n\nQuestion: How many legs does a cat have?\nAnswer: 4", "gsm8k", "7"),
        (r"\boxed{5}. Wait, that is wrong.", None, None),
        ("", "gsm8k", None),
    ],
)
def test_extract_answer(response: str, task: str | None, expected: str | None) -> None:
    assert extract_answer(response, task) == expected


@pytest.mark.parametrize(
    ("task", "profile"),
    [
        (None, "math"),
        ("gsm8k", "gsm8k"),
        ("spark_lmeval_gsm8k_cot", "gsm8k"),
        ("spark_sparkle_gsm8k", "gsm8k"),
        ("spark_lmeval_math_4shot", "math"),
        ("spark_aime24", "aime"),
        ("spark_amc23", "amc"),
        ("spark_math500", "math"),
        ("spark_minerva_math", "minerva"),
        ("OlympiadBench", "olympiadbench"),
    ],
)
def test_task_names_select_profiles(task: str | None, profile: str) -> None:
    from spark_math.grading.profiles import resolve_profile

    assert resolve_profile(task) is PROFILES[profile]


def test_unknown_task_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown task 'mmlu'"):
        grade("42", "42", task="mmlu")


def test_profiles_differ_where_conventions_differ() -> None:
    assert grade(r"$\boxed{0.5}$", r"50\%", task="math").correct
    assert not grade(r"$\boxed{0.5}$", r"50\%", task="aime").correct
    assert grade("Total: 3 + 4 = 7 apples.", "7", task="gsm8k").correct
    assert grade("Total: 3 + 4 = 7 apples.", "7", task="math").reason == "no-answer"


def test_non_string_inputs_do_not_crash() -> None:
    assert grade(None, "1") == Verdict(False, None, "no-answer")  # type: ignore[arg-type]
    assert grade(r"\boxed{18}", 18).correct  # type: ignore[arg-type]


def test_cli_grade_prints_the_verdict_and_sets_the_exit_status() -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["grade", r"The answer is $\boxed{\dfrac12}$.", "0.5"])
    assert ok.exit_code == 0
    assert json.loads(ok.stdout) == {"correct": True, "extracted": r"\dfrac12", "reason": "equal"}
    wrong = runner.invoke(app, ["grade", "-", "18", "--task", "gsm8k"], input="It is 18 or 20.")
    assert wrong.exit_code == 1
    assert json.loads(wrong.stdout)["reason"] == "ambiguous"
    bad = runner.invoke(app, ["grade", "1", "1", "--task", "nope"])
    assert bad.exit_code == 2 and "unknown task" in bad.output
