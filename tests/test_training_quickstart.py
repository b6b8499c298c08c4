"""The quickstart's pieces, and its whole loop in miniature through the command."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("trl")

from spark_math.grading import grade
from spark_math.training import quickstart


def test_worked_solutions_are_correct():
    rows = quickstart._systems(300, seed=7)
    for row in rows:
        text = quickstart.worked_solution(row)
        assert grade(text, row["answer"]).correct, text
    assert all(row["n_vars"] == 2 for row in rows)
    row = {"coefficients": [[1, 2], [3, 1]], "rhs": [5, 5], "answer": "(1, 2)"}
    assert quickstart.worked_solution(row).splitlines()[:3] == [
        "a=1 b=2 c=3 d=1 e=5 f=5",
        "D=1*1-2*3=1-6=-5",
        "N=1*5-3*5=5-15=-10",
    ]


def test_train_and_test_sets_do_not_overlap(tmp_path):
    path = tmp_path / "train.jsonl"
    n = quickstart.write_train_set(path)
    train = [json.loads(line) for line in path.read_text().splitlines()]
    test = quickstart.test_rows()
    assert len(train) == n > 2000 and len(test) == quickstart.N_TEST
    assert not {r["problem"] for r in train} & {r["problem"] for r in test}
    dataset = quickstart.load_test_set(spark_unused="ignored")
    assert dataset["test"][0]["problem"] == test[0]["problem"]


def test_stage_change_is_paired_on_the_problems_both_scored(tmp_path):
    before = quickstart.Stage("SFT", "sft", tmp_path, solved={"1": True, "2": False, "3": False})
    after = quickstart.Stage("GRPO", "grpo", tmp_path, solved={"1": False, "2": True, "3": True})
    after.solved["4"] = True  # not scored before: not counted
    assert after.change(before) == "+2 / -1 (p=1)"
    before.solved = {str(i): False for i in range(10)}
    after.solved = {str(i): True for i in range(10)}
    assert after.change(before) == "+10 / -0 (p=0.002)"


def test_quickstart_command_runs_the_whole_loop(tmp_path):
    import typer
    from typer.testing import CliRunner

    from spark_math.cli.train import quickstart as command

    app = typer.Typer()
    app.command()(command)
    out = tmp_path / "qs"
    args = ["--out", str(out), "--sft-steps", "2", "--grpo-steps", "1", "--eval-limit", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    board = (out / "leaderboard.md").read_text()
    assert "| untrained |" in board and "| SFT |" in board and "| SFT + GRPO |" in board
    rows = json.loads((out / "leaderboard.json").read_text())
    assert [r["name"] for r in rows] == ["untrained", "SFT", "SFT + GRPO"]
    for stage in ("untrained", "sft", "grpo"):
        assert len(list((out / "eval" / stage).glob("*/results_*.json"))) == 1
    assert (out / "grpo" / "final" / "model.safetensors").is_file()
    assert (out / "grpo" / "curves.png").is_file()
    assert board.splitlines()[0] in result.output
    assert all(len(r["solved"]) == 2 for r in rows) and "| SFT + GRPO | " in board
