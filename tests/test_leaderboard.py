"""spark_math.leaderboard: results parsing, protocols, tables, averages, deltas, conflicts, probe
gains, formats, CLI."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from spark_math.baselines import REPORTED
from spark_math.cli import leaderboard as leaderboard_cli
from spark_math.harness_tasks.protocols import PROTOCOLS
from spark_math.leaderboard import LeaderboardError, leaderboard, render
from spark_math.leaderboard.plot import _panels
from spark_math.leaderboard.reported import load_reported
from spark_math.leaderboard.results import OTHER, load_run, parse_task, split_task
from spark_math.probes import report as probe_report

ROOT = Path(__file__).resolve().parents[1]
GREEDY = {"generation_kwargs": {"do_sample": False, "temperature": 0.0, "max_gen_toks": 2048}}
SAMPLED = {
    "generation_kwargs": {"do_sample": True, "temperature": 0.6, "top_p": 0.95, "max_gen_toks": 64},
    "repeats": 8,
}


def results_file(
    path: Path,
    scores: dict[str, dict[str, float | str]],
    *,
    pretrained: str = "org/model",
    date: float = 1_790_000_000.0,
    run_name: str | None = None,
    counts: dict[str, int] | None = None,
    samples: dict[str, list[dict]] | None = None,
) -> Path:
    """An lm-eval results file as `lm_eval --output_path` writes it (the keys we read), with
    `samples_<task>_<stamp>.jsonl` files beside it as `--log_samples` writes them."""
    metadata = {"spark_run_name": run_name} if run_name else {}
    configs = {
        task: {**(SAMPLED if any("avg@" in k for k in metrics) else GREEDY), "metadata": metadata}
        for task, metrics in scores.items()
    }
    body = {
        "results": {t: {"name": t, "alias": t, **m} for t, m in scores.items()},
        "group_subtasks": {t: [] for t in scores},
        "configs": configs,
        "n-samples": {t: {"original": 30, "effective": (counts or {}).get(t, 30)} for t in scores},
        "config": {"model": "hf", "model_args": {"pretrained": pretrained}, "limit": None},
        "git_hash": "abc1234",
        "date": date,
        "lm_eval_version": "0.4.13",
        "chat_template": None,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body), encoding="utf-8")
    stamp = path.stem.removeprefix("results_")
    for task, records in (samples or {}).items():
        lines = "".join(json.dumps({"filter": "grader", **r}) + "\n" for r in records)
        path.with_name(f"samples_{task}_{stamp}.jsonl").write_text(lines, encoding="utf-8")
    return path


def md_row(text: str, model: str) -> list[str]:
    """The stripped cells of the first Markdown table line whose model cell is `model`."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("|") and cells[0] == model:
            return cells
    raise AssertionError(f"no row {model!r} in:\n{text}")


def em(value: float, stderr: float | str = 0.01) -> dict[str, float | str]:
    return {"exact_match,grader": value, "exact_match_stderr,grader": stderr}


def avg8(value: float) -> dict[str, float]:
    return {"avg@8,grader": value}


def section(text: str, protocol: str) -> str:
    """The Markdown of one protocol's table: from its heading to the next heading."""
    start = text.index(f"### Protocol `{protocol}`")
    end = text.find("\n### ", start + 1)
    return text[start : end if end >= 0 else None]


def table_models(text: str) -> list[str]:
    """The model cells of the table lines in `text`."""
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    return [line.strip("|").split("|")[0].strip() for line in lines[1:]]


@pytest.mark.parametrize(
    ("task", "protocol", "benchmark", "axis"),
    [
        ("spark_aime24", "spark", "aime24", ""),
        ("spark_aime24_k8", "spark", "aime24", ""),
        ("spark_gsm8k_plan", "spark", "gsm8k", "plan"),
        ("spark_math500_hint25_k8", "spark", "math500", "hint25"),
        ("spark_math500_subproblems", "spark", "math500", "subproblems"),
        ("spark_hendrycks_math", "spark", "math", ""),  # the full MATH test set
        ("spark_minerva_math", "spark", "minerva_math", ""),
        ("spark_sparkle_aime24", "sparkle", "aime24", ""),
        ("spark_sparkle_aime24_plan", "sparkle", "aime24", "plan"),
        ("spark_sparkle_gsm8k_knowledge", "sparkle", "gsm8k", "knowledge"),
        ("spark_qwen_math", "qwen25-math-cot", "math", ""),
        ("spark_qwen_aime24", "qwen25-math-cot", "aime24", ""),
        ("spark_qwen_gaokao2024_I", "qwen25-math-cot", "gaokao2024_I", ""),
        ("spark_lmeval_gsm8k_cot", "lm-eval-fewshot", "gsm8k", ""),
        ("spark_lmeval_math500_4shot", "lm-eval-fewshot", "math500", ""),
        ("spark_lmeval_math_4shot", "lm-eval-fewshot", "math", ""),
        ("gsm8k_cot", OTHER, "gsm8k_cot", ""),  # lm-eval's own task: no preset, name kept
        ("minerva_math_algebra", OTHER, "minerva_math_algebra", ""),
    ],
)
def test_task_names_give_protocol_benchmark_and_probe_axis(task, protocol, benchmark, axis):
    assert parse_task(task) == (protocol, benchmark, axis)
    assert split_task(task) == (benchmark, axis)
    assert protocol == OTHER or task.startswith(PROTOCOLS[protocol].prefix)


