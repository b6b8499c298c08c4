"""The `spark-math` error policy: a mistake the user made is one or two lines on stderr naming
what is wrong and how to fix it (exit 2), a bug is one line and the `--debug` hint (exit 1), and
`--debug` or `SPARK_MATH_DEBUG=1` shows the traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from spark_math.cli import app
from spark_math.errors import error_message, report
from spark_math.recipes import RECIPES_DIR

pytest.importorskip("trl")

TINY_SFT = RECIPES_DIR / "tiny-cpu-sft.yaml"
BASE = "model: m\ndata: {source: gsm8k}\n"


def train_sft(tmp_path: Path, recipe: str | None, *args: str, debug: bool = False, env=None):
    """`spark-math [--debug] train sft --config <recipe file> ARGS` (the shipped tiny recipe
    when `recipe` is None)."""
    path = TINY_SFT
    if recipe is not None:
        path = tmp_path / "recipes" / "x.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(recipe)
    command = [*(["--debug"] if debug else []), "train", "sft", "--config", str(path), *args]
    return CliRunner().invoke(app, command, env=env), path


def assert_short_error(result, *expected: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert 1 <= len(lines) <= 2 and "Traceback" not in result.output, result.stderr
    assert lines[0].startswith("spark-math: error: "), result.stderr
    for text in expected:
        assert text in lines[0], result.stderr


@pytest.mark.parametrize(
    ("recipe", "expected"),
    [
        (
            BASE + "args: {learnin_rate: 1.0e-5}\n",
            ["x.yaml: unknown key 'args.learnin_rate'", "(did you mean 'args.learning_rate'?)"],
        ),
        (
            BASE + "learnin_rate: 1.0e-5\n",
            ["x.yaml: unknown key 'learnin_rate' (did you mean 'args.learning_rate'?)"],
        ),
        (
            BASE + "lora: {alpah: 8}\n",
            ["x.yaml: unknown key 'lora.alpah' (did you mean 'lora.alpha'?)"],
        ),
        (
            BASE + "args: {learning_rate: fast}\n",
            ["x.yaml: args.learning_rate: expected a number", "got 'fast'"],
        ),
        (
            BASE + "args: {num_train_epochs: [1]}\n",
            ["x.yaml: args.num_train_epochs: expected a number", "got [1]"],
        ),
        (BASE + 'lora: {r: "eight"}\n', ["x.yaml: lora.r: expected an integer, got 'eight'"]),
        (BASE + "args: [1]\n", ["x.yaml: args: expected a mapping or null, got [1]"]),
        (BASE + "data: {source: gsm8k\n", ["x.yaml: while parsing"]),
    ],
    ids=["args-key", "top-key", "lora-key", "float", "list", "int", "args-list", "yaml"],
)
def test_a_bad_recipe_is_one_line_naming_file_key_and_fix(tmp_path, recipe, expected):
    result, path = train_sft(tmp_path, recipe)
    assert_short_error(result, *expected)
    assert str(path) in result.stderr


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("lora.r=eight", "tiny-cpu-sft.yaml: lora.r: expected an integer, got 'eight'"),
        ("learnin_rate=1e-5", "unknown key 'args.learnin_rate'"),
        ("num_train_epochs=[1]", "args.num_train_epochs: expected a number"),
        ("model.x=1", "override 'model.x=1': the recipe has no model.x"),
        ("model=/no/such/model", "model: /no/such/model is not a folder; give a model folder"),
        ("warmup_steps=-1", "tiny-cpu-sft.yaml: args: SFTConfig:"),
    ],
)
def test_a_bad_override_gets_the_same_treatment(tmp_path, override, expected):
    result, _ = train_sft(tmp_path, None, "model=m", override)
    assert_short_error(result, expected)


def test_debug_shows_the_traceback(tmp_path):
    recipe = BASE + "args: {learning_rate: fast}\n"
    for result, _ in (
        train_sft(tmp_path, recipe, debug=True),
        train_sft(tmp_path, recipe, env={"SPARK_MATH_DEBUG": "1"}),
    ):
        assert result.exit_code == 2
        assert "Traceback (most recent call last)" in result.stderr
        assert "RecipeError: " in result.stderr and "args.learning_rate" in result.stderr


def test_a_bug_is_one_line_and_the_debug_hint(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr("spark_math.training.recipes.load_recipe", broken)
    result, _ = train_sft(tmp_path, None)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        "spark-math: unexpected error (a bug): KeyError: 'oops'",
        "rerun with --debug for the traceback",
    ]
    result, _ = train_sft(tmp_path, None, debug=True)
    assert result.exit_code == 1 and "Traceback" in result.stderr


def test_usage_errors_keep_typers_format():
    result = CliRunner().invoke(app, ["train", "sft", "--lr", "1"])
    assert result.exit_code == 2 and "No such option: --lr" in result.output
    assert "spark-math: error" not in result.output


def test_a_missing_recipe_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["train", "sft", "--config", str(tmp_path / "none.yaml")])
    assert_short_error(result, f"{tmp_path / 'none.yaml'}: ")


def test_report_names_a_missing_file_and_keeps_keys_out(capsys, monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", "secret-key-1234")
    assert error_message(FileNotFoundError(2, "No such file or directory", "x.yaml")) == (
        "x.yaml: no such file or directory"
    )
    assert report(ValueError("bad key secret-key-1234"), debug=False) == 2
    assert capsys.readouterr().err.splitlines() == [
        "spark-math: error: bad key [REDACTED]",
        "rerun with --debug for the traceback",
    ]
