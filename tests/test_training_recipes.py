"""Recipe loading, overrides and the training datasets (no model needed)."""

from __future__ import annotations

import pytest

from spark_math.recipes import RECIPES_DIR as RECIPES
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
        ("model: m\ndata: {source: gsm8k}\ncolour: red\n", "sft", "unknown key 'colour'; known: "),
        ("data: {source: gsm8k}\n", "sft", "needs `model`"),
        ("model: m\ndata: {source: wiki}\n", "sft", "data.source"),
        ("model: m\ndata: {source: gsm8k}\n", "grpo", "at least one reward"),
        ("model: m\ndata: {source: gsm8k}\nrewards: [{name: vibes}]\n", "grpo", "unknown reward"),
        ("model: m\ndata: {source: gsm8k}\nrewards: [{name: correctness}]\n", "sft", "for GRPO"),
        ("model: m\ndata: {source: gsm8k}\nqlora: true\n", "sft", "add a `lora`"),
        ("model: m\ndata: {source: gsm8k}\nlora: {rank: 4}\n", "sft", "unknown key 'lora.rank'"),
        ("model: m\ndata: {source: gsm8k}\nformat: json\n", "sft", "format"),
        ("trainer: dpo\nmodel: m\ndata: {source: gsm8k}\n", "sft", "train dpo"),
        ("model: m\ndata: {source: gsm8k, hint_levels: [1.0]}\n", "sft", "hint_levels"),
        ("model: m\ndata: {source: gsm8k, hard: {samples: 2}}\n", "sft", "for GRPO"),
        ("model: m\ndata: {source: gsm8k, pairs: {samples: 2}}\n", "sft", "for DPO"),
        # TRL config fields, checked when the recipe loads (before any model is)
        (
            "model: m\ndata: {source: gsm8k}\nargs: {warmup_ratio: 0.03}\n",
            "sft",
            r"unknown key 'args\.warmup_ratio': not a SFTConfig field; transformers 5 folded it "
            r"into warmup_steps",
        ),
        ("model: m\ndata: {source: gsm8k}\nargs: {learnin_rate: 1}\n", "sft", "args.learnin_rate"),
        ("model: m\ndata: {source: gsm8k}\nargs: {max_steps: ten}\n", "sft", "args.max_steps"),
        ("model: m\ndata: {source: gsm8k}\nargs: {bf16: maybe}\n", "dpo", "DPOConfig.bf16"),
        (
            "model: m\ndata: {source: gsm8k, limit: all}\n",
            "sft",
            r"data\.limit: expected an integer or null, got 'all'",
        ),
        (
            "model: m\ndata: {source: gsm8k}\nlora: {r: big}\n",
            "sft",
            r"lora\.r: expected an integer, got 'big'",
        ),
        (
            "model: m\ndata: {source: gsm8k}\nrewards: [{name: format, style: x}]\n",
            "grpo",
            r"unknown key 'rewards\.0\.style': not a parameter of the format reward",
        ),
        (
            "model: m\ndata: {source: gsm8k}\nrewards: [{name: length, target: x}]\n",
            "grpo",
            r"rewards\.0\.target: expected an integer, got 'x'",
        ),
        (
            "model: m\ndata: {source: gsm8k}\nformat: xml\neval: {tasks: [spark_qwen_gsm8k]}\n",
            "sft",
            "eval.tasks: spark_qwen_gsm8k: no task asks for the xml answer format",
        ),
        ("model: m\ndata: {source: gsm8k\n", "sft", "while parsing"),
    ],
)
def test_invalid_recipes_say_why_in_one_line_naming_the_file(tmp_path, text, trainer, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError, match=message) as raised:
        load_recipe(path, trainer)
    assert str(raised.value).startswith(f"{path}: ") and "\n" not in str(raised.value)


def test_shipped_recipes_start_on_transformers_5():
    """The recipes that used `warmup_ratio` (gone in transformers 5) warm up by `warmup_steps`:
    a float below 1 is the same ratio of the total steps."""
    pytest.importorskip("trl")
    from spark_math.training.train import trl_config

    recipe = load_recipe(
        RECIPES / "spark-qwen2.5-math-1.5b-xml-grpo.yaml", "grpo", ["bf16=false", "qlora=false"]
    )
    config = trl_config(recipe)
    assert config.warmup_steps == 0.1 and config.get_warmup_steps(1000) == 100


def test_spark_recipes_follow_the_seed():
    """SPARK trains both models 4-bit with LoRA (QLoRA), with a length reward, then DPO."""
    for name in ("spark-qwen2.5-math-1.5b-xml-grpo", "spark-phi3-mini-xml-grpo"):
        recipe = load_recipe(RECIPES / f"{name}.yaml", "grpo")
        assert recipe.qlora and recipe.lora is not None and recipe.lora.targets == "all-linear"
        assert "length" in [r.name for r in recipe.rewards] and recipe.format == "xml"
        assert recipe.data.source == "gsm8k"
    dpo = load_recipe(RECIPES / "spark-qwen2.5-math-1.5b-xml-dpo.yaml", "dpo")
    assert dpo.model == "runs/spark-qwen2.5-math-1.5b-xml-grpo/export"  # the GRPO model
    assert dpo.data.pairs is not None and dpo.data.pairs.samples > 1
    assert dpo.qlora and dpo.lora is not None and dpo.format == "xml"