def test_every_task_shipped_parses_to_its_declared_benchmark():
    """Each task YAML that declares `spark_benchmark` (and `spark_probe`) names the same
    benchmark and axis as its task name says."""
    import yaml

    root = ROOT / "spark_math" / "harness_tasks"
    checked = 0
    for path in root.rglob("spark_*.yaml"):
        text = path.read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if "!function" not in line]
        body = yaml.safe_load("\n".join(lines))
        declared = (body.get("dataset_kwargs") or {}).get("spark_benchmark")
        if "task" not in body or not isinstance(body["task"], str) or declared is None:
            continue
        protocol, benchmark, axis = parse_task(body["task"])
        assert protocol != OTHER and benchmark == declared, path.name
        probe = body["dataset_kwargs"].get("spark_probe") or ""
        assert axis == probe or (probe == "hints" and axis.startswith("hint")), path.name
        checked += 1
    assert checked > 20


def test_headline_metric_prefers_avg_at_k_and_the_grader_filter(tmp_path):
    path = results_file(
        tmp_path / "r" / "results_1.json",
        {
            "spark_aime24": {
                "exact_match,grader": 0.1, "exact_match_stderr,grader": 0.05,
                "pass@8,grader": 0.5, "pass@8_stderr,grader": 0.1,
                "avg@8,grader": 0.25, "avg@8_stderr,grader": 0.04,
            },
            "gsm8k": {
                "exact_match,strict-match": 0.3, "exact_match_stderr,strict-match": "N/A",
                "exact_match,flexible-extract": 0.4,
            },
        },
    )  # fmt: skip
    run = load_run(path)
    aime, gsm = run.scores
    assert (aime.benchmark, aime.metric, aime.value, aime.stderr) == ("aime24", "avg@8", 25.0, 4.0)
    assert aime.decoding == "T=0.6 top_p=0.95 ×8 ≤64 tok"
    # no grader filter: the first alphabetically, named with its filter; "N/A" is no stderr
    assert gsm.metric == "exact_match,flexible-extract" and gsm.stderr is None
    assert run.model == "org/model" and run.lm_eval_version == "0.4.13"


def test_run_names_prefer_the_recorded_run_name(tmp_path):
    named = results_file(tmp_path / "results_a.json", {"spark_gsm8k": em(0.5)}, run_name="my-run")
    assert load_run(named).model == "my-run"
    body = json.loads(named.read_text())
    body["config"]["model_args"] = "samples=out/x"
    for cfg in body["configs"].values():
        cfg["metadata"] = {}
    named.write_text(json.dumps(body))
    assert load_run(named).model == "hf(samples=out/x)"


def test_table_shows_value_stderr_and_delta_against_the_baseline(tmp_path):
    results_file(
        tmp_path / "results_base.json",
        {"spark_gsm8k": em(0.44, 0.012), "spark_aime24": {"avg@8,grader": 0.1}},
        pretrained="base",
    )
    results_file(
        tmp_path / "results_tuned.json",
        {"spark_gsm8k": em(0.81, 0.012), "spark_aime24": {"avg@8,grader": 0.2}},
        pretrained="tuned",
    )
    board = leaderboard([tmp_path], baseline="base")
    text = render(board, "md")
    assert board.columns == ["gsm8k exact_match", "aime24 avg@8"]
    assert list(board.rows.index) == ["spark: tuned", "spark: base"]  # ranked by average
    assert list(board.rows["name"]) == ["tuned", "base"]
    assert "81.0 ± 1.2 (+37.0)" in text and "20.0 (+10.0)" in text
    assert "50.5 (+23.5)" in text  # the average and its delta
    assert md_row(text, "base")[:5] == ["base", "measured (baseline)", "44.0 ± 1.2", "10.0", "27.0"]
    assert "percentage points against `base`" in text
    assert "abc1234" in text and "0.4.13" in text and "greedy ≤2048 tok" in text  # footer
    with pytest.raises(LeaderboardError, match="no row"):
        leaderboard([tmp_path], baseline="nobody")


