"""Test-wide settings: never touch the Hugging Face hub."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random qwen2 model with a ChatML tokenizer, built once per session (offline)."""
    pytest.importorskip("transformers")
    from spark_math.models.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-random-qwen2"))