def test_grpo_vs_sft_study_follows_the_seed():
    """LoRA SFT, and GSM8K out of domain next to lineq, in the recipe's (boxed) format."""
    from spark_math.harness_tasks.formats import tasks_for_format

    for trainer in ("sft", "grpo"):
        recipe = load_recipe(RECIPES / f"lineq-qwen2.5-1.5b-instruct-{trainer}.yaml", trainer)
        assert tasks_for_format(recipe.eval.tasks, recipe.format) == ["spark_lineq", "spark_gsm8k"]
    sft = load_recipe(RECIPES / "lineq-qwen2.5-1.5b-instruct-sft.yaml", "sft")
    assert sft.lora is not None and not sft.qlora


def test_gsm8k_pipeline_follows_the_seed():
    """1,024 then 256 examples, and every stage in the special-tokens format."""
    from spark_math.harness_tasks.formats import tasks_for_format

    stages = [
        ("gsm8k-pipeline-1-sft-1024", "sft", 1024),
        ("gsm8k-pipeline-2-sft-256", "sft", 256),
        ("gsm8k-pipeline-3-grpo", "grpo", None),
    ]
    for name, trainer, limit in stages:
        recipe = load_recipe(RECIPES / f"{name}.yaml", trainer)
        assert recipe.data.limit == limit and recipe.format == "special-tokens"
        assert tasks_for_format(recipe.eval.tasks, recipe.format) == ["spark_special_tokens_gsm8k"]
        assert recipe.args.get("max_length", 1024) >= 1024  # a length, not the example count


def test_dtype_is_checked_and_reaches_the_model_loader(monkeypatch):
    pytest.importorskip("trl")
    from spark_math.training import export, train

    with pytest.raises(RecipeError, match=r"tiny-cpu-sft\.yaml: dtype 'bf15'"):
        load_recipe(RECIPES / "tiny-cpu-sft.yaml", "sft", ["model=m", "dtype=bf15"])
    recipe = load_recipe(RECIPES / "tiny-cpu-sft.yaml", "sft", ["model=m"])
    assert recipe.dtype == "auto"
    assert train.trl_config(recipe).model_init_kwargs == {"dtype": "float32"}  # no GPU here
    monkeypatch.setattr(export, "has_gpu", lambda: True)
    monkeypatch.setattr("torch.cuda.is_bf16_supported", lambda *a, **k: True)
    assert export.resolve_dtype("auto") == "bfloat16"
    assert export.resolve_dtype("float16") == "float16"
    forced = load_recipe(RECIPES / "tiny-cpu-sft.yaml", "sft", ["model=m", "dtype=float16"])
    assert train.quantization_config(forced) is None
    mine = load_recipe(
        RECIPES / "tiny-cpu-sft.yaml", "sft", ["model=m", "model_init_kwargs={dtype: float16}"]
    )
    assert mine.args["model_init_kwargs"] == {"dtype": "float16"}


def test_qlora_on_a_cpu_fails_in_one_line_before_any_model():
    pytest.importorskip("trl")
    from spark_math.training import export
    from spark_math.training.train import trl_config

    if export.has_gpu():
        pytest.skip("a GPU can load 4-bit weights")
    recipe = load_recipe(RECIPES / "spark-phi3-mini-xml-grpo.yaml", "grpo")
    with pytest.raises(ValueError, match=r"xml-grpo\.yaml: qlora: true .*qlora=false"):
        trl_config(recipe)


def test_a_bad_trl_value_fails_in_one_line_naming_the_file(tmp_path):
    pytest.importorskip("trl")
    from spark_math.training.train import trl_config

    recipe = load_recipe(RECIPES / "tiny-cpu-sft.yaml", "sft", ["model=m", "warmup_steps=-1"])
    with pytest.raises(ValueError, match=r"tiny-cpu-sft\.yaml: args: SFTConfig: .*warmup_steps"):
        trl_config(recipe)


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
    assert set(grpo[0]) == {"prompt", "answer", "task", "answer_format", "reference_steps"}
    assert grpo[0]["answer_format"] == "r1" and grpo[0]["answer"] == rows[0]["answer"]
    assert all(isinstance(r["reference_steps"], int) for r in grpo)
    worked = {"problem": "p", "answer": "14", "task": "math", "solution": "2*3=6\n6+1=7\n7*2=14"}
    hinted = hinted_rows([worked], FORMATS["r1"], None, (0.5,))
    assert [r["reference_steps"] for r in grpo_rows(hinted, FORMATS["r1"], None)] == [3, 1]


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


def test_the_command_refuses_a_bad_recipe_before_loading_a_model():
    pytest.importorskip("trl")
    from typer.testing import CliRunner

    from spark_math.cli.train import app

    config = str(RECIPES / "tiny-cpu-sft.yaml")
    for override, says in [("warmup_ratio=0.1", "args.warmup_ratio"), ("warmup_steps=-1", "-1")]:
        result = CliRunner().invoke(app, ["sft", "--config", config, "model=m", override])
        assert result.exit_code == 2 and says in result.output, result.output
        assert "tiny-cpu-sft.yaml" in result.output
