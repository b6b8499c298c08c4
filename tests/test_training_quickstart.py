"""The quickstart's pieces, and its whole loop in miniature through the command."""

from __future__ import annotations

import itertools
import json

import pytest

pytest.importorskip("trl")

from spark_math.grading import grade
from spark_math.training import quickstart
from spark_math.training.formats import get_format
from spark_math.training.rewards import calculations


def test_worked_solutions_are_right_and_only_closed_boxes_are_graded():
    for n_terms in (quickstart.TERMS, quickstart.OOD_TERMS):
        for terms in itertools.product(range(10), repeat=n_terms):
            answer = str(sum(terms))
            assert grade(quickstart.worked_solution(terms), answer).correct, terms
            assert grade(quickstart.worked_solution(terms, closed=False), answer).reason == (
                "no-answer"
            )
            assert all(calculations(quickstart.worked_solution(terms)).values())
    assert quickstart.worked_solution((3, 5, 4)) == "3+5=8\n8+4=12\n\\boxed{12}"
    assert quickstart.worked_solution((3, 5, 4), closed=False).endswith("\n\\boxed{12")
    assert quickstart.problem((3, 5, 4)) == "Compute $3 + 5 + 4$."


def test_train_test_and_out_of_domain_sets(tmp_path):
    path = tmp_path / "train.jsonl"
    n = quickstart.write_train_set(path)
    train = [json.loads(line) for line in path.read_text().splitlines()]
    test, ood = quickstart.test_rows(), quickstart.ood_rows()
    assert n == len(train) == 1000 - quickstart.N_TEST and len(test) == len(ood) == 200
    assert not {r["problem"] for r in train} & {r["problem"] for r in test}
    assert all(r["problem"].count("+") == 2 for r in train + test)
    assert all(r["problem"].count("+") == 3 for r in ood)
    closed = [r for r in train if r["solution"].endswith("}")]
    assert len(closed) == round(quickstart.CLOSED_SHARE * n)
    # The SFT data in the boxed format: an open box stays open (no box added after it).
    fmt = get_format(quickstart.SFT["format"])
    for row in train:
        assert fmt.completion(row["solution"], row["answer"]) == row["solution"]
        assert grade(row["solution"], row["answer"]).correct == (row in closed)
    assert quickstart.train_rows() == train  # the same every time
    assert quickstart._is_current_train_set(path)  # a rerun reuses it, an older one's not
    path.write_text(path.read_text().replace("\\\\boxed{1", "\\\\boxed{2", 1))
    assert not quickstart._is_current_train_set(path)
    assert quickstart.load_test_set(spark_unused="ignored")["test"][0]["id"] == test[0]["id"]
    assert quickstart.load_ood_set()["test"][0]["id"] == ood[0]["id"]


def test_stage_change_is_paired_on_the_problems_both_scored(tmp_path):
    before = quickstart.Stage("SFT", "sft", tmp_path, solved={"1": True, "2": False, "3": False})
    after = quickstart.Stage("GRPO", "grpo", tmp_path, solved={"1": False, "2": True, "3": True})
    after.solved["4"] = True  # not scored before: not counted
    assert after.change(before) == "+2 / -1 (p=1)"
    before.solved = {str(i): False for i in range(10)}
    after.solved = {str(i): True for i in range(10)}
    assert after.change(before) == "+10 / -0 (p=0.002)"
    assert quickstart.mcnemar(after.solved, before.solved) == (10, 0, pytest.approx(0.001953125))
    before.ood_solved, after.ood_solved = {"a": True, "b": True}, {"a": True, "b": False}
    assert after.ood_change(before) == "+0 / -1 (p=1)"


