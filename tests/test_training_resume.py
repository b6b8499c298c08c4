"""A rerun says what it does: it resumes an unfinished run, and leaves a finished one (its
training, export and evaluation) alone unless forced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("trl")

from typer.testing import CliRunner

from spark_math.cli.train import app
from spark_math.recipes import RECIPES_DIR as RECIPES
from spark_math.training.export import read_training_record
from spark_math.training.plot import read_log
from spark_math.training.recipes import load_recipe
from spark_math.training.train import finished_run, train


def sft_recipe(model: Path, out: Path, *overrides: str):
    return load_recipe(
        RECIPES / "tiny-cpu-sft.yaml", "sft", [f"model={model}", f"output_dir={out}", *overrides]
    )


def test_a_finished_run_is_not_trained_again_and_a_longer_one_resumes(tiny_model_dir, tmp_path):
    said: list[str] = []
    recipe = sft_recipe(tiny_model_dir, tmp_path, "max_steps=2", "save_steps=2")
    final = train(recipe, echo=said.append)
    assert said[0].endswith("training from step 0") and "finished at step 2" in said[-1]
    weights = (final / "model.safetensors").stat().st_mtime_ns
    log = (tmp_path / "log.jsonl").read_text()

    said.clear()
    assert train(recipe, echo=said.append) == final
    assert said == [f"{tmp_path}: already finished at step 2 ({final}); --force trains again"]
    assert (final / "model.safetensors").stat().st_mtime_ns == weights
    assert (tmp_path / "log.jsonl").read_text() == log  # not stepped, not logged

    said.clear()
    longer = sft_recipe(tiny_model_dir, tmp_path, "max_steps=3", "save_steps=2")
    assert finished_run(longer) is None
    train(longer, echo=said.append)
    assert said[0] == f"{tmp_path}: resuming from step 2 ({tmp_path / 'checkpoint-2'})"
    assert read_training_record(final)["global_step"] == 3
    assert [r["step"] for r in read_log(tmp_path)] == [1, 2, 3]

    said.clear()
    train(longer, force=True, echo=said.append)
    assert "deleted the previous checkpoints" in said[0] and said[1].endswith("from step 0")
    assert [r["step"] for r in read_log(tmp_path)] == [1, 2, 3]


def test_a_rerun_command_neither_retrains_nor_reexports_nor_reevaluates(tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    command = [
        "sft",
        "--config",
        str(RECIPES / "tiny-cpu-sft.yaml"),
        f"model={tiny_model_dir}",
        f"output_dir={run}",
        "max_steps=1",
    ]
    first = CliRunner().invoke(app, command)
    assert first.exit_code == 0, first.output
    assert "training from step 0" in first.output and "spark_lineq: " in first.output
    results = sorted(run.rglob("results_*.json"))
    exported = (run / "export" / "model.safetensors").stat().st_mtime_ns
    assert len(results) == 1

    again = CliRunner().invoke(app, command)
    assert again.exit_code == 0, again.output
    assert "already finished at step 1" in again.output
    assert "already exported" in again.output and "already evaluated" in again.output
    assert sorted(run.rglob("results_*.json")) == results
    assert (run / "export" / "model.safetensors").stat().st_mtime_ns == exported

    forced = CliRunner().invoke(app, [*command, "--force"])
    assert forced.exit_code == 0, forced.output
    assert "training from step 0" in forced.output and "spark_lineq: " in forced.output
    assert len(list(run.rglob("results_*.json"))) == 1  # the old model's results are gone
    assert (
        json.loads((run / "export" / "spark_math_training.json").read_text())["format"] == "boxed"
    )
