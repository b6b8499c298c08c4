"""Declared matrix of models x tasks, run through lm-eval.

`matrix` loads and validates a matrix file (the packaged `MATRIX` unless told otherwise);
`runner` turns each entry into one `lm_eval` subprocess whose results land, as lm-eval writes
them, in `<results>/<entry name>/`. `REPORTED` holds the published scores the leaderboard adds.
"""

from pathlib import Path

MATRIX = Path(__file__).with_name("matrix.yaml")  # `spark-math baselines run`'s default
REPORTED = Path(__file__).with_name("reported.yaml")  # `spark-math leaderboard --reported`
