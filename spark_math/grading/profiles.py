"""Per-task answer conventions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """How one family of benchmarks writes and expects answers.

    `last_number_fallback`: with no box and no answer marker, take the last number of a finished
    response (GSM8K-style free text). `percent_scaling`: when exactly one side carries a percent
    sign, `50%` may also equal `0.5` (LaTeX benchmarks); otherwise `%` is only a unit.
    """

    name: str
    last_number_fallback: bool = False
    percent_scaling: bool = False


# Most specific first: resolve_profile takes the first name found inside a task name.
PROFILES: dict[str, Profile] = {
    "gsm8k": Profile("gsm8k", last_number_fallback=True),
    "aime": Profile("aime"),
    "amc": Profile("amc"),
    "olympiadbench": Profile("olympiadbench", percent_scaling=True),
    "minerva": Profile("minerva", percent_scaling=True),
    "math": Profile("math", percent_scaling=True),
}
_ALIASES = {"math500": "math", "minerva_math": "minerva", "lineq": "math"}


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
