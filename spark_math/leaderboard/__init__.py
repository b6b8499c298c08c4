"""Markdown/CSV/JSON leaderboards from lm-eval results files.

    board = leaderboard([Path("out/baselines")], reported=REPORTED)  # spark_math.baselines
    print(render(board, "md"))

`results` reads runs (a task's protocol, benchmark and probe axis come from its name),
`gains` computes probe gains (shared with `spark-math probes report`), `reported` reads the
published scores (each source names its protocol), `table` builds one table per protocol
(pandas), `render` writes md/csv/json (tabulate) and `plot` a PNG (matplotlib).
"""

from __future__ import annotations

from pathlib import Path

from .render import FORMATS, render
from .reported import load_reported
from .results import LeaderboardError, load_runs
from .table import Leaderboard, build

__all__ = ["FORMATS", "Leaderboard", "LeaderboardError", "leaderboard", "render"]


def leaderboard(
    paths: list[Path], reported: Path | None = None, baseline: str | None = None
) -> Leaderboard:
    """Read every results file under `paths` (plus `reported` scores) into a leaderboard; files
    that are not usable results are listed in its `skipped`."""
    runs, skipped = load_runs(paths)
    sources, rows = load_reported(reported) if reported else ({}, [])
    board = build(runs, rows, sources, baseline=baseline)
    board.skipped = skipped
    return board