def test_conflicting_runs_are_flagged_not_averaged(tmp_path):
    results_file(tmp_path / "results_old.json", {"spark_gsm8k": em(0.40)}, date=1_790_000_000)
    results_file(tmp_path / "results_new.json", {"spark_gsm8k": em(0.60)}, date=1_790_000_100)
    results_file(tmp_path / "results_same.json", {"spark_math500": em(0.5)}, date=1_790_000_000)
    results_file(tmp_path / "results_same2.json", {"spark_math500": em(0.5)}, date=1_790_000_200)
    board = leaderboard([tmp_path])
    cell = board.cells.set_index("column").loc["gsm8k exact_match"]
    assert cell["value"] == 60.0 and cell["conflict"]  # the latest run, flagged; never 50.0
    assert not board.cells.set_index("column").loc["math500 exact_match", "conflict"]
    assert [c.column for c in board.conflicts] == ["gsm8k exact_match"]
    text = render(board, "md")
    assert "60.0 ± 1.0 ⚠" in text and "### Conflicting runs" in text
    assert "40.0 (n=30" in text and "results_old.json" in text and "results_new.json" in text


def test_probe_axis_gains_over_the_plain_task(tmp_path):
    results_file(
        tmp_path / "results_r.json",
        {
            "spark_gsm8k": em(0.40),
            "spark_gsm8k_plan": em(0.35),
            "spark_gsm8k_knowledge": em(0.50),
            "spark_math500": em(0.20),
            "spark_math500_plan": em(0.30),
        },
    )
    board = leaderboard([tmp_path])
    assert board.columns == ["gsm8k exact_match", "math500 exact_match"]  # probes are no columns
    assert board.axes == ["plan", "knowledge"]
    row = board.rows.iloc[0]
    assert row["avg"] == pytest.approx(30.0)
    assert row["Δplan"] == pytest.approx(2.5) and row["Δknowledge"] == pytest.approx(10.0)
    text = render(board, "md")
    assert "### Probe-axis gains" in text and "35.0 (-5.0)" in text and "30.0 (+10.0)" in text
    assert md_row(text.split("### Probe-axis gains")[1], "org/model")[:5] == [
        "org/model", "spark", "gsm8k exact_match", "40.0 ± 1.0", "35.0 (-5.0)"
    ]  # fmt: skip


def test_probes_pair_with_the_plain_task_of_their_own_run(tmp_path):
    results_file(
        tmp_path / "results_probes.json",
        {"spark_gsm8k": em(0.40), "spark_gsm8k_plan": em(0.45)},
        date=1_790_000_000,
    )
    results_file(tmp_path / "results_later.json", {"spark_gsm8k": em(0.50)}, date=1_790_000_100)
    board = leaderboard([tmp_path])
    assert board.rows.iloc[0]["Δplan"] == pytest.approx(5.0)  # 45 - 40, not 45 - 50
    plain = board.cells[board.cells["axis"] == ""].set_index("column")
    assert plain.loc["gsm8k exact_match", "value"] == 50.0
    assert [c.column for c in board.conflicts] == ["gsm8k exact_match"]


