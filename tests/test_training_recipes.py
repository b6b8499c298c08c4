"""Recipe loading, overrides and the training datasets (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_math.training.data import (
    build_dataset,
    grpo_rows,
    hinted_rows,
    load_problems,
    reasoning_text,
    sft_rows,
    split_solution,
)
from spark_math.training.formats import FORMATS
from spark_math.training.recipes import DataSpec, RecipeError, load_recipe, parse_value

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def test_every_shipped_recipe_loads():
    for path in sorted(RECIPES.glob("*.yaml")):
        trainer = next(t for t in ("sft", "grpo", "dpo") if t in path.stem.split("-"))
        recipe = load_recipe(path, trainer, ["model=some/model"] if "tiny" in path.stem else [])
        assert recipe.trainer == trainer and recipe.args["output_dir"]


def test_overrides_and_values(tmp_path):
    recipe = load_recipe(
        RECIPES / "tiny-cpu-grpo.yaml",
        "grpo",
        ["model=m", "learning_rate=1e-5", "lora.r=2", "rewards.0.weight=3", "eval.tasks=[a, b]"],
    )
    assert recipe.args["learning_rate"] == 1e-5 and recipe.lora.r == 2
    assert recipe.rewards[0].weight == 3.0 and recipe.eval.tasks == ("a", "b")
    assert [r.label for r in recipe.rewards] == [
        "correctness",
        "format_soft",
        "length_target",
    ]
    assert parse_value("1e-6") == 1e-6 and parse_value("true") is True
    assert parse_value("[1, 2]") == [1, 2] and parse_value("a:b{") == "a:b{"
    path = tmp_path / "mine.yaml"
    path.write_text("model: m\ndata: {source: gsm8k}\nargs: {learning_rate: 2e-5}\n")
    loaded = load_recipe(path, "sft")
    assert loaded.args == {"learning_rate": 2e-5, "output_dir": "runs/mine"}


@pytest.mark.parametrize(
    ("text", "trainer", "message"),
    [
        ("model: m\ndata: {source: gsm8k}\ncolour: red\n", "sft", "unknown recipe keys"),
        ("data: {source: gsm8k}\n", "sft", "needs `model`"),
        ("model: m\ndata: {source: wiki}\n", "sft", "data.source"),
        ("model: m\ndata: {source: gsm8k}\n", "grpo", "at least one reward"),
        ("model: m\ndata: {source: gsm8k}\nrewards: [{name: vibes}]\n", "grpo", "unknown reward"),
        ("model: m\ndata: {source: gsm8k}\nrewards: [{name: correctness}]\n", "sft", "for GRPO"),
        ("model: m\ndata: {source: gsm8k}\nqlora: true\n", "sft", "add a `lora`"),
        ("model: m\ndata: {source: gsm8k}\nlora: {rank: 4}\n", "sft", "lora: unknown keys"),
        ("model: m\ndata: {source: gsm8k}\nformat: json\n", "sft", "format"),
        ("trainer: dpo\nmodel: m\ndata: {source: gsm8k}\n", "sft", "train dpo"),
        ("model: m\ndata: {source: gsm8k, hint_levels: [1.0]}\n", "sft", "hint_levels"),
        ("model: m\ndata: {source: gsm8k, hard: {samples: 2}}\n", "sft", "for GRPO"),
        ("model: m\ndata: {source: gsm8k, pairs: {samples: 2}}\n", "sft", "for DPO"),
    ],
)
def test_invalid_recipes_say_why(tmp_path, text, trainer, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError, match=message):
        load_recipe(path, trainer)


@pytest.mark.needs_data
def test_math_train_never_holds_math500_problems():
    from spark_math.data import load_rows

    rows = load_problems(DataSpec(source="math"))
    math500 = {r["problem"] for r in load_rows("math500", "test")}
    assert len(rows) == 4500 and not any(r["problem"] in math500 for r in rows)
    assert all(r["task"] == "math" for r in rows)
    with pytest.raises(ValueError, match="train"):
        load_problems(DataSpec(source="math", split="test"))


@pytest.mark.needs_data
def test_gsm8k_sft_and_grpo_rows():
    rows = load_problems(DataSpec(source="gsm8k", limit=3, shuffle_seed=1))
    assert len(rows) == 3 and rows[0]["task"] == "gsm8k"
    assert "<<" not in reasoning_text(rows[0]) and "####" not in reasoning_text(rows[0])
    sft = sft_rows(rows, FORMATS["xml"], "Be brief.")
    assert sft[0]["prompt"][0] == {"role": "system", "content": "Be brief."}
    assert sft[0]["completion"][0]["content"].startswith("<reasoning>\n")
    assert FORMATS["xml"].is_strict(sft[0]["completion"][0]["content"])
    grpo = grpo_rows(rows, FORMATS["r1"], None)
    assert set(grpo[0]) == {"prompt", "answer", "task", "answer_format"}
    assert grpo[0]["answer_format"] == "r1" and grpo[0]["answer"] == rows[0]["answer"]


def test_generated_lineq_and_jsonl(tmp_path):
    rows = load_problems(
        DataSpec(source="lineq", lineq={"n": 5, "seed": 3, "n_vars": 2, "coef_range": [-2, 2]})
    )
    assert len(rows) == 5 and all(r["n_vars"] == 2 for r in rows)
    path = tmp_path / "mine.jsonl"
    path.write_text('{"problem": "1+1?", "answer": "2", "solution": "1+1=2"}\n\n')
    assert load_problems(DataSpec(source="jsonl", path=str(path)))[0]["task"] == "math"


def test_hints_cover_part_of_the_solution_and_never_the_answer():
    assert split_solution("a\n\nb\n\nc") == ["a", "b", "c"]
    assert split_solution("a\nb") == ["a", "b"]
    assert split_solution("One. Two! Three?") == ["One.", "Two!", "Three?"]
    row = {
        "problem": "Solve it.",
        "answer": "4",
        "task": "math",
        "solution": "Step one.\nStep two.\nStep three.\nSo the answer is $\\boxed{4}$.",
    }
    out = hinted_rows([row], FORMATS["r1"], None, (0.25, 0.5, 0.75, 0.9))
    assert [r["hint_level"] for r in out] == [0.0, 0.25, 0.5, 0.75]
    hints = [r["prompt"][-1]["content"] for r in out[1:]]
    assert hints[0] == "<think>\nStep one.\n" and hints[-1].count("Step") == 3
    assert not any("boxed" in h for h in hints)
    assert out[0]["prompt"][-1]["role"] == "user"


def test_sft_needs_solutions():
    with pytest.raises(ValueError, match="reference solutions"):
        sft_rows([{"problem": "p", "answer": "1"}], FORMATS["boxed"], None)


def test_dpo_rows_from_a_jsonl_of_pairs(tmp_path):
    path = tmp_path / "pairs.jsonl"
    pair = '{"prompt": [{"role": "user", "content": "q"}], "chosen": [], "rejected": [], "x": 1}'
    path.write_text(pair + "\n")
    recipe = load_recipe(
        None,
        "dpo",
        base={
            "model": "m",
            "data": {"source": "jsonl", "path": str(path)},
            "args": {"output_dir": str(tmp_path)},
        },
    )
    assert build_dataset(recipe) == [
        {"prompt": [{"role": "user", "content": "q"}], "chosen": [], "rejected": []}
    ]
