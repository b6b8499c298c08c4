"""`spark-math rescore` on files of any layout: field paths, several systems per line, labels from
fields or file names, golds from a benchmark, finish reasons and bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from spark_math.cli.rescore import rescore
from spark_math.rescore import Fields, PathError, parse_path, read_reports, resolve

GSM_SOLUTION = "He buys 4 boards: 4 * 400 = <<4*400=1600>>1600.\n#### 1,600"


def run(*args: str | Path) -> Result:
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("rescore")(rescore)
    return CliRunner().invoke(app, ["rescore", *map(str, args), "--no-progress"])


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def out_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def squash(text: str) -> str:
    """CLI output with table borders and runs of spaces removed, for matching rows."""
    return re.sub(r"\s+", " ", re.sub(r"[│┃]", " ", text))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("output.0", "first"),
        ("output[-1]", "last"),
        ("meta.gold.answer", "7"),
        ("turns[1:].text", ["b", "c"]),
        ("turns.1:-1.text", ["b"]),
        ("meta.0", "zero"),
    ],
)
def test_resolve_paths(path: str, value: Any) -> None:
    record = {
        "output": ["first", "last"],
        "meta": {"gold": {"answer": "7"}, "0": "zero"},
        "turns": [{"text": "a"}, {"text": "b"}, {"text": "c"}],
    }
    assert resolve(record, parse_path(path)) == value


def test_resolve_errors() -> None:
    with pytest.raises(PathError, match="no item 2 in a list of 2"):
        resolve({"output": ["a", "b"]}, parse_path("output.2"))
    with pytest.raises(PathError, match="no key 'answer'"):
        resolve({"gold": {}}, parse_path("gold.answer"))
    with pytest.raises(PathError, match="cannot slice a str"):
        resolve({"gold": "x"}, parse_path("gold[1:]"))


def test_json_array_with_paths_and_solution_golds(tmp_path: Path) -> None:
    records = [
        {"id": "q0", "output": ["He can make 1600 sticks.\n#### 1600"], "answer": GSM_SOLUTION},
        {"id": "q1", "output": ["So the answer is 1,500."], "answer": GSM_SOLUTION},
        {"id": "q2", "output": ["The answer is $\\boxed{18}$."], "answer": "# 18"},
    ]
    path = tmp_path / "model.json"
    path.write_text(json.dumps(records, indent=2))
    out = tmp_path / "verdicts.jsonl"

    result = run(path, "--response", "output.0", "--gold", "answer", "--id", "id", "--task",
                 "gsm8k", "--out", out)  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "exact_match 0.6667" in squash(result.output)
    assert "accuracy 0.6667; no labels to compare with" in result.output
    verdicts = out_lines(out)
    assert [v["doc_id"] for v in verdicts] == ["q0", "q1", "q2"]
    assert [v["gold"] for v in verdicts] == ["1,600", "1,600", "18"]  # solution -> its answer
    assert [v["verdicts"][0]["correct"] for v in verdicts] == [True, False, True]
    assert verdicts[1]["verdicts"][0]["extracted"] == "1,500"
    assert verdicts[1]["verdicts"][0]["reason"] == "not-equal"


def test_json_object_files(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"response": "\\boxed{4}", "gold": "4", "correct": "True"}, indent=1))
    held = tmp_path / "held.json"
    items = [{"r": "\\boxed{1}", "g": "1"}, {"r": "\\boxed{2}", "g": "3"}]
    held.write_text(json.dumps({"model": "m", "results": items}))
    out = tmp_path / "v.jsonl"

    assert run(one, "--out", out).exit_code == 0
    assert [(v["doc_id"], v["labels"], v["new"]) for v in out_lines(out)] == [
        ("1", [True], {"exact_match": 1.0, "pass@1": 1.0, "no_answer": 0.0, "reasoning": 0.0})
    ]
    result = run(held, "--response", "r", "--gold", "g", "--out", out)
    assert result.exit_code == 0, result.output
    assert [v["doc_id"] for v in out_lines(out)] == ["results.0", "results.1"]
    assert [v["new"]["exact_match"] for v in out_lines(out)] == [1.0, 0.0]


def test_wildcard_gives_one_report_per_system(tmp_path: Path) -> None:
    def line(a: str, a_ok: bool, b: str, b_ok: int) -> dict:
        return {
            "question": "?",
            "ground_truth": "Work.\nA: 18",
            "small": {"solution": f"Work.\nA: {a}", "is_correct": a_ok},
            "large": {"solution": f"Work.\nA: {b}", "is_correct": b_ok},
        }

    path = write_jsonl(
        tmp_path / "solutions.jsonl",
        [line("18", True, "18", 1), line("17", False, "18", 0), line("18", False, "9", 0)],
    )
    out = tmp_path / "v.jsonl"

    result = run(path, "--task", "gsm8k", "--response", "*.solution", "--label", "*.is_correct",
                 "--gold", "ground_truth", "--out", out)  # fmt: skip

    assert result.exit_code == 0, result.output
    text = squash(result.output)
    assert f"{path} [small] profile gsm8k n=3" in text
    assert f"{path} [large] profile gsm8k n=3" in text
    assert "labels (small.is_correct): accuracy 0.3333, ours 0.6667; agreement 66.67% of 3" in text
    assert "labels (large.is_correct): accuracy 0.3333, ours 0.6667; agreement 66.67% of 3" in text
    assert "3 wrong correct 18 18 equal" in text  # small, line 3: the label is wrong
    assert "2 wrong correct 18 18 equal" in text  # large, line 2
    verdicts = out_lines(out)
    assert [(v["system"], v["doc_id"]) for v in verdicts[:4]] == [
        ("small", "1"), ("small", "2"), ("small", "3"), ("large", "1"),
    ]  # fmt: skip
    assert {v["gold"] for v in verdicts} == {"18"}


def test_list_labels_one_per_response(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "samples.jsonl",
        [
            {"idx": 0, "gt": "\\frac{1}{2}", "code": ["\\boxed{0.5}", "\\boxed{1/2}", "\\boxed{2}"],
             "score": [False, "True", 0]},
            {"idx": 1, "gt": "3", "code": ["\\boxed{3}", "\\boxed{3}", "\\boxed{3}"],
             "score": [1, True, "true"]},
        ],
    )  # fmt: skip
    out = tmp_path / "v.jsonl"

    result = run(path, "--response", "code", "--label", "score", "--gold", "gt", "--id", "idx",
                 "--out", out)  # fmt: skip

    assert result.exit_code == 0, result.output
    text = squash(result.output)
    assert "n=2 (6 responses)" in text
    assert "avg@3 0.8333" in text and "maj@3 1.0000" in text
    assert "labels (score): accuracy 0.6667, ours 0.8333; agreement 83.33% of 6 responses, " in text
    assert "50.00% of 2 items" in text
    assert "1 disagreements: 1 label wrong, ours correct; 0 label correct, ours wrong" in text
    assert "0 #0 wrong correct 0.5 \\frac{1}{2} equal" in text
    assert out_lines(out)[0]["labels"] == [False, True, False]


def test_label_from_filename_merges_the_split(tmp_path: Path) -> None:
    def item(i: int, response: str) -> dict:
        return {"id": str(i), "turns": [{"c": "sys"}, {"c": "user"}, {"c": response}, {"c": "9"}],
                "gold": {"answer": "9"}}  # fmt: skip

    right = write_jsonl(tmp_path / "run-correct.jsonl", [item(0, "x = 9"), item(1, "\\boxed{9}")])
    wrong = write_jsonl(tmp_path / "run-wrong.jsonl", [item(2, "\\boxed{8}"), item(3, "hmm")])
    neither = write_jsonl(tmp_path / "other.jsonl", [item(4, "\\boxed{9}")])

    result = run(right, wrong, neither, "--response", "turns[2:-1].c", "--join",
                 "--gold", "gold.answer", "--label-from-filename=-correct,-wrong")  # fmt: skip

    assert result.exit_code == 1
    text = squash(result.output)
    assert f"error: {neither}: the file name holds neither of '-correct' and '-wrong'" in text
    assert f"{right} + {wrong} profile math n=4" in text
    assert "labels (file name): accuracy 0.5000, ours 0.2500; agreement 75.00% of 4" in text
    assert "0 correct wrong - 9 no-answer" in text  # the appended "9" turn was dropped


def test_join_keeps_one_response(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "turns.jsonl", [
        {"gold": "5", "turns": ["Let me compute.", "2 + 3 = 5", "The answer is 5."]},
    ])  # fmt: skip
    out = tmp_path / "v.jsonl"
    assert run(path, "--response", "turns", "--join", "--out", out).exit_code == 0
    assert out_lines(out)[0]["new"] == {
        "exact_match": 1.0,
        "pass@1": 1.0,
        "no_answer": 0.0,
        "reasoning": 1.0,
    }
    assert run(path, "--response", "turns", "--out", out).exit_code == 0
    assert out_lines(out)[0]["new"]["avg@3"] == pytest.approx(1 / 3)


def test_finish_reason_is_truncation_evidence(tmp_path: Path) -> None:
    records = [
        {"id": k, "response": "So the total is 18", "gold": "18", "finish": reason}
        for k, reason in [("stop", "STOP"), ("cut", "length"), ("other", "content_filter")]
    ]
    path = write_jsonl(tmp_path / "r.jsonl", records)
    out = tmp_path / "v.jsonl"

    result = run(path, "--task", "gsm8k", "--finish-reason", "finish", "--out", out)

    assert result.exit_code == 0, result.output
    assert [v["verdicts"][0]["correct"] for v in out_lines(out)] == [True, False, False]
    assert [v["verdicts"][0]["reason"] for v in out_lines(out)] == [
        "equal",
        "no-answer",
        "no-answer",
    ]


@pytest.mark.needs_data
def test_gold_from_benchmark(tmp_path: Path) -> None:
    from spark_math.data import load_rows

    rows = load_rows("gsm8k")[:3]
    records = [
        {"question": rows[0]["problem"].replace(" ", "  \n "), "solution": "\\boxed{18}"},
        {"question": rows[1]["problem"], "solution": f"\\boxed{{{rows[1]['answer']}}}"},
        {"question": rows[2]["problem"], "solution": "\\boxed{1}"},
        {"question": "A problem that is not in GSM8K.", "solution": "\\boxed{1}"},
    ]
    path = write_jsonl(tmp_path / "g.jsonl", records)
    out = tmp_path / "v.jsonl"

    result = run(path, "--response", "solution", "--problem", "question", "--gold-from", "gsm8k",
                 "--out", out)  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "profile gsm8k n=3" in squash(result.output)
    assert "note: 1 items not found in gsm8k by problem text: 4, not graded" in result.output
    verdicts = out_lines(out)
    assert [v["gold"] for v in verdicts] == [r["answer"] for r in rows]
    assert [v["new"]["exact_match"] for v in verdicts] == [1.0, 1.0, 0.0]
    both = run(path, "--response", "solution", "--gold", "g", "--gold-from", "gsm8k")
    assert both.exit_code == 2 and "give --gold or --gold-from, not both" in both.output


def test_read_reports_api(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"o": {"m1": "\\boxed{1}", "m2": "2"}, "g": "1"}])
    reports = read_reports([path], Fields(response="o.*", gold="g"))
    assert [(r.system, r.profile, r.samples[0].responses) for r in reports] == [
        ("m1", "math", ["\\boxed{1}"]), ("m2", "math", ["2"]),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ('[\n {"response": "1", "gold": "1"},\n {"response": "2"\n]', [],
         ":4: not JSON (Expecting ',' delimiter)"),
        ('[{"r": ["a"], "gold": "1"},\n {"r": [], "gold": "1"}]', ["--response", "r.0"],
         ":2: cannot read 'r.0': no item 0 in a list of 0"),
        ('{"out": {"text": "1"}, "gold": "1"}\n{"out": {}, "gold": "1"}\n',
         ["--response", "out.text"], ":2: cannot read 'out.text': no key 'text'"),
        ('{"response": "1", "gold": "1", "ok": "maybe"}\n{"response": "1", "gold": "1"}\n',
         ["--label", "ok"], ":1: the label 'maybe' is not a verdict"),
        ('{"response": "1", "gold": ["1"]}\n{"response": "1", "gold": "1"}\n', [],
         ":1: the gold must be text or a number"),
        ('{"response": ["1", "2"], "gold": "1", "ok": [1, 0, 1]}\n', ["--label", "ok"],
         ":1: 3 labels for 2 responses"),
        ('{"m": {"a": 1}, "gold": "1"}\n{"m": {"a": 1}, "gold": "1"}\n',
         ["--response", "m.*.text"], ":1: cannot read 'm.*.text': no key holds it"),
    ],
)  # fmt: skip
def test_bad_input_names_file_and_line(
    tmp_path: Path, content: str, args: list[str], message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    good = write_jsonl(tmp_path / "good.jsonl", [{"response": "\\boxed{2}", "gold": "2"}] * 2)

    result = run(bad, good, *args)

    assert result.exit_code == 1
    assert f"error: {bad}{message}" in squash(result.output)
    if not args:  # the other file is still graded
        assert f"{good} profile math n=2" in squash(result.output)


def test_bad_options() -> None:
    result = run("README.md", "--response", "a..b")
    assert result.exit_code == 2 and "bad field path 'a..b': empty segment" in result.output
    result = run("README.md", "--label-from-filename", "ok")
    assert result.exit_code == 2 and "expected CORRECT,WRONG" in result.output
    result = run("README.md", "--label", "ok", "--label-from-filename=-correct,-wrong")
    assert result.exit_code == 2 and "give --label or --label-from-filename" in result.output


@pytest.mark.needs_data
def test_gold_from_with_no_problem_found(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "g.jsonl", [{"problem": "Not in GSM8K.", "response": "1"}])
    result = run(path, "--gold-from", "gsm8k")
    assert result.exit_code == 1
    assert (
        f"error: {path}: no items to grade (1 items not found in gsm8k by problem text: 1)"
        in squash(result.output)
    )
