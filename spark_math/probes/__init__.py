"""SPARKLE-style probes: does a model follow a given plan, use given knowledge, solve the
subproblems of a problem, finish a partial solution? (arXiv 2506.04723)

Annotation files (`schema`) come from three annotators: `reference` (offline, deterministic, from
the benchmark's reference solutions), `sparkle` (SPARKLE's hub annotations) and `gemini` (a strong
model, `llm`). Every file a task loads is checked for schema and answer leaks (`leaks`). The lm-eval
tasks are `spark_<bench>_{plan,knowledge,subproblems,hint25,hint50,hint75}`; `report` turns their
results into per-axis gains over the plain task.

    >>> from spark_math.probes import annotations, write
    >>> built = annotations("gsm8k", "plan")  # doctest: +SKIP
    >>> write(built, "/tmp/probes")  # doctest: +SKIP
    PosixPath('/tmp/probes/gsm8k/plan.jsonl')
"""

from .build import ANNOTATOR_KINDS, Built, annotations, load, verify, write
from .leaks import find_leak
from .schema import BENCHES, ENV_VAR, KINDS, probes_dir

__all__ = [
    "ANNOTATOR_KINDS",
    "BENCHES",
    "ENV_VAR",
    "KINDS",
    "Built",
    "annotations",
    "find_leak",
    "load",
    "probes_dir",
    "verify",
    "write",
]
