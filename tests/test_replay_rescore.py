"""Re-grading saved generations (spark-replay, spark-math rescore) on samples files written by
lm-eval itself, and the plain `lm_eval` command against the fake Gemini server."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import lm_eval
import lm_eval.tasks
import pytest
import typer
from lm_eval.api.model import LM
from lm_eval.loggers import EvaluationTracker
from lm_eval.tasks import TaskManager
from typer.testing import CliRunner

from spark_math.cli.rescore import rescore
from spark_math.grading import grade
from spark_math.harness_tasks import TASKS_DIR
from spark_math.models.oracle import OracleLM
from spark_math.models.replay import ReplayError, ReplayLM

LM_EVAL = shutil.which("lm_eval", path=str(Path(sys.executable).parent)) or "lm_eval"
LM_EVAL_TASKS = Path(lm_eval.tasks.__file__).parent
SPARK_TASKS = ["spark_math500", "spark_aime24"]
LIMIT = 3
OLD_AIME = "samples_spark_aime24_2025-01-01T00-00-00.000000.jsonl"


def evaluate(model: LM, tasks: list[str], out: Path, **kwargs: Any) -> dict:
    """simple_evaluate with log_samples, writing results and samples files under `out`."""
    manager = kwargs.pop("task_manager", None) or TaskManager(
        include_path=str(TASKS_DIR), include_defaults=False
    )
    tracker = EvaluationTracker(output_path=str(out))
    results = lm_eval.simple_evaluate(
        model=model,
        tasks=tasks,
        task_manager=manager,
        log_samples=True,
        bootstrap_iters=0,
        evaluation_tracker=tracker,
        **kwargs,
    )
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task, task_samples in samples.items():
        tracker.save_results_samples(task_name=task, samples=task_samples)
    return results


def samples_file(out: Path, task: str) -> Path:
    (path,) = out.rglob(f"samples_{task}_*.jsonl")
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def scores(results: dict, task: str) -> dict[str, float]:
    return {k: v for k, v in results["results"][task].items() if "_stderr" not in k and "," in k}


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A real lm-eval run of the mixed oracle: 1 sample per MATH-500 doc, 8 per AIME doc."""
    out = tmp_path_factory.mktemp("oracle-run")
    return out, evaluate(OracleLM(mode="mixed"), SPARK_TASKS, out, limit=LIMIT)


