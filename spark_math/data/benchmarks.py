"""The benchmark registry: hub source, normaliser, row count and pinned sha256 of every split.

The sha256 values are those of the reference offline copies (`../shared/datasets/SHA256SUMS`);
`lineq` is generated in memory and has neither a file nor a hub source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from . import lineq, normalize

Row = dict[str, Any]

MATH_SUBJECTS = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)
LINEQ_SEEDS = {"test": 20_250_001, "train": 20_250_002}


class DataError(Exception):
    """Benchmark data is missing, unreadable or not what the registry expects."""


@dataclass(frozen=True)
class HubSource:
    """A dataset on the Hugging Face hub; several configs are concatenated in order."""

    path: str
    split: str
    configs: tuple[str | None, ...] = (None,)

    def __str__(self) -> str:
        configs = [c for c in self.configs if c]
        shown = configs[0] if len(configs) == 1 else f"{len(configs)} configs"
        return self.path + (f" ({shown})" if configs else "") + f" [{self.split}]"


@dataclass(frozen=True)
class Split:
    """One split: its size, the sha256 of the offline file, and where the hub has it."""

    rows: int
    sha256: str | None = None
    hub: tuple[HubSource, ...] = ()
    generate: Callable[[], list[Row]] | None = None


@dataclass(frozen=True)
class Benchmark:
    """A named benchmark; `normalise(split, *hub_rows)` maps hub rows to our schema."""

    name: str
    splits: dict[str, Split]
    normalise: Callable[..., list[Row]] | None = None
    description: str = ""


def _hub(path: str, split: str, config: str | None = None) -> tuple[HubSource, ...]:
    return (HubSource(path, split, (config,)),)


_MATH500 = HubSource("HuggingFaceH4/MATH-500", "test")

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "gsm8k",
            {
                "train": Split(
                    7473,
                    "add980219a0c4f285868f43ee92eaafa58357fdcecd0c0c0cdb200fb176b7a2e",
                    _hub("openai/gsm8k", "train", "main"),
                ),
                "test": Split(
                    1319,
                    "687c6a5bb324732c18cef40f17883b325d050e4bd2c7762392ad1515038dd68d",
                    _hub("openai/gsm8k", "test", "main"),
                ),
            },
            normalize.gsm8k,
            "Grade-school word problems, integer answers.",
        ),
        Benchmark(
            "math500",
            {
                "test": Split(
                    500,
                    "680cfd5f6d38b444f5ae6662c0da445210a362f6826b5a2d27df98c92ab42b67",
                    (_MATH500,),
                )
            },
            normalize.math500,
            "PRM800K's 500-problem subset of the MATH test set.",
        ),
        Benchmark(
            "math",
            {
                "test": Split(
                    5000,
                    "f04d35f1683c49bc0a5371459689471481900f44e5e0d43d5f4fb8ef56a82979",
                    (HubSource("EleutherAI/hendrycks_math", "test", MATH_SUBJECTS), _MATH500),
                )
            },
            normalize.hendrycks_math,
            "The 5000 MATH test problems; `in_math500` marks the MATH-500 ones.",
        ),
        Benchmark(
            "aime24",
            {
                "test": Split(
                    30,
                    "fc49ba0f7c507b037c96015320c3e0870e5ede25d1990721f3046afdd8455fd3",
                    _hub("HuggingFaceH4/aime_2024", "train"),
                )
            },
            normalize.aime24,
            "AIME 2024 I and II.",
        ),
        Benchmark(
            "aime25",
            {
                "test": Split(
                    30,
                    "df0521e931802f165d60d0da4ecba66a0109bb4026e4bc6deb5e62c139bb4fe7",
                    _hub("yentinglin/aime_2025", "train"),
                )
            },
            normalize.aime25,
            "AIME 2025 I and II.",
        ),
        Benchmark(
            "amc23",
            {
                "test": Split(
                    40,
                    "21945b76181e15472755665297e822db8fcef345d3a8e8e9fb5b711ff3a4408f",
                    _hub("math-ai/amc23", "test"),
                )
            },
            normalize.amc23,
            "AMC 12 2023 (40 problems with integer answers).",
        ),
        Benchmark(
            "olympiadbench",
            {
                "test": Split(
                    675,
                    "e657e377d8de6973139f21caf12d05ef5748b43e176cea73b1811e0ca4f5feea",
                    _hub("Hothan/OlympiadBench", "train", "OE_TO_maths_en_COMP"),
                )
            },
            normalize.olympiadbench,
            "OlympiadBench, open-ended text-only maths in English (OE_TO_maths_en_COMP).",
        ),
        Benchmark(
            "minerva_math",
            {
                "test": Split(
                    272,
                    "d85584b1cc89d980a1ef1f05f3bbc3b56f5587199649b5606d011e16d5d54be7",
                    _hub("math-ai/minervamath", "test"),
                )
            },
            normalize.minerva_math,
            "Minerva's undergraduate science problems from MIT OpenCourseWare.",
        ),
        Benchmark(
            "lineq",
            {
                split: Split(rows, generate=partial(lineq.generate, rows, LINEQ_SEEDS[split]))
                for split, rows in (("test", 500), ("train", 5000))
            },
            description="Synthetic systems of 2-3 linear equations with a unique integer solution.",
        ),
    )
}


def lookup(name: str, split: str) -> tuple[Benchmark, Split]:
    """The registry entry of `name`/`split`; DataError listing the valid ones otherwise."""
    benchmark = BENCHMARKS.get(name)
    if benchmark is None:
        raise DataError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    spec = benchmark.splits.get(split)
    if spec is None:
        raise DataError(f"{name} has no split {split!r}; its splits: {', '.join(benchmark.splits)}")
    return benchmark, spec
