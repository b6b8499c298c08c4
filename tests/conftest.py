"""Test-wide settings: never touch the Hugging Face hub; `@pytest.mark.needs_data` skips a test
when SPARK_MATH_DATA_DIR (the offline dataset copies) is not set."""

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_data: needs SPARK_MATH_DATA_DIR; skipped without it")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("SPARK_MATH_DATA_DIR"):
        return
    skip = pytest.mark.skip(reason="set SPARK_MATH_DATA_DIR=../shared/datasets")
    for item in items:
        if item.get_closest_marker("needs_data"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random qwen2 model with a ChatML tokenizer, built once per session (offline)."""
    pytest.importorskip("transformers")
    from spark_math.models.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-random-qwen2"))


def load_benchmark(name: str) -> ModuleType:
    """A script of benchmarks/ imported as a module (`load_benchmark("fidelity")`)."""
    path = Path(__file__).parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_bench", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module