@pytest.fixture
def replay_log(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> pytest.LogCaptureFixture:
    """Captures spark-replay's log (lm-eval may stop its loggers from propagating)."""
    monkeypatch.setattr(logging.getLogger("lm_eval"), "propagate", True)
    caplog.set_level(logging.INFO, logger="lm_eval.spark_replay")
    return caplog


@pytest.mark.needs_data
def test_replay_through_lm_eval_cli_reproduces_the_run(
    oracle_run: tuple[Path, dict], tmp_path: Path
) -> None:
    out, original = oracle_run
    files = ";".join(str(samples_file(out, task)) for task in SPARK_TASKS)
    command = [LM_EVAL, "--model", "spark-replay", "--model_args", f"samples={files}"]
    command += ["--tasks", ",".join(SPARK_TASKS), "--limit", str(LIMIT), "--log_samples"]
    command += ["--output_path", str(tmp_path)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]

    assert "6 matched by task and doc id, 0 by prompt text, 0 without a recording" in run.stderr
    assert "no recorded response" not in run.stderr
    (results_path,) = tmp_path.rglob("results_*.json")
    replayed = json.loads(results_path.read_text())
    for task in SPARK_TASKS:
        assert scores(replayed, task) == scores(original, task)
        before, after = lines(samples_file(out, task)), lines(samples_file(tmp_path, task))
        assert [s["resps"] for s in after] == [s["resps"] for s in before]
        assert [s["filtered_resps"] for s in after] == [s["filtered_resps"] for s in before]
    assert scores(original, "spark_aime24")["avg@8,grader"] == 0.5  # a mixed run, not all equal


@pytest.mark.needs_data
def test_replay_falls_back_to_prompt_text(
    oracle_run: tuple[Path, dict], tmp_path: Path, replay_log: pytest.LogCaptureFixture
) -> None:
    out, original = oracle_run
    math = samples_file(out, "spark_math500")
    shutil.copy(math, tmp_path / "samples_old_name_2025-01-01T00-00-00.000000.jsonl")
    shifted = lines(samples_file(out, "spark_aime24"))
    for sample in shifted:
        sample["doc_id"] = (sample["doc_id"] + 1) % LIMIT  # now names another document
    (tmp_path / OLD_AIME).write_text("".join(json.dumps(s) + "\n" for s in shifted))

    replayed = evaluate(ReplayLM(samples=[tmp_path]), SPARK_TASKS, tmp_path / "out", limit=LIMIT)

    for task in SPARK_TASKS:
        assert scores(replayed, task) == scores(original, task)
    assert "0 matched by task and doc id, 6 by prompt text" in replay_log.text


@pytest.mark.needs_data
def test_replay_of_a_chat_templated_run(tmp_path: Path, replay_log: pytest.LogCaptureFixture):
    task = ["spark_math500"]
    original = evaluate(
        OracleLM(mode="gold"), task, tmp_path / "chat", limit=LIMIT, apply_chat_template=True
    )
    recorded = samples_file(tmp_path / "chat", "spark_math500")
    assert lines(recorded)[0]["arguments"]["gen_args_0"]["arg_0"].startswith("user: ")
    renamed = tmp_path / "samples" / "samples_renamed_2025-01-01T00-00-00.jsonl"
    renamed.parent.mkdir()
    shutil.copy(recorded, renamed)  # no id match: the raw prompt must be found in the template

    replay = ReplayLM(samples=str(renamed))
    replayed = evaluate(replay, task, tmp_path / "out", limit=LIMIT, apply_chat_template=True)

    assert scores(replayed, "spark_math500") == scores(original, "spark_math500") != {}
    assert scores(original, "spark_math500")["exact_match,grader"] == 1.0
    assert "0 matched by task and doc id, 3 by prompt text" in replay_log.text


@pytest.mark.needs_data
def test_missing_recordings_reported_once(
    oracle_run: tuple[Path, dict], tmp_path: Path, replay_log: pytest.LogCaptureFixture
) -> None:
    out, _ = oracle_run
    kept = [s for s in lines(samples_file(out, "spark_aime24")) if s["doc_id"] != 1]
    (tmp_path / OLD_AIME).write_text("".join(json.dumps(s) + "\n" for s in kept))
    shutil.copy(samples_file(out, "spark_math500"), tmp_path)

    replayed = evaluate(ReplayLM(samples=str(tmp_path)), SPARK_TASKS, tmp_path / "o", limit=LIMIT)

    warnings = [
        r.getMessage()
        for r in replay_log.records
        if r.name == "lm_eval.spark_replay" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert "8 of 27 requests have no recorded response" in warnings[0]
    assert "spark_aime24 doc 1: no recording" in warnings[0]
    doc1 = lines(samples_file(tmp_path / "o", "spark_aime24"))[1]
    assert doc1["doc_id"] == 1 and doc1["resps"] == [[""] * 8]
    assert scores(replayed, "spark_aime24")["avg@8,grader"] == pytest.approx(1 / 3)


def test_replay_rejects_bad_samples(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="no samples files"):
        ReplayLM(samples=str(tmp_path / "nowhere"))
    bad = tmp_path / "samples_t_2025-01-01T00-00-00.jsonl"
    bad.write_text('{"doc_id": 0, "doc": {}, "resps": [["a"]], "arguments": {}}\n{"doc_id": 1,\n')
    with pytest.raises(ReplayError, match=r"samples_t_.*\.jsonl:2: not JSON"):
        ReplayLM(samples=str(bad))
    bad.write_text('{"doc_id": 0, "doc": {}, "resps": [["a"]], "arguments": {}}\n')
    with pytest.raises(ReplayError, match=r"samples_t_.*\.jsonl:1: not an lm-eval samples line"):
        ReplayLM(samples=str(bad))
    bad.write_text("")
    with pytest.raises(ReplayError, match=r"samples_t_.*\.jsonl: no samples"):
        ReplayLM(samples=str(bad))


@pytest.mark.needs_data
def test_replay_and_rescore_survive_bytes_bad_files_and_string_ids(
    oracle_run: tuple[Path, dict], tmp_path: Path, replay_log: pytest.LogCaptureFixture
) -> None:
    """A byte that is not UTF-8 is read as U+FFFD and reported with its file and line; a bad
    file is skipped (and named) while the good ones replay; string doc ids are accepted."""
    out, original = oracle_run
    math = lines(samples_file(out, "spark_math500"))
    for sample in math:
        sample["doc_id"] = str(sample["doc_id"])
    data = "".join(json.dumps(s) + "\n" for s in math).encode()
    data = data.replace(b"Working through", b"Working\xff through", 1)
    good = tmp_path / "samples_spark_math500_2025-01-01T00-00-00.000000.jsonl"
    good.write_bytes(data)
    (tmp_path / "samples_broken_2025-01-01T00-00-00.000000.jsonl").write_text("not json\n{}\n")
    replayed = evaluate(
        ReplayLM(samples=[tmp_path]), ["spark_math500"], tmp_path / "o", limit=LIMIT
    )
    assert scores(replayed, "spark_math500") == scores(original, "spark_math500")
    assert "bytes that are not UTF-8 on 1 lines (1)" in replay_log.text
    assert "skipped a file" in replay_log.text and "samples_broken" in replay_log.text
    (tmp_path / "empty.jsonl").write_text("")
    result = CliRunner().invoke(cli(), ["rescore", str(good), str(tmp_path / "empty.jsonl")])
    assert "bytes that are not UTF-8 on 1 lines (1)" in result.output
    assert "empty.jsonl: no samples" in result.output and result.exit_code == 1


# Documents for lm-eval's own gsm8k and minerva_math500, with responses in formats their
# extraction misses (or gets right): (question or problem, gold answer, response).
POLAR = "\\left( 3, \\frac{\\pi}{2} \\right)"
GSM8K = [
    ("Eggs: 16 - 3 - 4 = 9, sold at $2 each. Dollars per day?", "18",
     "She sells 9 eggs at $2 each, so she makes $18 per day."),
    ("A robe takes 2 bolts of blue and half that of white. Bolts in total?", "3",
     "2 + 1 = 3 bolts.\n**Answer: 3**"),
    ("Josh's house: what is the profit?", "70000", "The total is $\\boxed{70000}$."),
    ("James runs 3 sprints 3 times a week, 60 m each. Meters a week?", "540",
     "The answer is 12."),
    ("What is 2 + 3?", "5", "So 2 + 3 = 5.\n#### 5"),
]  # fmt: skip
MATH = [
    ("A fair coin: probability of heads?", "\\frac{1}{2}", "The probability is $\\boxed{0.5}$."),
    ("What is $4 + 6$?", "10", "Final Answer: The final answer is $10$. I hope it is correct."),
    ("Convert $(0,3)$ to polar coordinates.", POLAR, f"So the point is $\\boxed{{{POLAR}}}$."),
    ("What is $2 + 3$?", "5", "$\\boxed{6}$"),
]  # fmt: skip
LOADER = """
import json
import datasets

def load(spark_rows_file, **_ignored):
    splits = json.load(open(spark_rows_file))
    return datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in splits.items()})
"""


class FormatLM(LM):
    """Answers every document with its scripted response."""

    def __init__(self) -> None:
        super().__init__()
        self.responses = {q: r for q, _, r in GSM8K + MATH}

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        return [self.responses[r.doc.get("question") or r.doc["problem"]] for r in requests]

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError


@pytest.fixture(scope="module")
def builtin_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """lm-eval's own gsm8k (5-shot) and minerva_math500 tasks run offline on the rows above."""
    tmp = tmp_path_factory.mktemp("builtin")
    gsm8k = [{"question": q, "answer": f"Work.\n#### {a}"} for q, a, _ in GSM8K]
    math = [{"problem": p, "solution": f"So $\\boxed{{{a}}}$.", "answer": a} for p, a, _ in MATH]
    (tmp / "local_rows.py").write_text(LOADER)
    for task, yaml_path, splits in [
        ("gsm8k", "gsm8k/gsm8k.yaml", {"test": gsm8k, "train": gsm8k}),
        ("minerva_math500", "minerva_math/minerva_math500.yaml", {"test": math}),
    ]:
        (tmp / f"{task}.json").write_text(json.dumps(splits))
        (tmp / f"{task}.yaml").write_text(
            f"include: {LM_EVAL_TASKS / yaml_path}\ntask: {task}\n"
            "custom_dataset: !function local_rows.load\n"
            f"dataset_kwargs: {{spark_rows_file: {tmp / f'{task}.json'}}}\n"
        )
    manager = TaskManager(include_path=str(tmp), include_defaults=False)
    results = evaluate(FormatLM(), ["gsm8k", "minerva_math500"], tmp / "out", task_manager=manager)
    return tmp / "out", results


def cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("rescore")(rescore)
    return app


def test_rescore_lm_eval_builtin_task_samples(builtin_run: tuple[Path, dict], tmp_path: Path):
    out, results = builtin_run
    gsm8k, math = samples_file(out, "gsm8k"), samples_file(out, "minerva_math500")
    verdicts = tmp_path / "verdicts.jsonl"

    run = CliRunner().invoke(cli(), ["rescore", str(gsm8k), str(math), "--out", str(verdicts)])

    assert run.exit_code == 0, run.output
    new_gsm8k = [grade(r, a, task="gsm8k").correct for _, a, r in GSM8K]
    new_math = [grade(r, a, task="math").correct for _, a, r in MATH]
    assert new_math == [True, True, True, False]
    old = results["results"]
    assert (old["gsm8k"]["exact_match,strict-match"], sum(new_gsm8k) / 5) == (0.2, 0.8)
    for value in (
        old["gsm8k"]["exact_match,strict-match"],
        old["gsm8k"]["exact_match,flexible-extract"],
        old["minerva_math500"]["exact_match,none"],
        old["minerva_math500"]["math_verify,none"],
        sum(new_gsm8k) / len(GSM8K),
        sum(new_math) / len(MATH),
    ):
        assert f"{value:.4f}" in run.output
    assert "exact_match,strict-match" in run.output and "exact_match,flexible-extract" in run.output
    assert "labels (exact_match,strict-match): accuracy 0.2000, ours 0.8000" in run.output
    assert "3 disagreements: 3 label wrong, ours correct; 0 label correct, ours" in run.output
    assert "labels (exact_match,none): accuracy 0.2500, ours 0.7500" in run.output
    assert "2 disagreements: 2 label wrong, ours correct; 0 label correct, ours" in run.output
    assert POLAR in run.output and "equal" in run.output
    records = lines(verdicts)
    assert [r["verdicts"][0]["correct"] for r in records] == new_gsm8k + new_math
    assert [r["labels"] for r in records[:2]] == [[False], [False]]
    assert records[0]["old"] == {
        "exact_match,strict-match": 0.0,
        "exact_match,flexible-extract": 1.0,
    }
    assert records[5]["gold"] == "\\frac{1}{2}" and records[5]["verdicts"][0]["extracted"] == "0.5"

    flexible = CliRunner().invoke(cli(), ["rescore", str(gsm8k), "--filter", "flexible-extract"])
    assert "labels (exact_match,flexible-extract): accuracy 0.6000" in flexible.output
    assert "1 disagreements: 1 label wrong, ours correct" in flexible.output


def test_rescore_plain_jsonl(tmp_path: Path) -> None:
    records = [
        {
            "id": "a",
            "problem": "1/2?",
            "response": "\\boxed{0.5}",
            "gold": "\\frac12",
            "correct": 0,
        },
        {"id": "b", "problem": "2+2?", "response": "\\boxed{4}", "gold": "4", "correct": True},
        {"id": "c", "problem": "3+3?", "response": ["\\boxed{6}", "\\boxed{7}"], "gold": "6"},
    ]
    path = tmp_path / "generations.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "verdicts.jsonl"

    run = CliRunner().invoke(cli(), ["rescore", str(path), "--out", str(out), "--no-progress"])

    assert run.exit_code == 0, run.output
    assert "labels (correct): accuracy 0.5000, ours 1.0000" in run.output
    assert "agreement 50.00% of 2 responses, 50.00% of 2 items" in run.output
    assert "1 disagreements: 1 label wrong, ours correct; 0 label correct, ours wrong" in run.output
    verdicts = lines(out)
    assert [v["new"]["exact_match"] for v in verdicts] == [1.0, 1.0, 1.0]
    assert verdicts[2]["new"]["avg@2"] == 0.5 and len(verdicts[2]["verdicts"]) == 2
    assert verdicts[0]["profile"] == "math" and verdicts[0]["labels"] == [False]
    assert [v["doc_id"] for v in verdicts] == ["a", "b", "c"] and verdicts[2]["labels"] == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"problem": "x", "response": "1", "gold": "1"}\n\n{"problem": "y", "re', ":3: not JSON"),
        ('{"problem": "x", "response": "1"}\n', ":1: missing field 'gold'"),
        ('{"problem": "x", "answer": "1"}\n', ":1: neither 'resps' (lm-eval samples) nor"),
        ('{"doc_id": 0, "doc": {}, "resps": [[["-1.5", "False"]]]}\n', ":1: 'resps' holds no"),
    ],
)
def test_rescore_malformed_input(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    run = CliRunner().invoke(cli(), ["rescore", str(path)])
    assert run.exit_code == 1
    assert f"error: {path}{message}" in run.output


@pytest.mark.needs_data
def test_plain_lm_eval_against_fake_gemini_scores_gold(tmp_path: Path) -> None:
    pytest.importorskip("google.genai")
    from fake_gemini import FakeGemini, gold_answers

    from spark_math.data import load_rows

    server = FakeGemini().start()
    server.answer = gold_answers(load_rows("gsm8k"))
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_API_KEY"} | {"GEMINI_API_KEY": "x"}
    model_args = f"model=gemini-2.0-flash,base_url={server.url},cache=none"
    command = [LM_EVAL, "--model", "gemini", "--model_args", model_args, "--tasks", "spark_gsm8k"]
    command += ["--limit", "5", "--apply_chat_template", "--output_path", str(tmp_path)]
    try:
        run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    finally:
        server.shutdown()
        server.server_close()

    assert run.returncode == 0, run.stderr[-3000:]
    (results_path,) = tmp_path.rglob("results_*.json")
    results = json.loads(results_path.read_text())
    assert results["results"]["spark_gsm8k"]["exact_match,grader"] == 1.0
    assert results["n-samples"]["spark_gsm8k"]["effective"] == 5
    assert len(server.requests) == 5
    assert {r["model"] for r in server.requests} == {"gemini-2.0-flash"}


@pytest.mark.needs_data
def test_gemini_failures_are_counted_in_the_results_json(tmp_path: Path) -> None:
    """Against the fake server, with on_failure=exclude: a request that fails after its retries,
    a blocked one and an empty one are counted in failed/blocked/empty, left out of accuracy,
    and marked in the sample log; by default the same run stops with one line."""
    pytest.importorskip("google.genai")
    from fake_gemini import FakeGemini, gold_answers

    from spark_math.data import load_rows

    server = FakeGemini().start()
    server.answer = gold_answers(load_rows("gsm8k"))
    server.retry_after = 0
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_API_KEY"} | {"GEMINI_API_KEY": "x"}
    args = f"model=gemini-2.0-flash,base_url={server.url},cache=none,max_retries=1,concurrency=1"
    command = [LM_EVAL, "--model", "gemini", "--tasks", "spark_gsm8k", "--limit", "8"]
    command += ["--apply_chat_template", "--log_samples", "--output_path", str(tmp_path)]
    try:
        server.push("500", 2)  # the first request fails twice: gives up after 1 retry
        server.push("safety")
        server.push("no_candidates", 2)
        stopped = subprocess.run(
            [*command, "--model_args", args], capture_output=True, text=True, env=env, timeout=300
        )
        server.push("500", 2)
        server.push("safety")
        server.push("no_candidates", 2)
        run = subprocess.run(
            [*command, "--model_args", args + ",on_failure=exclude"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    finally:
        server.shutdown()
        server.server_close()

    assert stopped.returncode == 2, stopped.stderr[-2000:]
    assert "error: gemini: 3 of 8 requests got no answer (1 blocked, 1 empty, 1 failed" in (
        stopped.stderr
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (results_path,) = tmp_path.rglob("results_*.json")
    metrics = json.loads(results_path.read_text())["results"]["spark_gsm8k"]
    assert metrics["failed,grader"] == metrics["blocked,grader"] == metrics["empty,grader"] == 1 / 8
    assert metrics["exact_match,grader"] == 1.0  # over the 5 answered documents
    samples = lines(samples_file(tmp_path, "spark_gsm8k"))
    statuses = sorted(json.loads(s["filtered_resps"][0][0]).get("status") for s in samples)
    assert statuses == ["blocked", "empty", "failed", "ok", "ok", "ok", "ok", "ok"]