def test_probe_gains_are_paired_from_samples_as_in_the_probes_report(tmp_path):
    """Plain: p0 and p1 solved, p2 and p3 not (50%). The plan covers p0 and p1 and solves p0
    (50%): unpaired its gain is 0, paired -50. Subproblems: p0's chain is solved, p1's fails at
    step 2 (SSR 50%, step accuracy 75%): unpaired 0, paired -50."""

    def solved(pid: str, correct: bool) -> dict:
        return {"doc": {"id": pid}, "exact_match": float(correct)}

    def step(pid: str, n: int, correct: bool) -> dict:
        doc = {"id": f"{pid}#{n}", "problem_id": pid}
        return {"doc": doc, "exact_match": float(correct), "ssr": [pid, n, 2, [correct]]}

    subproblems = {**em(0.75), "ssr,grader": 0.5, "first_fail_step,grader": 2.0}
    results_file(
        tmp_path / "results_2026.json",
        {
            "spark_gsm8k": em(0.5),
            "spark_gsm8k_plan": em(0.5),
            "spark_gsm8k_subproblems": subproblems,
        },
        samples={
            "spark_gsm8k": [solved(f"p{i}", i < 2) for i in range(4)],
            "spark_gsm8k_plan": [solved("p0", True), solved("p1", False)],
            "spark_gsm8k_subproblems": [
                step(p, n, p == "p0" or n == 1) for p in ("p0", "p1") for n in (1, 2)
            ],
        },
    )
    board = leaderboard([tmp_path])
    row = board.rows.iloc[0]
    assert (row["Δplan"], row["Δsubproblems"]) == (pytest.approx(-50.0), pytest.approx(-50.0))
    cell = board.cells.set_index("axis").loc["subproblems"]
    assert (cell["metric"], cell["value"], cell["plain"], cell["paired"]) == ("ssr", 50, 50, True)
    probes = md_row(render(board, "md").split("### Probe-axis gains")[1], "org/model")
    assert probes[1:6] == [
        "spark", "gsm8k exact_match", "50.0 ± 1.0", "50.0 (-50.0)", "50.0 (-50.0)"
    ]  # fmt: skip
    (run,) = probe_report.find_runs(tmp_path)
    report = {line.probe: 100 * line.gain for line in probe_report.lines(run)}
    assert report == {"plan": row["Δplan"], "subproblems": row["Δsubproblems"]}

    for path in tmp_path.glob("samples_*.jsonl"):
        path.unlink()
    unpaired = leaderboard([tmp_path])
    assert (unpaired.rows.iloc[0]["Δplan"], unpaired.rows.iloc[0]["Δsubproblems"]) == (0.0, 0.0)
    assert not unpaired.cells["paired"].dropna().any()


def test_files_that_are_not_lm_eval_results_get_an_error_naming_them(tmp_path):
    samples = tmp_path / "samples_spark_gsm8k_2026.jsonl"
    samples.write_text('{"doc_id": 0}\n{"doc_id": 1}\n')
    with pytest.raises(LeaderboardError, match=f"{samples}: not an lm-eval results file"):
        leaderboard([samples])
    other = tmp_path / "config.json"
    other.write_text(json.dumps({"model": "x"}))
    with pytest.raises(LeaderboardError, match=r"config\.json: not an lm-eval results file"):
        leaderboard([other])
    (tmp_path / "empty").mkdir()
    with pytest.raises(LeaderboardError, match="no lm-eval results files"):
        leaderboard([tmp_path / "empty"])
    with pytest.raises(LeaderboardError, match="no such file"):
        leaderboard([tmp_path / "missing"])


def test_committed_reported_scores_are_sourced_and_marked(tmp_path):
    sources, rows = load_reported(REPORTED)
    assert {r.source for r in rows} <= set(sources)
    assert all(s.citation and s.settings for s in sources.values())
    stage2 = next(r for r in rows if r.model == "SparkleRL-7B-Stage2-aug")
    assert stage2.metric == "avg@8" and stage2.scores["aime24"] == 50.42
    assert {s.protocol for s in sources.values()} <= set(PROTOCOLS)
    assert {r.protocol for r in rows} == {"sparkle", "qwen25-math-cot"}
    assert sources["sparkle"].protocol == "sparkle"
    assert sources["qwen2.5-math"].protocol == "qwen25-math-cot"
    results_file(
        tmp_path / "results_r.json", {"spark_sparkle_aime24": avg8(0.5)}, pretrained="mine"
    )
    board = leaderboard([tmp_path], reported=REPORTED, baseline="Qwen2.5-Math-7B (SPARKLE base)")
    text = render(board, "md")
    sparkle = section(text, "sparkle")
    assert md_row(sparkle, "mine")[1] == "measured"
    assert md_row(sparkle, "SparkleRL-7B-Stage2-aug [reported]")[1].startswith("reported [")
    assert "50.0 (+33.3)" in sparkle  # measured against the reported baseline, same protocol
    assert "### Reported sources" in text and "arXiv:2506.04723" in text
    assert "Protocol: `sparkle`" in text and "Protocol: `qwen25-math-cot`" in text
    reported = board.rows[board.rows["type"] == "reported"]
    assert len(reported) == len(rows)
    assert all(name.endswith("[reported]") for name in reported["name"])
    assert table_models(section(text, "qwen25-math-cot")) == [
        "Qwen2.5-Math-7B-Instruct [reported]", "Qwen2.5-Math-72B-Instruct [reported]"
    ]  # fmt: skip


