"""SPARKLE probes: leak check, annotators (reference, sparkle, gemini), files, tasks, report."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_gemini import FakeGemini, prompt_text
from typer.testing import CliRunner

from spark_math.cli.probes import app
from spark_math.data import DataError, load_rows
from spark_math.harness_tasks import probe_hooks
from spark_math.harness_tasks.probes import _generate
from spark_math.leaderboard import leaderboard
from spark_math.models.oracle import OracleLM
from spark_math.probes import find_leak, load, verify
from spark_math.probes import report as probe_report
from spark_math.probes.schema import read_file

PROBE_TASKS = [f"spark_{b}_{p}" for b in _generate.BENCHES for p in _generate.PROBES]
PLAIN_TASKS = [f"spark_{b}" for b in _generate.BENCHES]
runner = CliRunner()


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    ("text", "answer", "problem", "leaks"),
    [
        ("so she makes 9 * 2 = $18 a day", "18", "", True),
        ("the total is $\\boxed{18}$", "18", "", True),
        ("The answer is 18.", "18", "", True),
        ("so x = 18.00 here", "18", "", True),
        ("then 2x = 0.5", "\\frac12", "", True),
        ("then 2x = 0.5", "\\frac{1}{2}", "", True),
        ("Add 180 and 2^{18}, then \\frac{18}{5}", "18", "", False),
        ("18 people came, 18 left", "18", "There are 18 people.", False),  # given number
        ("18 people came", "18", "", True),  # two digits, not in the problem: distinctive
        ("Take 2 apples and 2 pears", "2", "", False),  # a short answer counts only in context
        ("so n = 2 works", "2", "", True),
        ("subtract 18 from -18x", "-18", "", False),
        ("It costs $70,000 in all", "70000", "", True),
        ("it is $\\dfrac{14}{3}$ exactly", "\\frac{14}{3}", "", True),
        ("it is $\\frac{14}{3}^2$", "\\frac{14}{3}", "", False),
        ("the point is $\\left( 3, \\frac{\\pi}{2} \\right)$", "(3,\\frac{\\pi}{2})", "", True),
        ("Evelyn is fastest", "\\text{Evelyn}", "Who is fastest? Evelyn, Carla", False),
        ("so the answer is Evelyn", "\\text{Evelyn}", "Who is fastest? Evelyn, Carla", True),
        ("the result r2 is unknown", "18", "", False),
    ],
)
def test_leak_check(text: str, answer: str, problem: str, leaks: bool) -> None:
    assert (find_leak(text, answer, problem) is not None) is leaks


def test_ssr_and_first_fail_step_over_complete_chains(caplog: pytest.LogCaptureFixture) -> None:
    rows = [("a", 1, 2, [True]), ("a", 2, 2, [True]), ("b", 2, 3, [False]), ("b", 1, 3, [True])]
    rows += [("b", 3, 3, [True]), ("c", 1, 2, [True])]  # c lacks its 2nd step (cut by --limit)
    with caplog.at_level(logging.WARNING):
        assert probe_hooks.ssr(rows) == 0.5
    assert "1 of 3 subproblem chains are incomplete" in caplog.text
    assert probe_hooks.first_fail_step(rows) == 2.0
    two_samples = [("a", 1, 2, [True, False]), ("a", 2, 2, [True, True])]
    assert probe_hooks.ssr(two_samples) == 0.5  # sample 1 solves the chain, sample 2 fails step 1
    assert probe_hooks.first_fail_step(two_samples) == 1.0
    assert math.isnan(probe_hooks.first_fail_step(rows[:2]))  # no chain fails
    assert math.isnan(probe_hooks.ssr(rows[-1:]))  # no complete chain


def test_hint_levels_cut_the_reference_steps() -> None:
    row = {"id": "p", "problem": "P", "answer": "7"}
    note = {"id": "p", "hints": ["s1", "s2", "s3"], "total_steps": 5}
    note["provenance"] = {"annotator": "reference"}
    shown = {p: probe_hooks.probe_docs([row], [note], "hints", p)[0]["hints"] for p in (25, 50, 75)}
    # ceil(25% of 5) = 2, ceil(50%) = 3, ceil(75%) = 4 but never past the step before the answer
    assert shown == {25: ["s1", "s2"], 50: ["s1", "s2", "s3"], 75: ["s1", "s2", "s3"]}


def test_probe_task_files_match_generator() -> None:
    files = {p.name: p.read_text() for p in _generate.OUT_DIR.glob("*.yaml")}
    assert files == _generate.render()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reference annotations of GSM8K test, MATH-500 and AIME 2024, built through the CLI."""
    out = tmp_path_factory.mktemp("probes")
    result = cli(
        "build", "--bench", "gsm8k", "--bench", "math500", "--bench", "aime24", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "gsm8k/plan: 1319 rows" in result.output
    return out


@pytest.mark.needs_data
def test_reference_build_is_deterministic_and_leak_free(built: Path, tmp_path: Path) -> None:
    result = cli("build", "--bench", "gsm8k", "--bench", "math500", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    for bench in ("gsm8k", "math500"):
        for kind in ("plan", "knowledge", "subproblems", "hints"):
            rel = f"{bench}/{kind}.jsonl"
            assert (tmp_path / rel).read_bytes() == (built / rel).read_bytes(), rel
    assert verify(built) == []  # sha256, schema, benchmark match and zero leaks, every file
    assert cli("verify", str(built)).exit_code == 0
    sizes = {p.relative_to(built).as_posix(): len(read_file(p)) for p in built.rglob("*.jsonl")}
    assert sizes["gsm8k/plan.jsonl"] == 1319 and sizes["math500/plan.jsonl"] >= 450
    assert sizes["gsm8k/hints.jsonl"] >= 1250 and sizes["gsm8k/subproblems.jsonl"] >= 1200
    assert min(sizes.values()) >= 10  # every bench and kind has annotations

    plan, subs = (read_file(built / f"gsm8k/{k}.jsonl")[0] for k in ("plan", "subproblems"))
    assert plan["plan"] == (
        "1. Janet sells 16 - 3 - 4 = r1 duck eggs a day.\n"
        "2. She makes r1 * 2 = $r2 every day at the farmer’s market."
    )
    assert [s["answer"] for s in subs["subproblems"]] == ["9", "18"]
    assert plan["provenance"] == {
        "annotator": "reference",
        "model": None,
        "prompt_version": "reference-1",
        "date": None,
        "source_sha256": plan["provenance"]["source_sha256"],
    }
    gold = {r["id"]: r["answer"] for r in load_rows("math500")}
    for note in read_file(built / "math500/subproblems.jsonl"):
        assert note["subproblems"][-1]["answer"] == gold[note["id"]]  # the chain ends at the goal
    for note in read_file(built / "gsm8k/hints.jsonl"):
        assert note["total_steps"] > len(note["hints"])  # the answer step is never shown


@pytest.mark.needs_data
def test_tasks_refuse_a_leaking_file_and_build_missing_ones(
    built: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copytree(built, tmp_path / "p")
    path = tmp_path / "p/gsm8k/plan.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    row = json.loads(lines[2])
    row["plan"] += "\n5. So he made a profit of $70,000."
    lines[2] = json.dumps(row, ensure_ascii=False) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(
        DataError, match=r"test-2: states the answer in plan: .*70000.*probes build"
    ):
        load("gsm8k", "plan", probes_root=tmp_path / "p")
    problems = {p.message.split(":")[0] for p in verify(tmp_path / "p")}
    assert problems == {"sha256 differs from the one in SHA256SUMS", "line 3"}

    with caplog.at_level(logging.WARNING):
        rows = load("gsm8k", "hints", probes_root=tmp_path / "empty")
    assert "built in memory" in caplog.text and "spark-math probes build" in caplog.text
    assert rows == read_file(built / "gsm8k/hints.jsonl")


@pytest.mark.needs_data
def test_long_prompts_are_reported_when_a_task_loads(
    built: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        probe_hooks.load_probe(
            "aime24", "plan", spark_probes_dir=str(built), spark_max_prompt_chars=3000
        )
    assert re.search(r"\d+ of 30 aime24/plan prompts are longer than 3000 characters", caplog.text)
    assert "from the LEFT" in caplog.text


def _sparkle_rows(rows: list[dict]) -> list[dict]:
    """Hand-made rows in the schema of sparkle-reasoning/sparkle_preview."""

    def item(pid: str, problem: str, plan: str, n: int, total: int, q: str, a: str) -> dict:
        return {
            "problem ID": pid,
            "problem": problem,
            "reasoning": "...",
            "answer": [a],
            "difficulty_level": 1,
            "domains": ["Arithmetic"],
            "planning": plan,
            "knowledge": "Money earned equals price per item times the number of items.",
            "subproblem_id": n,
            "subproblem_question": q,
            "subproblem_answer": a,
            "augmented_problem": problem,
            "subproblem_sequence": "",
            "total_subproblems": total,
        }

    janet = "  " + rows[0]["problem"].replace(" ", "\n", 3)  # whitespace differs from ours
    plan = "1. Count the eggs left each day.\n2. Multiply by the price of one egg."
    house = rows[2]["problem"]
    return [
        item("gsm8k_0", janet, plan, 2, 2, "How much does she make every day?", "18"),
        item("gsm8k_0", janet, plan, 1, 2, "How many eggs does she sell each day?", "9"),
        item("gsm8k_2", house, "So the profit is $70,000.", 1, 3, "What did he pay?", "130000"),
        item("gsm8k_2", house, "So the profit is $70,000.", 2, 3, "What is it worth?", "200000"),
        item("other_7", "A problem that is not in GSM8K.", plan, 1, 1, "Why?", "1"),
    ]


@pytest.mark.needs_data
def test_sparkle_import_from_a_local_file(tmp_path: Path) -> None:
    source = tmp_path / "sparkle_gsm8k.jsonl"
    rows = _sparkle_rows(load_rows("gsm8k"))
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    result = cli(
        "build",
        "--bench",
        "gsm8k",
        "--annotator",
        "sparkle",
        "--source",
        str(source),
        "--out",
        str(out),
        "--limit",
        "3",
    )
    assert result.exit_code == 0, result.output
    plan_line = next(line for line in result.output.splitlines() if "gsm8k/plan:" in line)
    assert plan_line.startswith("gsm8k/plan: 1 rows; none for 3: 1 no annotation (first: test-1)")
    assert "1 states the answer (first: test-2: plan: …so the profit is 70000" in plan_line
    assert "1 no matching problem in the benchmark (first: sparkle:other_7)" in result.output
    assert "1 incomplete chain (2 of 3 subproblems) (first: test-2)" in result.output
    (plan,) = read_file(out / "gsm8k/plan.jsonl")
    (subs,) = read_file(out / "gsm8k/subproblems.jsonl")
    assert plan["id"] == subs["id"] == "test-0"
    assert plan["plan"].startswith("1. Count the eggs")
    assert [s["answer"] for s in subs["subproblems"]] == ["9", "18"]  # ordered by subproblem_id
    assert subs["provenance"]["annotator"] == "sparkle"
    assert subs["provenance"]["model"] == "gpt-4.1"
    assert verify(out) == []
    refused = runner.invoke(
        app,
        [
            "build",
            "--bench",
            "gsm8k",
            "--kind",
            "hints",
            "--annotator",
            "sparkle",
            "--out",
            str(out),
        ],
    )
    assert refused.exit_code == 1 and "makes no hints annotations" in refused.output


def _canned(rows: list[dict]):
    """Fake Gemini answers: test-0's plan leaks once, test-2's always; test-1's chain ends at a
    wrong answer; test-2's subproblems come malformed once."""

    def answer(body: dict) -> str:
        text = prompt_text(body)
        row = next(r for r in rows if f"Problem:\n{r['problem']}\n" in text)
        attempt = text.count("\nAttempt ") + 1
        if "<knowledge>" in text:
            return "<knowledge>- Earnings are price times quantity.</knowledge>"
        if "<plan>" in text:
            leaks = row["id"] == "test-2" or (row["id"] == "test-0" and attempt == 1)
            step = f"= {row['answer']}" if leaks else "the result"
            return f"Sure.\n<plan>\n1. Work out the daily amount.\n2. Report {step}.\n</plan>"
        if row["id"] == "test-2" and attempt == 1:
            return "I cannot format this."
        final = "4" if row["id"] == "test-1" else row["answer"]
        return (
            "<subproblem><question>What is the first quantity?</question><answer>9</answer>"
            f"</subproblem><subproblem><question>What is asked?</question><answer>{final}</answer>"
            "</subproblem>"
        )

    return answer


@pytest.mark.needs_data
def test_gemini_annotator_against_the_fake_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("google.genai")
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaFAKE-probes-test")
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    fake = FakeGemini().start()
    fake.answer = _canned(load_rows("gsm8k")[:3])
    out = tmp_path / "out"
    args = [
        "build",
        "--bench",
        "gsm8k",
        "--annotator",
        "gemini",
        "--limit",
        "3",
        "--model",
        "gemini-test",
        "--base-url",
        fake.url,
        "--api-version",
        "v1beta",
        "--cache",
        str(tmp_path / "cache.jsonl"),
        "--date",
        "2026-01-05",
        "--out",
        str(out),
    ]
    try:
        first = cli(*args)
        sent = len(fake.requests)
        files = {p.name: p.read_bytes() for p in (out / "gsm8k").iterdir()}
        again = cli(*args)
    finally:
        fake.shutdown()
        fake.server_close()
    assert first.exit_code == 0, first.output
    assert (
        "gsm8k/plan: 2 rows; none for 1: 1 refused 3 times (first: test-2: it states"
        in first.output
    )
    assert (
        "gsm8k/subproblems: 2 rows; none for 1: 1 refused 3 times (first: test-1: the last"
        in first.output
    )
    assert "gsm8k/knowledge: 3 rows" in first.output
    # plan 3+2+1 requests (test-0 once more, test-2 twice more), knowledge 3, subproblems 3+2+1
    assert sent == 15
    assert again.exit_code == 0 and len(fake.requests) == sent  # the rerun is all cache hits
    assert files == {p.name: p.read_bytes() for p in (out / "gsm8k").iterdir()}
    plans = read_file(out / "gsm8k/plan.jsonl")
    assert [p["id"] for p in plans] == ["test-0", "test-1"]
    assert plans[0]["provenance"] | {"source_sha256": ""} == {
        "annotator": "gemini",
        "model": "gemini-test",
        "prompt_version": "llm-1",
        "date": "2026-01-05",
        "source_sha256": "",
    }
    retry = [r for r in fake.requests if "Attempt 2" in json.dumps(r["body"])]
    assert any("states the answer" in json.dumps(r["body"]) for r in retry)
    assert verify(out) == []


class PickyOracle(OracleLM):
    """spark-oracle answering the gold on a different set of GSM8K problems per task."""

    def _respond(self, request: Any) -> str:
        doc, task = request.doc, request.task_name
        n = int(doc.get("problem_id", doc["id"]).removeprefix("test-"))
        if task.endswith("_subproblems"):  # odd problems' chains; the others fail the last step
            solves = n % 2 == 1 or doc["step"] < doc["n_steps"]
        else:
            solves = {
                "spark_gsm8k": n < 20,
                "spark_gsm8k_plan": n % 3 == 0,
                "spark_gsm8k_knowledge": n % 4 == 0,
            }[task]
        self.mode = "gold" if solves else "garbage"
        return super()._respond(request)


def _oracle_run(out: Path, model: OracleLM | None = None, tasks: list[str] | None = None) -> dict:
    """spark-oracle (on every probe task by default) in this process; results files as lm_eval
    writes them."""
    lm_eval = pytest.importorskip("lm_eval")
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    from spark_math.harness_tasks import TASKS_DIR

    tracker = EvaluationTracker(output_path=str(out))
    results = lm_eval.simple_evaluate(
        model=model or OracleLM(),
        tasks=tasks or ["spark_probes", *PLAIN_TASKS],
        task_manager=TaskManager(include_path=str(TASKS_DIR), include_defaults=False),
        limit=60,
        log_samples=True,
        bootstrap_iters=0,
        evaluation_tracker=tracker,
    )
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    return json.loads(next(out.rglob("results_*.json")).read_text())


def _lm_eval_cli(out: Path, probes: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env["SPARK_MATH_PROBES_DIR"] = str(probes)
    tasks = ",".join(["spark_probes", *PLAIN_TASKS])
    command = [sys.executable, "-m", "lm_eval", "--tasks", tasks, "--log_samples"]
    command += ["--output_path", str(out), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)


def _report(results: Path, *args: str) -> Any:
    return runner.invoke(app, ["report", str(results), *args])


@pytest.mark.needs_data
def test_oracle_scores_one_on_every_probe_task_and_report(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARK_MATH_PROBES_DIR", str(built))
    results = _oracle_run(tmp_path / "oracle")
    for task in PROBE_TASKS:
        metrics = results["results"][task]
        assert metrics["exact_match,grader"] == 1.0, task
        if task.endswith("_subproblems"):
            assert metrics["ssr,grader"] == 1.0 and math.isnan(metrics["first_fail_step,grader"])
    assert set(results["group_subtasks"]["spark_probes"]) == set(PROBE_TASKS)

    report = _report(tmp_path / "oracle", "--json")
    assert report.exit_code == 0, report.output
    (model,) = json.loads(report.stdout)
    lines = {(line["bench"], line["probe"]): line for line in model["lines"]}
    assert set(lines) == {(t.split("_")[1], t.split("_")[2]) for t in PROBE_TASKS}
    for key, line in lines.items():
        assert line["paired"], key
        if line["n"]:
            assert (line["score"], line["plain"], line["gain"]) == (1.0, 1.0, 0.0), key
    assert lines["gsm8k", "plan"]["n"] == 60 and lines["gsm8k", "subproblems"]["n"] >= 10
    assert model["truncated"] is None  # no tokenizer to check with
    table = _report(tmp_path / "oracle")
    assert "OracleLM" in table.output and "first failing step none fails" in table.output

    for sample in (tmp_path / "oracle").rglob("samples_*.jsonl"):
        sample.unlink()  # without samples: task scores, unpaired
    (model,) = json.loads(_report(tmp_path / "oracle", "--json").stdout)
    assert all(not line["paired"] and line["gain"] == 0.0 for line in model["lines"])


@pytest.mark.needs_data
def test_leaderboard_and_report_agree_on_paired_gains(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One lm-eval run of GSM8K and three probes: the leaderboard's `Δ<axis>` is the report's
    paired gain. The plan covers the plain task's 60 problems, so pairing changes nothing; the
    knowledge probe and the subproblem chains cover other problems, so it does."""
    monkeypatch.setenv("SPARK_MATH_PROBES_DIR", str(built))
    tasks = ["spark_gsm8k", *(f"spark_gsm8k_{p}" for p in ("plan", "knowledge", "subproblems"))]
    results = _oracle_run(tmp_path / "picky", PickyOracle(), tasks)["results"]
    (run,) = probe_report.find_runs(tmp_path / "picky")
    report = {line.probe: line for line in probe_report.lines(run)}
    board = leaderboard([tmp_path / "picky"])
    assert set(report) == set(board.axes) == {"plan", "knowledge", "subproblems"}
    (row,) = board.rows.to_dict("records")
    plain = results["spark_gsm8k"]["exact_match,grader"]
    changed = set()
    for probe, line in report.items():
        assert line.paired and row[f"Δ{probe}"] == pytest.approx(100 * line.gain), probe
        metrics = results[f"spark_gsm8k_{probe}"]
        score = metrics["ssr,grader" if probe == "subproblems" else "exact_match,grader"]
        if abs(line.gain - (score - plain)) > 0.05:
            changed.add(probe)
    assert changed == {"knowledge", "subproblems"}
    cell = board.cells.set_index("axis").loc["subproblems"]
    assert cell["metric"] == "ssr" and cell["value"] == pytest.approx(
        100 * report["subproblems"].score
    )
    assert report["subproblems"].score == pytest.approx(
        results["spark_gsm8k_subproblems"]["ssr,grader"]
    )


@pytest.mark.needs_data
def test_tiny_model_runs_every_probe_task_and_truncation_is_caught(
    built: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    proc = _lm_eval_cli(
        tmp_path / "tiny",
        built,
        "--model",
        "hf",
        "--model_args",
        f"pretrained={tiny_model_dir},dtype=float32,max_length=512",
        "--device",
        "cpu",
        "--batch_size",
        "16",
        "--limit",
        "2",
        "--gen_kwargs",
        "max_gen_toks=4",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Left truncation applied" in proc.stderr  # the hf backend did cut long prompts
    results = json.loads(next((tmp_path / "tiny").rglob("results_*.json")).read_text())
    for task in PROBE_TASKS:
        assert 0.0 <= results["results"][task]["exact_match,grader"] <= 1.0, task
        assert results["configs"][task]["generation_kwargs"]["max_gen_toks"] == 4

    report = _report(tmp_path / "tiny")
    assert report.exit_code == 1  # cut prompts make the report fail
    cut = re.findall(r"TRUNCATED: \d+ of \d+ (\w+) prompts exceed .* = 508 tokens", report.output)
    assert cut and "spark_aime24_plan" in cut and not any("gsm8k" in t for t in cut)
    allowed = _report(tmp_path / "tiny", "--allow-truncated")
    assert allowed.exit_code == 0 and "hint75" in allowed.output
    assert tiny_model_dir.name in allowed.output  # the run is named after its `pretrained`
