"""Test-wide settings, and where benchmark data comes from.

Data: the local mirror `SPARK_MATH_DATA_DIR` (`spark-math data pull --to DIR`), else the Hugging
Face hub when `HF_HUB_OFFLINE=0` is set explicitly; otherwise tests never touch the hub.
`@pytest.mark.needs_data` marks a test that needs benchmark rows from either source,
`@pytest.mark.needs_mirror` one that reads the mirror's files itself. A test without the data it
needs skips, and all such skips share one line of the `-ra` summary (`SKIPPED [N] ...`).
"""

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fake_gemini import FakeGemini

HUB = os.environ.get("HF_HUB_OFFLINE", "1").strip().upper() not in {"1", "ON", "YES", "TRUE"}
if not HUB:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

PULL = "`spark-math data pull --to DIR` on a machine with internet"
NO_DATA = (
    f"no benchmark data: set SPARK_MATH_DATA_DIR to a local mirror ({PULL}), "
    "or run with HF_HUB_OFFLINE=0 to read the hub"
)
NO_MIRROR = f"reads the local data mirror: set SPARK_MATH_DATA_DIR to one ({PULL})"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_data: needs benchmark rows (mirror or hub)")
    config.addinivalue_line("markers", "needs_mirror: reads the SPARK_MATH_DATA_DIR mirror")


def pytest_report_header() -> str:
    mirror = os.environ.get("SPARK_MATH_DATA_DIR")
    source = f"SPARK_MATH_DATA_DIR={mirror}" if mirror else "the hub" if HUB else "none"
    return f"benchmark data: {source}"


def missing_data(item: pytest.Item) -> str | None:
    """Why `item` cannot run with the data at hand, or None when it can."""
    if os.environ.get("SPARK_MATH_DATA_DIR"):
        return None
    if item.get_closest_marker("needs_mirror"):
        return NO_MIRROR if HUB else NO_DATA
    if not item.get_closest_marker("needs_data"):
        return None
    if not HUB:
        return NO_DATA
    return NO_MIRROR if names_hubless_benchmark(item) else None


def names_hubless_benchmark(item: pytest.Item) -> bool:
    """Whether a parameter of `item` names a benchmark split that only the mirror has (the
    Qwen2.5-Math evaluation sets: `test_x[gaokao2023en]`)."""
    from spark_math.data.benchmarks import DataError, lookup

    params = getattr(getattr(item, "callspec", None), "params", {})
    for value in params.values():
        try:
            _, spec = lookup(str(value), str(params.get("split", "test")))
        except DataError:
            continue
        if not spec.hub and spec.generate is None:
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip before any fixture is built; raised here, every such skip has the same location,
    so `-ra` folds them into one line per reason."""
    reason = missing_data(item)
    if reason:
        pytest.skip(reason)


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


@pytest.fixture
def fake() -> Iterator["FakeGemini"]:
    """The fake Gemini server of tests/fake_gemini.py on 127.0.0.1, shut down after the test."""
    from fake_gemini import FakeGemini

    server = FakeGemini().start()
    yield server
    server.shutdown()
    server.server_close()