SOURCE = "sources: {s: {citation: c, settings: t, protocol: sparkle}}\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("sources: {}\nrows: []\nextra: 1\n", "exactly the keys"),
        ("sources: {s: {citation: c, protocol: spark}}\nrows: []\n", r"lacks \['settings'\]"),
        ("sources: {s: {citation: c, settings: t}}\nrows: []\n", r"lacks \['protocol'\]"),
        (
            "sources: {s: {citation: c, settings: t, protocol: sparkle-ish}}\nrows: []\n",
            "source 's' has unknown protocol 'sparkle-ish'; known: sparkle, qwen25-math-cot",
        ),
        (
            SOURCE + "rows: [{model: m, source: t, metric: avg@8, scores: {gsm8k: 1}}]\n",
            "unknown source 't'",
        ),
        (
            SOURCE + "rows: [{model: m, source: s, metric: avg@8, scores: {gsm8k: 101}}]\n",
            "not a percentage",
        ),
        (
            SOURCE + "rows: [{model: m, source: s, metric: avg@8, scores: {spark_gsm8k: 1}}]\n",
            "not a benchmark name",
        ),
        (
            SOURCE + "rows: [{model: m, source: s, metric: avg@8, scores: {gsm8k_plan: 1}}]\n",
            "not a benchmark name",
        ),
        (
            SOURCE.replace("sparkle", "lm-eval-fewshot")
            + "rows: [{model: m, source: s, metric: em, scores: {gsm8k_cot: 1}}]\n",
            "'gsm8k_cot' is not a benchmark name",
        ),
    ],
)
def test_reported_file_is_validated(tmp_path, body, message):
    path = tmp_path / "reported.yaml"
    path.write_text(body)
    with pytest.raises(LeaderboardError, match=message):
        load_reported(path)


def test_csv_and_json_carry_every_cell(tmp_path):
    results_file(tmp_path / "results_a.json", {"spark_gsm8k": em(0.5, 0.1)}, pretrained="a")
    results_file(tmp_path / "results_b.json", {"spark_gsm8k": em(0.75, "N/A")}, pretrained="b")
    board = leaderboard([tmp_path], baseline="a")
    lines = list(csv.DictReader(io.StringIO(render(board, "csv"))))
    b = next(line for line in lines if line["model"] == "b")
    assert (b["metric"], b["value"], b["stderr"]) == ("exact_match", "75.0000", "")
    assert b["delta"] == "25.0000"
    data = json.loads(render(board, "json"))
    assert data["unit"] == "percent" and data["baseline"] == "a"
    row_b = next(r for r in data["rows"] if r["model"] == "b")
    assert (row_b["avg"], row_b["avg_delta"]) == (75.0, 25.0)
    assert row_b["cells"][0]["stderr"] is None
    assert {r["lm-eval"] for r in data["runs"]} == {"0.4.13"}
    assert b["protocol"] == "spark" and row_b["protocol"] == "spark"
    assert data["mixed_protocols"] is False and data["protocols"]["spark"]["avg_columns"] == [
        "gsm8k exact_match"
    ]


def test_a_model_under_two_protocols_is_two_rows_in_two_tables(tmp_path):
    """spark_gsm8k_k8 and spark_sparkle_gsm8k both score `gsm8k avg@8`, yet the spark-defaults
    table never shows SPARKLE's reported rows, nor deltas against SPARKLE's base model."""
    results_file(
        tmp_path / "m" / "results_1.json",
        {
            "spark_gsm8k_k8": avg8(0.6),
            "spark_aime24": avg8(0.1),
            "spark_sparkle_gsm8k": avg8(0.9),
            "spark_sparkle_aime24": avg8(0.2),
        },
        pretrained="m",
    )
    board = leaderboard([tmp_path], reported=REPORTED, baseline="Qwen2.5-Math-7B (SPARKLE base)")
    assert board.protocols == ["spark", "sparkle", "qwen25-math-cot"]
    assert {"spark: m", "sparkle: m"} <= set(board.rows.index)
    assert board.rows.loc["spark: m", "avg"] == pytest.approx(35.0)
    assert board.rows.loc["sparkle: m", "avg"] == pytest.approx(55.0)
    assert not board.conflicts  # same model and column, different protocols: no conflict
    spark_table, sparkle_table = board.tables[:2]
    assert spark_table.rows == ["spark: m"] and spark_table.baseline is None
    assert spark_table.columns == ["gsm8k avg@8", "aime24 avg@8"]
    assert sparkle_table.baseline == "sparkle: Qwen2.5-Math-7B (SPARKLE base) [reported]"
    assert sparkle_table.rows[0] == "sparkle: m"

    text = render(board, "md")
    spark, sparkle = section(text, "spark"), section(text, "sparkle")
    assert spark.startswith("### Protocol `spark`: spark-math defaults")
    assert PROTOCOLS["spark"].summary in spark
    assert sparkle.startswith(f"### Protocol `sparkle`: {PROTOCOLS['sparkle'].source}")
    assert PROTOCOLS["sparkle"].summary in sparkle and "`spark_sparkle_<benchmark>`" in sparkle
    assert table_models(spark) == ["m"]  # no reported row in the spark-defaults table
    assert "[reported]" not in spark and "(+" not in spark and "(-" not in spark
    assert md_row(spark, "m")[1:4] == ["measured", "60.0", "10.0"]
    assert table_models(sparkle) == [
        "m",
        "Qwen2.5-Math-7B (SPARKLE base) [reported]",
        "SparkleRL-7B-Stage1 [reported]",
        "SparkleRL-7B-Stage2-aug [reported]",
    ]
    assert md_row(sparkle, "m")[2] == "90.0 (+47.5)"  # 90 - 42.53, same protocol
    assert md_row(sparkle, "Qwen2.5-Math-7B (SPARKLE base) [reported]")[1].endswith("(baseline)")
    assert table_models(section(text, "qwen25-math-cot")) == [
        "Qwen2.5-Math-7B-Instruct [reported]", "Qwen2.5-Math-72B-Instruct [reported]"
    ]  # fmt: skip
    assert "within its protocol only" in text
    runs = md_row(text.split("### Runs")[1], "m")
    assert runs[1] == "spark, sparkle"
    assert runs[-1] == "gsm8k, aime24, sparkle/gsm8k, sparkle/aime24: T=0.6 top_p=0.95 ×8 ≤64 tok"


