"""Every shipped recipe builds its TRL config and takes one optimisation step on the tiny model.

Only sizes are overridden (model, data size, lengths, batch, steps) and what a CPU cannot do
(vLLM, bf16, and QLoRA's 4-bit weights: bitsandbytes needs CUDA, so without a GPU a `qlora: true`
recipe takes its step with the same LoRA adapter on float32 weights, and says so in the test
output); every other setting is the recipe's own, so a TRL or transformers upgrade that breaks
a recipe fails here under the recipe's name.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from spark_math.recipes import RECIPES_DIR as RECIPES
from spark_math.training.export import has_gpu, read_training_record
from spark_math.training.recipes import load_recipe
from spark_math.training.train import train, trl_config

SHIPPED = sorted(RECIPES.glob("*.yaml"))
OFFLINE_SOURCES = ("lineq", "jsonl")
SIZES = {
    "output_dir", "bf16", "use_vllm", "max_steps", "max_length", "per_device_train_batch_size",
    "gradient_accumulation_steps", "num_generations", "max_completion_length",
}  # fmt: skip


def trainer_of(path: Path) -> str:
    return next(t for t in ("sft", "grpo", "dpo") if t in path.stem.split("-"))


def cpu_overrides(path: Path, model: Path, out: Path) -> list[str]:
    """The size and device overrides of the one-step run; nothing else changes."""
    trainer = trainer_of(path)
    recipe = load_recipe(path, trainer, ["model=m"])
    sizes = [
        f"model={model}",
        f"output_dir={out}",
        "data.limit=2" if recipe.data.hard else "data.limit=4",
        "max_steps=1",
        "per_device_train_batch_size=2",
        "gradient_accumulation_steps=1",
        "bf16=false",
    ]
    if "use_vllm" in recipe.args:
        sizes.append("use_vllm=false")
    if recipe.qlora and not has_gpu():
        sizes.append("qlora=false")  # 4-bit NF4 needs bitsandbytes on CUDA
    if trainer == "grpo":
        sizes += ["num_generations=2", "max_completion_length=8"]
    else:
        sizes.append("max_length=1024")  # bytes: the tiny tokenizer has no merges
    for key in ("hard", "pairs"):
        if getattr(recipe.data, key) is not None:
            sizes += [f"data.{key}.samples=2", f"data.{key}.max_new_tokens=4"]
            sizes.append(f"data.{key}.batch_size=2")
    return sizes


def test_every_recipe_is_covered():
    assert len(SHIPPED) == 14


def shipped_param(path: Path):
    """The recipe as a test case, marked `needs_data` when it trains on a benchmark."""
    source = load_recipe(path, trainer_of(path), ["model=m"]).data.source
    marks = () if source in OFFLINE_SOURCES else pytest.mark.needs_data
    return pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.parametrize("path", [shipped_param(path) for path in SHIPPED])
def test_recipe_takes_one_step_on_the_tiny_model(path, tiny_model_dir, tmp_path):
    trainer = trainer_of(path)
    shipped = load_recipe(path, trainer, ["model=m"])
    recipe = load_recipe(path, trainer, cpu_overrides(path, tiny_model_dir, tmp_path / "run"))
    if shipped.qlora and not recipe.qlora:
        warnings.warn(
            f"{path.name}: qlora: true ships, but 4-bit NF4 needs CUDA; this CPU step trains "
            "the same LoRA adapter on float32 weights",
            stacklevel=1,
        )
    assert recipe.lora == shipped.lora and recipe.dtype == shipped.dtype
    config = trl_config(recipe)
    assert config.max_steps == 1 and not config.bf16
    for key, value in shipped.args.items():  # everything but the sizes is as shipped
        assert key in SIZES or recipe.args[key] == value, key
    final = train(recipe, echo=lambda _: None)
    record = read_training_record(final)
    assert record["global_step"] == 1 and record["format"] == shipped.format
    assert record["recipe"] == str(path)
