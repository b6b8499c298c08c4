"""Multi-GPU launches (`accelerate launch`): export, lm-eval and sampling run on the main process
only, the other ranks wait for its hand-off, and the child that runs lm-eval sees one process.

No GPU and no process group: a launch is simulated by the rank variables torchrun sets and a
stand-in for accelerate's `PartialState`.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("accelerate")

from spark_math.recipes import RECIPES_DIR as RECIPES
from spark_math.training import data, export
from spark_math.training.recipes import load_recipe


class FakeState:
    """What the code reads of accelerate's PartialState, for rank `rank` of 2."""

    def __init__(self, rank: int, on_barrier=None) -> None:
        self.num_processes = 2
        self.process_index = self.local_process_index = rank
        self.is_main_process = rank == 0
        self.barriers = 0
        self.on_barrier = on_barrier

    def wait_for_everyone(self) -> None:
        self.barriers += 1
        if self.on_barrier is not None:
            self.on_barrier()


@pytest.fixture
def launch(monkeypatch):
    """`launch(rank)`: this test process is rank `rank` of a 2-process launch."""

    def make(rank: int, on_barrier=None) -> FakeState:
        state = FakeState(rank, on_barrier)
        for key, value in {
            "WORLD_SIZE": "2",
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": "29500",
        }.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr("accelerate.PartialState", lambda *a, **k: state)
        return state

    return make