def test_every_protocol_gets_its_table_and_lm_eval_tasks_are_other(tmp_path):
    results_file(
        tmp_path / "results_1.json",
        {
            "spark_hendrycks_math": em(0.5),
            "spark_qwen_math": em(0.7),
            "spark_lmeval_math_4shot": em(0.3),
            "spark_lmeval_gsm8k_cot": em(0.4),
            "gsm8k_cot": {"exact_match,strict-match": 0.45},
        },
        pretrained="m",
    )
    board = leaderboard([tmp_path], reported=REPORTED)
    assert board.protocols == ["spark", "sparkle", "qwen25-math-cot", "lm-eval-fewshot", OTHER]
    by_protocol = {t.protocol: t for t in board.tables}
    assert by_protocol["spark"].columns == ["math exact_match"]
    assert by_protocol["qwen25-math-cot"].columns == ["math exact_match", "aime24 exact_match"]
    assert by_protocol["lm-eval-fewshot"].columns == ["gsm8k exact_match", "math exact_match"]
    assert by_protocol[OTHER].columns == ["gsm8k_cot exact_match,strict-match"]
    text = render(board, "md")
    qwen = section(text, "qwen25-math-cot")
    assert md_row(qwen, "m")[2:4] == ["70.0 ± 1.0", "—"]
    assert md_row(qwen, "Qwen2.5-Math-7B-Instruct [reported]")[2] == "83.6"
    assert table_models(section(text, "spark")) == ["m"]  # 83.6 is not beside spark's 50.0
    assert "`avg`: none, as no column is shared by every row here" in qwen
    assert md_row(qwen, "m")[4] == "—"  # no average beside reported rows over other tasks
    other = section(text, OTHER)
    assert other.startswith("### Protocol `other`: tasks of no spark-math preset")
    assert "no shared protocol" in other and md_row(other, "m")[2] == "45.0"


