"""What an installed (non-editable) package holds and finds: every file of `spark_math/` ships in
the wheel, and the commands' default files (baselines matrix, reported scores, recipes) are read
from the package, not from a checkout."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spark_math.cli.train import app as train_app
from spark_math.recipes import RECIPES_DIR, packaged
from spark_math.training.recipes import RecipeError, load_recipe

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_every_file_of_the_package_and_the_lm_eval_hook(tmp_path):
    builders = pytest.importorskip("hatchling.builders.wheel")
    [wheel] = builders.WheelBuilder(str(ROOT)).build(directory=str(tmp_path))
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "spark_math"
    files = {
        path.relative_to(ROOT).as_posix()
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert files - names == set()
    assert {
        "spark_math_lmeval.pth",
        "spark_math/baselines/matrix.yaml",
        "spark_math/baselines/reported.yaml",
        "spark_math/recipes/accelerate/zero3.yaml",
        "spark_math/harness_tasks/spark_gsm8k.yaml",
    } <= names


def test_a_recipe_is_a_file_or_a_packaged_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    packaged_sft = RECIPES_DIR / "tiny-cpu-sft.yaml"
    for name in ("tiny-cpu-sft", "tiny-cpu-sft.yaml", "spark-qwen2.5-math-1.5b-xml-grpo"):
        trainer = name.removesuffix(".yaml").rsplit("-", 1)[1]
        recipe = load_recipe(name, trainer, ["model=m"])
        assert Path(recipe.source).parent == RECIPES_DIR
    assert load_recipe("tiny-cpu-sft", "sft", ["model=m"]).source == str(packaged_sft)
    Path("tiny-cpu-sft.yaml").write_text(
        packaged_sft.read_text().replace("model: null", "model: x")
    )
    mine = load_recipe("tiny-cpu-sft.yaml", "sft")  # a file of that name comes first
    assert mine.source == "tiny-cpu-sft.yaml" and mine.model == "x"
    assert mine.args["output_dir"] == "runs/tiny-cpu-sft"
    for missing in ("tiny-cpu-sft-typo", "elsewhere/tiny-cpu-sft.yaml", "accelerate/zero3"):
        with pytest.raises(RecipeError, match="no such file, nor a packaged recipe"):
            load_recipe(missing, "sft")


def test_train_recipes_lists_them_and_copies_them_out(tmp_path):
    listing = CliRunner().invoke(train_app, ["recipes"])
    assert listing.exit_code == 0, listing.output
    rows = dict(line.split() for line in listing.output.splitlines())
    assert rows == {name: str(path) for name, path in packaged().items()}
    assert {"sparkle-stage1-grpo", "tiny-cpu-sft", "accelerate/zero3"} <= set(rows)

    copied = CliRunner().invoke(train_app, ["recipes", "--copy", str(tmp_path / "mine")])
    assert copied.exit_code == 0, copied.output
    for name, path in packaged().items():
        assert (tmp_path / "mine" / f"{name}.yaml").read_bytes() == path.read_bytes()
    again = CliRunner().invoke(train_app, ["recipes", "--copy", str(tmp_path / "mine")])
    assert again.exit_code == 2 and "nothing was copied" in again.output
