"""The benchmark registry: hub source, normaliser, row count and pinned sha256 of every split.

The sha256 values are those of the reference offline copies (`../shared/datasets/SHA256SUMS`);
`lineq` is generated in memory and has neither a file nor a hub source. The sets from
Qwen2.5-Math's evaluation data (gaokao2023en ... gaokao_math_qa) have a hub source only where
Qwen's own loader names one (asdiv, svamp, mmlu_stem); the others (`normalise` None, no `hub`)
load from an offline folder only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from spark_math.errors import SparkMathError

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


class DataError(SparkMathError):
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
        # Qwen2.5-Math's evaluation sets (QwenLM/Qwen2.5-Math evaluation/data at a45202bd), as
        # normalised in ../shared/datasets (its README gives each file's gold derivation).
        Benchmark(
            "gaokao2023en",
            {
                "test": Split(
                    383, "673bc1a4ae470fe5d83ade76f27c9eb7822f7f1d5d9bc9e7775dc07c6e148e41"
                )
            },
            None,
            "GaoKao2023-Math-En (MARIO): 2023 Gaokao and contest problems in English.",
        ),
        Benchmark(
            "college_math",
            {
                "test": Split(
                    2818, "57a69d8cb480f07e96cb68722e3f1ad4cb638b54f5a696ca93e223df1e125cc3"
                )
            },
            None,
            "CollegeMath (MathScale): exercises from open college textbooks.",
        ),
        Benchmark(
            "asdiv",
            {
                "test": Split(
                    2215,
                    "f8516e9a82d34a4cfed94be78cc4ed5803565f8e686ee5a800e74c78f361849d",
                    _hub("EleutherAI/asdiv", "validation"),
                )
            },
            normalize.asdiv,
            "ASDiv grade-school word problems less the multi-answer ones.",
        ),
        Benchmark(
            "svamp",
            {
                "test": Split(
                    1000,
                    "5ab031973bd4fedfb929ca7f4ca0e01736d71f7ba1a8c5755cefdc05ca39ffad",
                    (HubSource("ChilleD/SVAMP", "train"), HubSource("ChilleD/SVAMP", "test")),
                )
            },
            normalize.svamp,
            "SVAMP, all 1000 problems (train and test).",
        ),
        Benchmark(
            "mawps",
            {
                "test": Split(
                    2065, "829dbf76637658a5b62860a178affc7f4e9f4f630a98a77547fb3bde04f50163"
                )
            },
            None,
            "MAWPS: SingleEq, SingleOp, AddSub and MultiArith.",
        ),
        Benchmark(
            "carp_en",
            {
                "test": Split(
                    976, "fa1ecb3d256c7b34c66a375d5c9fe356ec48f6ec86a6fe396cb2169d662987f8"
                )
            },
            None,
            "CARP (English): algebra, tokenised LaTeX golds; rows 613-975 have shifted golds.",
        ),
        Benchmark(
            "sat_math",
            {"test": Split(32, "e1337f52c343652250c4f15d5e3e6bed989066539ea7f0b9a09979131d6f90e7")},
            None,
            "32 four-option SAT math questions (gold: a letter).",
        ),
        Benchmark(
            "aqua",
            {
                "test": Split(
                    254, "b269f978c95247562fb598e9099413b43fa84b77a3385fa1481cbd283774eb61"
                )
            },
            None,
            "AQuA-RAT test, five options (gold: a letter).",
        ),
        Benchmark(
            "mmlu_stem",
            {
                "test": Split(
                    3018,
                    "ca1e00fd7024eb2286bedba538eb4d1b2bbe131574fcaa3b3e7a9af887b7c4c0",
                    _hub("hails/mmlu_no_train", "test", "all"),
                )
            },
            normalize.mmlu_stem,
            "MMLU test, 18 STEM subjects, four options (gold: a letter).",
        ),
        Benchmark(
            "cmath",
            {
                "test": Split(
                    600, "ef569b8c71dbda82e6811d4ff31b532de88fad8aeeca1b432f5847627f492867"
                )
            },
            None,
            "CMATH: Chinese elementary-school word problems, 100 per grade.",
        ),
        Benchmark(
            "cn_middle_school",
            {
                "test": Split(
                    101, "b5be496b7939cc4790d4fde38a2920a7bc2a6f08302bd7b51cc669d0872fe497"
                )
            },
            None,
            "Chinese middle-school exam questions (gold: a letter or a value).",
        ),
        Benchmark(
            "gaokao2024_I",
            {"test": Split(14, "c772e6744c9b54d1685fb9ac3afdc75fbbcbaeba2dfeef13f6a7d08141169789")},
            None,
            "2024 Gaokao, new-curriculum paper I, objective questions (letters, `ACD`, values).",
        ),
        Benchmark(
            "gaokao2024_II",
            {"test": Split(14, "c561d338189400aef4245063c1b53887d35f88601e3b19f8a61fcb6dfd884260")},
            None,
            "2024 Gaokao, new-curriculum paper II, objective questions (`24;112`: two blanks).",
        ),
        Benchmark(
            "gaokao2024_mix",
            {"test": Split(91, "61b8c73f66d6e822fa5fb028662f1b26d711be14b37c813f643bb1fadf4136d3")},
            None,
            "2024 Gaokao questions from several papers (gold: a letter or a value).",
        ),
        Benchmark(
            "gaokao_math_cloze",
            {
                "test": Split(
                    118, "e4bbcd4f78e13745f8ff48c772f4c7c52c2a79f5c1652916ed69e828f54aa909"
                )
            },
            None,
            "AGIEval Gaokao-Math-Cloze (`;` separates blanks).",
        ),
        Benchmark(
            "gaokao_math_qa",
            {
                "test": Split(
                    351, "5a697ea946b458abdedf8c0413a4ca902cbb1bf4f5a235d12c781ab51cdfc700"
                )
            },
            None,
            "AGIEval Gaokao-MathQA, four options (gold: one or several letters).",
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
