"""Per-task answer conventions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """How one family of benchmarks writes and expects answers.

    `last_number_fallback`: with no box and no answer marker, take the last number of a finished
    response (GSM8K-style free text). `percent_scaling`: when exactly one side carries a percent
    sign, `50%` may also equal `0.5` (LaTeX benchmarks); otherwise `%` is only a unit.
    `choices`: a gold made of option letters (`C`, or `ACD` for a multiple-answer question) is
    matched as a set of letters: `\\boxed{A, C, D}`, `ACD`, `(A)(C)(D)`, `A、C、D` and `CAD` all
    equal `ACD`; `(C) 12` equals `C`; a value in place of the letter is not the answer.
    `blanks`: a gold with top-level `;` lists the answers of a fill-in question's blanks in
    order (`5;10`): the response must give as many answers, in the same order.
    """

    name: str
    last_number_fallback: bool = False
    percent_scaling: bool = False
    choices: bool = False
    blanks: bool = False


# Most specific first: resolve_profile takes the first name found inside a task name.
PROFILES: dict[str, Profile] = {
    "gsm8k": Profile("gsm8k", last_number_fallback=True),
    "aime": Profile("aime"),
    "amc": Profile("amc"),
    "olympiadbench": Profile("olympiadbench", percent_scaling=True),
    "minerva": Profile("minerva", percent_scaling=True),
    # Multiple-choice sets whose gold is one or several option letters (MMLU-STEM, SAT, AQuA,
    # Gaokao-MathQA).
    "choice": Profile("choice", choices=True),
    # Chinese exam sets (Gaokao 2024, CN middle school, Gaokao-Math-Cloze): a letter, letters,
    # a value or `;`-separated blanks.
    "gaokao": Profile("gaokao", percent_scaling=True, choices=True, blanks=True),
    "math": Profile("math", percent_scaling=True),
}
# Task names that contain another profile's name, or none: checked before the profile names.
_ALIASES = {
    "math500": "math",
    "minerva_math": "minerva",
    "lineq": "math",
    "gaokao2023en": "math",
    "college_math": "math",
    "carp_en": "math",
    "mmlu_stem": "choice",
    "sat_math": "choice",
    "aqua": "choice",
    "gaokao_math_qa": "choice",
    "gaokao_math_cloze": "gaokao",
    "gaokao2024": "gaokao",
    "cn_middle_school": "gaokao",
    "cmath": "gsm8k",
    "asdiv": "gsm8k",
    "svamp": "gsm8k",
    "mawps": "gsm8k",
}


def resolve_profile(task: str | None) -> Profile:
    """Profile for a profile name or an lm-eval task name (`spark_aime24` -> aime); None -> math."""
    if task is None:
        return PROFILES["math"]
    key = task.lower()
    for name in (key, _ALIASES.get(key)):
        if name in PROFILES:
            return PROFILES[name]
    for alias, name in _ALIASES.items():
        if alias in key:
            return PROFILES[name]
    for name, profile in PROFILES.items():
        if name in key:
            return profile
    raise ValueError(
        f"unknown task {task!r}: expected one of {sorted(PROFILES)} or a task name containing one"
    )
