"""The regression runner: drift detection, its table, and a hand-edited expectation failing."""

from __future__ import annotations

import json

import pytest
import run_regression as regression


def test_compare_reports_every_kind_of_drift():
    expected = {"r": {"t": {"a": 0.5, "b": 1.0, "c": "N/A", "gone": 1.0, "n": 6}}}
    got = {"r": {"t": {"a": 0.5 + 1e-9, "b": 0.9, "c": 0.0, "new": 2.0, "n": 6}}, "r2": {}}
    drifts = regression.compare(expected, got, tolerance=1e-6)
    assert [(d.metric, d.expected, d.got) for d in drifts] == [
        ("b", 1.0, 0.9),
        ("c", "N/A", 0.0),
        ("gone", 1.0, None),
        ("new", None, 2.0),
    ]
    assert drifts[0].delta == pytest.approx(-0.1) and drifts[1].delta is None
    table = regression.drift_table(drifts)
    header = [cell.strip() for cell in table.splitlines()[0].split("|")[1:-1]]
    assert header == ["run", "task", "metric", "expected", "got", "delta"]
    assert "(absent)" in table and "-0.1" in table
    assert regression.compare(expected, expected, tolerance=0.0) == []


def test_recorded_inputs_are_small_and_cover_every_run_and_task():
    files = sorted(regression.INPUTS.glob("*/samples_*.jsonl"))
    assert {(f.parent.name, f.stem.removeprefix("samples_")) for f in files} == {
        (run, task) for run in regression.RUNS for task in regression.TASKS
    }
    assert sum(f.stat().st_size for f in files) < 200_000
    for f in files:
        lines = [json.loads(line) for line in f.read_text("utf-8").splitlines()]
        assert len(lines) == regression.LIMIT and set(lines[0]) == set(regression.KEPT)


@pytest.mark.needs_mirror  # run_regression.py reads SPARK_MATH_DATA_DIR
def test_a_hand_edited_expectation_fails_with_a_table(tmp_path, capsys):
    expected = tmp_path / "expected.json"
    assert regression.main(["--update", "--expected", str(expected)]) == 0
    assert regression.main(["--expected", str(expected)]) == 0
    body = json.loads(expected.read_text())
    assert body["runs"]["oracle"]["spark_gsm8k"]["exact_match,grader"] == 1.0
    body["runs"]["oracle"]["spark_aime24"]["avg@8,grader"] = 0.625
    expected.write_text(json.dumps(body))
    capsys.readouterr()
    assert regression.main(["--expected", str(expected)]) == 1
    out = capsys.readouterr().out
    assert "1 of 74 values moved" in out
    row = next(line for line in out.splitlines() if "avg@8,grader" in line)
    cells = [cell.strip() for cell in row.split("|")[1:-1]]
    assert cells == ["oracle", "spark_aime24", "avg@8,grader", "0.625", "0.5", "-0.125"]