def test_a_single_process_runs_the_work_itself(tmp_path, monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert export.distributed_state() is None and export.is_main_process()
    assert export.run_on_main(lambda: [1, 2], tmp_path / "handoff.json") == [1, 2]
    assert not (tmp_path / "handoff.json").exists()


def test_the_main_process_works_and_hands_off(tmp_path, launch):
    handoff = tmp_path / "handoff.json"
    handoff.write_text(json.dumps("stale, from the last launch"))
    # the stale file is gone before anyone passes the barrier
    state = launch(0, on_barrier=lambda: assert_missing(handoff))
    assert export.is_main_process()
    assert export.run_on_main(lambda: {"rows": 3}, handoff) == {"rows": 3}
    assert json.loads(handoff.read_text()) == {"rows": 3} and state.barriers == 1


def assert_missing(path: Path) -> None:
    assert not path.exists()


def test_another_process_waits_for_the_hand_off_and_never_works(tmp_path, launch):
    state = launch(1)
    handoff = tmp_path / "handoff.json"

    def main_process() -> None:
        time.sleep(0.2)
        handoff.write_text(json.dumps([{"problem": "p"}]))

    def work():
        raise AssertionError("rank 1 must not run the main process's work")

    writer = threading.Thread(target=main_process)
    writer.start()
    assert not export.is_main_process()
    assert export.run_on_main(work, handoff, poll_s=0.01) == [{"problem": "p"}]
    writer.join()
    assert state.barriers == 1


def test_dpo_pairs_are_sampled_on_the_main_process_only(tmp_path, launch, monkeypatch):
    recipe = load_recipe(
        RECIPES / "tiny-cpu-dpo.yaml", "dpo", ["model=m", f"output_dir={tmp_path}", "data.limit=2"]
    )
    calls = []

    def sample(model, prompts, gen):
        calls.append(len(prompts))
        return [["\\boxed{nope}", "\\boxed{wrong}"] for _ in prompts]

    monkeypatch.setattr(data, "sample_completions", sample)
    launch(0)
    pairs = data.build_dataset(recipe)
    assert calls == [2] and len(pairs) == 4  # 2 problems x 2 rejected, reference chosen
    assert json.loads((tmp_path / data.PAIRS_FILE).read_text()) == pairs

    launch(1)
    monkeypatch.setattr(data, "sample_completions", lambda *a: pytest.fail("rank 1 sampled"))
    assert data.build_dataset(recipe) == pairs  # read from the main process's hand-off


def test_hard_problems_are_mined_on_the_main_process_only(tmp_path, launch, monkeypatch):
    recipe = load_recipe(
        RECIPES / "tiny-cpu-grpo.yaml",
        "grpo",
        ["model=m", f"output_dir={tmp_path}", "data.hard={samples: 2}"],
    )
    launch(1)
    mined = data.load_problems(recipe.data)[:3]
    (tmp_path / data.HARD_FILE).write_text(json.dumps(mined))
    monkeypatch.setattr(data, "sample_completions", lambda *a: pytest.fail("rank 1 mined"))
    rows = data.build_dataset(recipe)
    assert {r["answer"] for r in rows} == {r["answer"] for r in mined}


def test_training_on_another_rank_deletes_and_writes_nothing(tmp_path, launch, monkeypatch):
    from spark_math.training import train

    (tmp_path / "checkpoint-2").mkdir()
    (tmp_path / "checkpoint-2" / "trainer_state.json").write_text("{}")
    recipe = load_recipe(
        RECIPES / "tiny-cpu-sft.yaml", "sft", ["model=m", f"output_dir={tmp_path}"]
    )
    state = launch(1)

    class Built(Exception):
        pass

    def build(recipe):
        raise Built

    monkeypatch.setattr(train, "build_trainer", build)
    said = []
    with pytest.raises(Built):
        train.train(recipe, force=True, echo=said.append)
    assert (tmp_path / "checkpoint-2").is_dir() and not (tmp_path / "recipe.json").exists()
    assert said == [] and state.barriers == 1  # rank 0 prints; all wait while it deletes


def test_the_single_process_environment_hides_the_launch(launch):
    import os

    launch(1)
    env = export.single_process_environ()
    assert not {"RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"} & set(env)
    with export.single_process_env():
        assert "WORLD_SIZE" not in os.environ and "RANK" not in os.environ
    assert os.environ["WORLD_SIZE"] == "2" and os.environ["RANK"] == "1"


def _cli_run(tmp_path, monkeypatch, eval_tasks=None):
    """`spark-math train sft` with training stubbed out; returns the subprocess calls."""
    from spark_math.cli import train as cli
    from spark_math.training import train

    monkeypatch.setattr(train, "train", lambda recipe, **kwargs: recipe.output_dir / "final")
    # TRL's config would start transformers' own process group for the simulated launch
    monkeypatch.setattr(train, "trl_config", lambda recipe: None)
    monkeypatch.setattr(export, "export", lambda *a, **k: pytest.fail("exported in-process"))
    children = []

    def run(command, env, check):
        children.append((command, env))

        class Done:
            returncode = 0

        return Done()

    monkeypatch.setattr("subprocess.run", run)
    config = tmp_path / "recipe.yaml"
    text = (RECIPES / "tiny-cpu-sft.yaml").read_text().replace("model: null", "model: m")
    config.write_text(text.replace("runs/tiny-cpu-sft", str(tmp_path / "run")))
    cli.run_recipe("sft", config, ["lora.r=2"], eval_tasks, no_merge=False, resume=True)
    return children


def test_export_and_lm_eval_run_on_the_main_process_in_a_child(tmp_path, launch, monkeypatch):
    from typer.testing import CliRunner

    from spark_math.cli import train as cli

    launch(0)
    children = _cli_run(tmp_path, monkeypatch)
    [(command, env)] = children
    assert command[1:5] == ["-m", "spark_math.cli.train", "finish", "sft"]
    assert not {"RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR"} & set(env)
    assert env["CUDA_VISIBLE_DEVICES"] == "0"  # the main process's own GPU
    assert (tmp_path / "run" / ".export-eval.done").exists()

    # the child's command line is one the CLI accepts, with the same recipe
    seen = []
    monkeypatch.setattr(cli, "finish_run", lambda recipe, *args: seen.append((recipe, args)))
    result = CliRunner().invoke(cli.app, command[3:])
    assert result.exit_code == 0, result.output
    [(recipe, args)] = seen
    assert recipe.lora.r == 2 and recipe.eval.tasks == ("spark_lineq",)
    assert args == (False, False, False)  # was_finished, no_merge, force


def test_other_ranks_wait_for_the_main_process_export(tmp_path, launch, monkeypatch):
    launch(1)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".export-eval.done").write_text("0")  # the main process is done
    children = _cli_run(tmp_path, monkeypatch)
    assert children == []


def test_without_eval_tasks_no_rank_waits(tmp_path, launch, monkeypatch):
    state = launch(1)
    children = _cli_run(tmp_path, monkeypatch, eval_tasks="")
    assert children == [] and state.barriers == 0  # (train is stubbed) no export barrier