def test_averages_cover_only_the_columns_every_row_has(tmp_path):
    five = {
        "spark_gsm8k": em(0.8), "spark_math500": em(0.6), "spark_aime24": avg8(0.2),
        "spark_amc23": avg8(0.4), "spark_olympiadbench": em(0.3),
    }  # fmt: skip
    results_file(tmp_path / "results_full.json", five, pretrained="full")
    two = {"spark_gsm8k": em(0.7), "spark_math500": em(0.5)}
    results_file(tmp_path / "results_partial.json", two, pretrained="partial")
    probes = {"spark_gsm8k_plan": em(0.9)}  # no plain score: no part in the rule
    results_file(tmp_path / "results_probes.json", probes, pretrained="probes-only")
    board = leaderboard([tmp_path], baseline="partial")
    (table,) = board.tables
    assert table.avg_columns == ["gsm8k exact_match", "math500 exact_match"]
    assert len(table.columns) == 5
    rows = board.rows.set_index("name")
    assert rows.loc["full", "avg"] == pytest.approx(70.0)  # (80 + 60) / 2, not the 5-task 46.0
    assert rows.loc["partial", "avg"] == pytest.approx(60.0)
    assert rows.loc["full", "avg_delta"] == pytest.approx(10.0)
    assert (rows.loc["full", "tasks"], rows.loc["partial", "tasks"]) == (5, 2)
    assert pd.isna(rows.loc["probes-only", "avg"]) and rows.loc["probes-only", "tasks"] == 0
    text = render(board, "md")
    assert (
        "`avg`: mean over `gsm8k exact_match`, `math500 exact_match`, the columns every row here "
        "has; a row's other columns are not in it" in text
    )
    assert md_row(text, "full")[-3:-1] == ["70.0 (+10.0)", "5"]
    assert md_row(text, "partial")[-3:-1] == ["60.0", "2"]
    assert md_row(text, "probes-only")[-3:-1] == ["—", "0"]
    data = json.loads(render(board, "json"))
    assert data["protocols"]["spark"]["avg_columns"] == table.avg_columns

    # no column in common: no average at all, rather than a 1-task mean beside another one's
    (tmp_path / "results_full.json").unlink()
    (tmp_path / "results_probes.json").unlink()
    results_file(tmp_path / "results_other.json", {"spark_aime24": avg8(0.5)}, pretrained="o")
    board = leaderboard([tmp_path])
    assert board.tables[0].avg_columns == [] and board.rows["avg"].isna().all()
    text = render(board, "md")
    assert "`avg`: none, as no column is shared by every row here" in text
    assert md_row(text, "o")[-2:] == ["—", "1"]


def test_baseline_compares_within_its_protocol_only(tmp_path):
    for name, score in (("a", 0.4), ("b", 0.6)):
        results_file(
            tmp_path / name / "results_1.json",
            {"spark_gsm8k": em(score), "spark_sparkle_gsm8k": avg8(score + 0.2)},
            pretrained=name,
        )
    both = leaderboard([tmp_path], baseline="a")
    assert [t.baseline for t in both.tables] == ["spark: a", "sparkle: a"]
    assert both.rows.loc["spark: b", "avg_delta"] == pytest.approx(20.0)
    assert both.rows.loc["sparkle: b", "avg_delta"] == pytest.approx(20.0)
    one = leaderboard([tmp_path], baseline="sparkle: a")  # a row id picks one protocol
    assert [t.baseline for t in one.tables] == [None, "sparkle: a"]
    assert one.cells.loc[one.cells["protocol"] == "spark", "delta"].isna().all()
    assert md_row(section(render(one, "md"), "spark"), "a")[1] == "measured"

    reported = tmp_path / "reported.yaml"
    reported.write_text(
        SOURCE + "rows: [{model: a, source: s, metric: avg@8, scores: {gsm8k: 50}}]\n"
    )
    with pytest.raises(LeaderboardError, match=r"matches several rows of one protocol \(sparkle"):
        leaderboard([tmp_path], reported=reported, baseline="a")
    board = leaderboard([tmp_path], reported=reported, baseline="a [reported]")
    assert [t.baseline for t in board.tables] == [None, "sparkle: a [reported]"]
    assert board.rows.loc["sparkle: a", "avg_delta"] == pytest.approx(10.0)


def test_json_csv_and_plot_say_when_rows_differ_in_protocol(tmp_path):
    results_file(
        tmp_path / "results_1.json",
        {"spark_gsm8k": em(0.5), "spark_sparkle_gsm8k": avg8(0.7)},
        pretrained="m",
    )
    board = leaderboard([tmp_path], reported=REPORTED)
    data = json.loads(render(board, "json"))
    assert data["mixed_protocols"] is True
    assert "rows span 3 protocols (spark, sparkle, qwen25-math-cot)" in data["note"]
    assert set(data["protocols"]) == {"spark", "sparkle", "qwen25-math-cot"}
    assert data["protocols"]["sparkle"]["source"] == PROTOCOLS["sparkle"].source
    assert {(r["model"], r["protocol"]) for r in data["rows"]} >= {
        ("m", "spark"), ("m", "sparkle"), ("SparkleRL-7B-Stage1 [reported]", "sparkle")
    }  # fmt: skip
    lines = list(csv.DictReader(io.StringIO(render(board, "csv"))))
    assert {(line["model"], line["protocol"]) for line in lines if line["model"] == "m"} == {
        ("m", "spark"), ("m", "sparkle")
    }  # fmt: skip
    panels = _panels(board)
    protocol_of_row = board.rows["protocol"]
    for title, bars in panels:
        protocol = title[1 : title.index("]")]
        assert {protocol_of_row[row] for row, *_ in bars} <= {protocol}, title
    titles = [title for title, _ in panels]
    assert "[spark] gsm8k exact_match" in titles and "[sparkle] gsm8k avg@8" in titles
    assert "[sparkle] average over 1 shared column" in titles
    assert not any(t.startswith("[qwen25-math-cot] average") for t in titles)  # none shared


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("leaderboard")(leaderboard_cli.leaderboard)

    @app.command("unused")
    def unused() -> None:  # a second command keeps typer from flattening the app
        """Not used."""

    return app