def test_leaderboard_shows_pass_at_k_and_the_out_of_domain_task(tmp_path):
    stages = [
        quickstart.Stage("untrained", "untrained", tmp_path, solved={"1": False, "2": False}),
        quickstart.Stage("SFT", "sft", tmp_path, accuracy=0.5, pass1=0.4, pass8=0.9,
                         solved={"1": True, "2": False}, ood_accuracy=0.25, ood_stderr=0.1,
                         ood_pass1=0.2, ood_pass8=0.6, ood_solved={"a": False}),
        quickstart.Stage("SFT + GRPO", "grpo", tmp_path, accuracy=1.0, pass1=0.95, pass8=1.0,
                         solved={"1": True, "2": True}, ood_accuracy=0.75, ood_stderr=0.1,
                         ood_pass1=0.7, ood_pass8=0.9, ood_solved={"a": True}),
    ]  # fmt: skip
    board = quickstart.leaderboard(stages, 2, 800_000, 300.0)
    lines = board.splitlines()
    assert lines[0].startswith("| stage | spark_sums_quick greedy (n=2) | pass@1 (8 samples) |")
    assert lines[2].startswith("| untrained | 0.0% ± 0.0 | 0.0% | 0.0% | - |")
    assert lines[3].startswith("| SFT | 50.0% ± 0.0 | 40.0% | 90.0% | +1 / -0 (p=1) |")
    assert "| SFT + GRPO | 100.0% ± 0.0 | 95.0% | 100.0% | +1 / -0 (p=1) |" in board
    assert "| SFT | 25.0% ± 10.0 | 20.0% | 60.0% | - |" in board
    assert "| SFT + GRPO | 75.0% ± 10.0 | 70.0% | 90.0% | +1 / -0 (p=1) |" in board
    assert "0.80M parameters" in board and "5.0 min" in board


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
    # Stage lines and where the outputs are, not TRL's metric dicts or bar redraws.
    assert "{'loss'" not in result.output and "{'train_runtime'" not in result.output
    assert "\x1b[" not in result.output and "\r" not in result.output
    assert "[3/6] SFT: 2 steps in " in result.output and "[5/6] GRPO: 1 step in " in result.output
    assert "[6/6] SFT + GRPO: greedy " in result.output
    outputs = f"{out}/leaderboard.md, {out}/leaderboard.json, {out}/grpo/curves.png"
    assert result.output.splitlines()[-1] == f"wrote {outputs}"
    assert all(len(r["solved"]) == 2 for r in rows) and "| SFT + GRPO | " in board
    assert rows[0]["ood_solved"] == {} and rows[0]["ood_accuracy"] is None  # untrained: skipped
    assert all(len(r["ood_solved"]) == 2 and 0 <= r["pass1"] <= r["pass8"] for r in rows[1:])
    assert f"Out of domain: {quickstart.OOD_TASK}" in board and "pass@8" in board.splitlines()[0]

    # A rerun redoes nothing and leaves the table, its times included, as it was.
    written = {p: p.read_bytes() for p in (out / "leaderboard.md", out / "leaderboard.json")}
    stamps = {p: p.stat().st_mtime_ns for p in written}
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert again.output.count("already finished at step") == 2
    assert "nothing to redo" in again.output and board.splitlines()[0] in again.output
    assert again.output.splitlines()[-1] == f"unchanged: {outputs}"
    assert {p: p.read_bytes() for p in written} == written
    assert {p: p.stat().st_mtime_ns for p in written} == stamps
    assert len(list((out / "eval" / "grpo").glob("*/results_*.json"))) == 1

    # More GRPO steps: only GRPO resumes and is scored again; the other rows keep their times.
    longer = CliRunner().invoke(app, [*args[:-4], "--grpo-steps", "2", "--eval-limit", "2"])
    assert longer.exit_code == 0, longer.output
    assert "grpo: resuming from step 1" in longer.output
    rows_after = json.loads((out / "leaderboard.json").read_text())
    for old, new in zip(rows[:2], rows_after[:2], strict=True):
        assert (old["train_s"], old["eval_s"]) == (new["train_s"], new["eval_s"])
