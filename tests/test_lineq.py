"""Synthetic linear systems: determinism, uniqueness, solvability and gradability."""

import re

import pytest
import sympy

from spark_math.data import BENCHMARKS, load_rows
from spark_math.data.benchmarks import LINEQ_SEEDS
from spark_math.data.lineq import generate
from spark_math.grading import grade

_TERM = re.compile(r"([+-]?)\s*(\d*)([a-z](?:_\{\d+\})?)")


def parse_system(problem: str) -> tuple[list[list[int]], list[int], list[str]]:
    """The coefficient matrix, right-hand side and variable names written in a problem."""
    body = problem.split("\\begin{cases}\n")[1].split("\n\\end{cases}")[0]
    names = re.search(r"ordered tuple \$\((.*?)\)\$", problem)[1].split(", ")
    matrix, rhs = [], []
    for line in body.split(" \\\\\n"):
        lhs, value = line.split(" = ")
        row = dict.fromkeys(names, 0)
        for sign, digits, name in _TERM.findall(lhs):
            row[name] = (-1 if sign == "-" else 1) * int(digits or 1)
        matrix.append([row[n] for n in names])
        rhs.append(int(value))
    return matrix, rhs, names


def values(answer: str) -> list[int]:
    return [int(v) for v in answer.strip("()").split(", ")]


@pytest.fixture(scope="module")
def test_rows():
    return load_rows("lineq", "test")


def test_deterministic_per_seed():
    assert generate(40, seed=7) == generate(40, seed=7)
    assert generate(40, seed=7) != generate(40, seed=8)


def test_counts_ids_and_data_dir_ignored(test_rows, tmp_path):
    train = load_rows("lineq", "train", data_dir=tmp_path)  # no files needed
    assert len(test_rows) == BENCHMARKS["lineq"].splits["test"].rows == 500
    assert len(train) == BENCHMARKS["lineq"].splits["train"].rows == 5000
    assert [r["id"] for r in test_rows] == [f"lineq-{LINEQ_SEEDS['test']}-{i}" for i in range(500)]
    assert list(test_rows[0])[:4] == ["id", "problem", "answer", "solution"]
    assert {r["n_vars"] for r in train} == {2, 3}


def test_no_duplicates_and_no_train_test_overlap(test_rows):
    train = load_rows("lineq", "train")
    assert len({r["problem"] for r in test_rows}) == len(test_rows)
    assert len({r["problem"] for r in train}) == len(train)
    assert not {r["problem"] for r in test_rows} & {r["problem"] for r in train}


def test_every_system_has_the_gold_as_its_unique_solution(test_rows):
    for row in test_rows:
        matrix, rhs, names = parse_system(row["problem"])
        assert len(names) == len(matrix) == row["n_vars"]
        a = sympy.Matrix(matrix)
        assert a.det() != 0, row["id"]
        assert a * sympy.Matrix(values(row["answer"])) == sympy.Matrix(rhs), row["id"]


def test_n_vars_and_ranges_are_respected():
    rows = generate(30, seed=1, n_vars=4, coef_range=(1, 3), sol_range=(0, 2))
    for row in rows:
        matrix, _, names = parse_system(row["problem"])
        assert names == ["x", "y", "z", "w"]
        assert all(1 <= c <= 3 for r in matrix for c in r)
        assert all(0 <= v <= 2 for v in values(row["answer"]))
    with pytest.raises(ValueError):
        generate(1, seed=0, n_vars=1)
    with pytest.raises(ValueError):
        generate(1, seed=0, coef_range=(0, 0))
    with pytest.raises(ValueError, match="found only 0"):  # every matrix of ones is singular
        generate(1, seed=0, coef_range=(1, 1))


def test_gold_grades_correct_and_a_perturbed_tuple_does_not(test_rows):
    for row in test_rows:
        gold = row["answer"]
        assert grade(f"\\boxed{{{gold}}}", gold, task="math").correct, gold
        wrong = values(gold)
        wrong[-1] += 1
        perturbed = "(" + ", ".join(map(str, wrong)) + ")"
        assert not grade(f"\\boxed{{{perturbed}}}", gold, task="math").correct, gold


def test_worked_solution_ends_with_the_boxed_gold(test_rows):
    for row in test_rows:
        assert row["solution"].endswith(f"\\boxed{{{row['answer']}}}")
        assert grade(row["solution"], row["answer"], task="math").correct, row["id"]