def test_cli_writes_per_protocol_tables_and_a_plot(tmp_path, monkeypatch):
    """`--reported` reads the packaged published scores from any working directory."""
    monkeypatch.chdir(tmp_path)
    results_file(
        tmp_path / "r" / "results_1.json",
        {"spark_gsm8k": em(0.5), "spark_sparkle_gsm8k": avg8(0.7)},
        pretrained="m",
    )
    md, png = tmp_path / "board.md", tmp_path / "board.png"
    args = ["leaderboard", "r", "--reported", "--out", str(md), "--plot", str(png)]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    assert "(7 rows, 8 task columns, 3 protocols)" in result.output
    text = md.read_text()
    assert [line for line in text.splitlines() if line.startswith("### Protocol")] == [
        "### Protocol `spark`: spark-math defaults",
        f"### Protocol `sparkle`: {PROTOCOLS['sparkle'].source}",
        f"### Protocol `qwen25-math-cot`: {PROTOCOLS['qwen25-math-cot'].source}",
    ]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_reports_a_bad_file_by_name(tmp_path):
    bad = tmp_path / "results_x.json"
    bad.write_text("[1, 2]")
    result = CliRunner().invoke(_cli(), ["leaderboard", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: not an lm-eval results file" in result.output


def _regression_module():
    spec = importlib.util.spec_from_file_location(
        "run_regression", ROOT / "tests" / "regression" / "run_regression.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.needs_data
def test_leaderboard_of_tiny_model_and_replayed_runs_writes_markdown_and_png(
    tmp_path, tiny_model_dir
):
    """Real lm-eval results: the tiny model generating, and two recorded runs replayed."""
    import lm_eval
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager
    from matplotlib.image import imread

    regression = _regression_module()
    for run in regression.RUNS:
        regression.replay(run, output=tmp_path / "results" / run)
    tracker = EvaluationTracker(output_path=str(tmp_path / "results" / "tiny-model"))
    out = lm_eval.simple_evaluate(
        model="hf",
        model_args={"pretrained": str(tiny_model_dir), "dtype": "float32"},
        tasks=["spark_gsm8k", "spark_aime24"],
        device="cpu",
        limit=2,
        gen_kwargs={"max_gen_toks": 8},
        task_manager=TaskManager(include_defaults=False, metadata={"spark_run_name": "tiny"}),
        evaluation_tracker=tracker,
    )
    tracker.save_results_aggregated(results=out, samples=None)

    md, png = tmp_path / "LEADERBOARD.md", tmp_path / "leaderboard.png"
    args = ["leaderboard", str(tmp_path / "results"), "--reported-file", str(REPORTED)]
    args += ["--baseline", "tiny", "--out", str(md), "--plot", str(png)]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    text = md.read_text()
    assert md_row(text, "tiny")[1] == "measured (baseline)"
    assert md_row(text, "tiny (replayed)")[1] == "measured"
    # oracle gold on gsm8k, against the tiny model's 0
    assert md_row(text, "oracle (replayed)")[2] == "100.0 ± 0.0 (+100.0)"
    assert md_row(text, "SparkleRL-7B-Stage1 [reported]")[1].startswith("reported [")
    image = imread(png)
    assert image.shape[0] > 600 and image.shape[1] > 1200  # panels for avg and 10+ columns
    assert image[..., :3].std() > 0.05  # something was drawn


def test_a_corrupt_results_file_is_skipped_and_named(tmp_path: Path) -> None:
    """One unreadable results file in a folder does not hide the others' scores."""
    from spark_math.leaderboard import leaderboard

    (tmp_path / "results_broken.json").write_text('{"results": {')
    results_file(tmp_path / "good" / "results_1.json", {"spark_gsm8k": {"exact_match,grader": 0.5}})
    board = leaderboard([tmp_path])
    assert [s.split(":")[0] for s in board.skipped] == [str(tmp_path / "results_broken.json")]
    assert len(board.rows) == 1
