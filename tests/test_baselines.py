"""spark_math.baselines: the matrix, the lm_eval command lines, and a resumable tiny-model run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from spark_math.baselines import MATRIX
from spark_math.baselines.matrix import Entry, MatrixError, load_matrix
from spark_math.baselines.runner import command, finished, resolve, run_matrix
from spark_math.cli import baselines as baselines_cli
from spark_math.cli import leaderboard as leaderboard_cli

ISSUE_MODELS = {
    "qwen2.5-math-1.5b",
    "qwen2.5-math-1.5b-4bit",
    "qwen2.5-1.5b-instruct",
    "phi-3-mini-4k-instruct",
    "qwen2.5-7b-instruct",
    "qwen2.5-math-7b",
    "gemini-2.0-flash",
}
CORE_AND_PROBES = ("spark_core", "spark_probes")


def cli() -> typer.Typer:
    """The two commands as `spark_math.cli` registers them."""
    app = typer.Typer()
    app.add_typer(baselines_cli.app, name="baselines")
    app.command("leaderboard")(leaderboard_cli.leaderboard)
    return app


def test_committed_matrix_declares_every_model_on_core_and_probes():
    entries = {e.name: e for e in load_matrix(MATRIX)}
    assert set(entries) == ISSUE_MODELS | {"tiny-demo"}
    for name in ISSUE_MODELS:
        assert entries[name].tasks == CORE_AND_PROBES, name
        assert entries[name].apply_chat_template is True, name
    assert entries["gemini-2.0-flash"].backend == "gemini"
    assert entries["qwen2.5-math-1.5b-4bit"].model_args["quantization"] == "bitsandbytes"
    tiny = entries["tiny-demo"]
    assert tiny.model_args["pretrained"] == "{tiny}" and tiny.device == "cpu" and tiny.limit


@pytest.mark.needs_data
def test_every_task_list_of_the_matrix_loads_in_one_lm_eval_run():
    """Names exist, and no two groups share a task (lm-eval refuses that in one run)."""
    from lm_eval.tasks import TaskManager

    from spark_math.harness_tasks import TASKS_DIR

    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    for tasks in {e.tasks for e in load_matrix(MATRIX)}:
        loaded = set(manager.load(list(tasks))["tasks"])
        assert {"spark_gsm8k", "spark_olympiadbench"} <= loaded, tasks
        if tasks == CORE_AND_PROBES:
            assert {"spark_gsm8k_plan", "spark_aime24_hint75"} <= loaded


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("models: [{name: a, backend: hf, tasks: [t], colour: red}]", r"unknown keys \['colour'\]"),
        ("models: [{name: a, tasks: [t]}]", "'backend' is required"),
        ("models: [{name: a b, backend: hf, tasks: [t]}]", "a folder name"),
        ("models: [{name: a, backend: hf, tasks: t}]", "must be a list"),
        ("models: [{name: a, backend: hf, tasks: [t]}, {name: a, backend: hf, tasks: [t]}]",
         r"duplicate model names \['a'\]"),
        ("models: [{name: a, backend: hf, tasks: [t], model_args: {pretrained: '{big}'}}]",
         "unknown placeholder {big}"),
        ("defaults: {speed: 1}\nmodels: []", r"unknown keys \['speed'\]"),
        ("entries: []", "'models' list"),
    ],
)  # fmt: skip
def test_matrix_errors_name_the_problem(tmp_path, body, message):
    path = tmp_path / "matrix.yaml"
    path.write_text(body)
    with pytest.raises(MatrixError, match=message):
        load_matrix(path)


def test_defaults_fill_entries(tmp_path):
    path = tmp_path / "matrix.yaml"
    path.write_text(
        "defaults: {tasks: [spark_core], seed: 3}\n"
        "models: [{name: a, backend: hf}, {name: b, backend: hf, tasks: [spark_gsm8k], seed: 4}]"
    )
    a, b = load_matrix(path)
    assert (a.tasks, a.seed, b.tasks, b.seed) == (("spark_core",), 3, ("spark_gsm8k",), 4)


def test_command_line_passes_every_setting_to_lm_eval(tmp_path):
    entry = Entry(
        name="m",
        backend="vllm",
        tasks=("spark_core", "spark_probes"),
        model_args={"pretrained": "org/m", "max_model_len": 4096},
        apply_chat_template=True,
        system_instruction="Be brief.",
        gen_kwargs={"max_gen_toks": 64},
        limit=5,
        batch_size="auto",
        seed=1,
    )
    cmd = command(entry, tmp_path)
    assert cmd[:3] == [sys.executable, "-m", "lm_eval"]
    flags = dict(zip(cmd[3::2], cmd[4::2], strict=False))
    assert flags["--model"] == "vllm" and flags["--tasks"] == "spark_core,spark_probes"
    assert flags["--output_path"] == str(tmp_path / "m")
    assert json.loads(cmd[cmd.index("--model_args") + 1]) == entry.model_args
    assert json.loads(cmd[cmd.index("--gen_kwargs") + 1]) == {"max_gen_toks": 64}
    assert json.loads(cmd[cmd.index("--metadata") + 1])["spark_run_name"] == "m"
    assert "--apply_chat_template" in cmd and "--log_samples" in cmd
    for flag, value in (("--system_instruction", "Be brief."), ("--limit", "5"), ("--seed", "1")):
        assert cmd[cmd.index(flag) + 1] == value
    assert "--device" not in cmd


def test_tiny_placeholder_resolves_to_a_model_built_once(tmp_path):
    entry = Entry(name="t", backend="hf", tasks=("x",), model_args={"pretrained": "{tiny}"})
    planned = resolve(entry, tmp_path, build=False)
    assert not Path(planned.model_args["pretrained"]).exists()
    built = Path(resolve(entry, tmp_path).model_args["pretrained"])
    assert (built / "config.json").is_file() and built.parent == tmp_path
    stamp = (built / "config.json").stat().st_mtime_ns
    assert resolve(entry, tmp_path).model_args["pretrained"] == str(built)
    assert (built / "config.json").stat().st_mtime_ns == stamp


def test_finished_needs_every_task_and_group(tmp_path):
    entry = Entry(name="e", backend="hf", tasks=("spark_core", "spark_lineq"))
    out = tmp_path / "e" / "model"
    out.mkdir(parents=True)
    body = {"results": {"spark_gsm8k": {}}, "group_subtasks": {"spark_core": ["spark_gsm8k"]}}
    (out / "results_2026-01-01.json").write_text(json.dumps(body))
    assert finished(entry, tmp_path) is None
    body["results"]["spark_lineq"] = {}
    (out / "results_2026-01-02.json").write_text(json.dumps(body))
    (out / "results_2026-01-03.json").write_text("{broken")
    assert finished(entry, tmp_path) == out / "results_2026-01-02.json"
    outcomes = run_matrix([entry], tmp_path, echo=lambda _: None)
    assert [(o.status, o.detail) for o in outcomes] == [("skipped", str(finished(entry, tmp_path)))]


def test_dry_run_plans_every_entry_and_builds_nothing(tmp_path, monkeypatch):
    """Without `--matrix`, the packaged matrix, from any working directory."""
    monkeypatch.setenv("SPARK_MATH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    args = ["baselines", "run", "--results", str(tmp_path / "out")]
    result = CliRunner().invoke(cli(), [*args, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.count(" planned") == len(ISSUE_MODELS) + 1
    assert "--model vllm" in result.output and "--model gemini" in result.output
    assert "tiny-qwen2-seed0" in result.output and not (tmp_path / "cache").exists()
    unknown = CliRunner().invoke(cli(), [*args, "--only", "nope"])
    assert unknown.exit_code == 2 and "no entries ['nope']" in unknown.output


@pytest.mark.needs_data
def test_tiny_demo_runs_end_to_end_offline_resumes_and_meets_the_reported_rows(
    tmp_path, monkeypatch
):
    """`spark-math baselines run --only tiny-demo`, twice, then the leaderboard with --reported."""
    monkeypatch.setenv("SPARK_MATH_CACHE_DIR", str(tmp_path / "cache"))
    results = tmp_path / "baselines"
    args = ["baselines", "run", "--only", "tiny-demo", "--matrix", str(MATRIX)]
    args += ["--results", str(results)]
    first = CliRunner().invoke(cli(), args)
    assert first.exit_code == 0, first.output
    assert "tiny-demo done" in first.output
    [path] = (results / "tiny-demo").rglob("results_*.json")
    data = json.loads(path.read_text())
    assert set(data["group_subtasks"]["spark_core"]) >= {"spark_gsm8k", "spark_aime24"}
    assert data["configs"]["spark_gsm8k"]["generation_kwargs"]["max_gen_toks"] == 16
    assert data["configs"]["spark_aime24"]["metadata"]["spark_run_name"] == "tiny-demo"
    assert list((results / "tiny-demo").rglob("samples_spark_aime24_*.jsonl"))

    again = CliRunner().invoke(cli(), args)
    assert again.exit_code == 0 and "tiny-demo skipped" in again.output

    board = CliRunner().invoke(cli(), ["leaderboard", str(results), "--reported"])
    assert board.exit_code == 0, board.output
    lines = [line for line in board.output.splitlines() if line.startswith("| ")]
    tiny = next(line for line in lines if line.startswith("| tiny-demo "))
    assert "| measured " in tiny and "0.0 ± 0.0" in tiny
    reported = [line for line in lines if "| reported [" in line]
    assert any("SparkleRL-7B-Stage2-aug [reported]" in line for line in reported)
