"""A PNG of the leaderboard: one panel per column (the average first), one labelled bar per model.

Each panel lists only the models that have a score there, so sparse columns (a reported
benchmark nobody measured) stay readable; reported rows are hatched and pale, and a bar's value
is written at its end (a score of 0 is still visible as a label).
"""

from __future__ import annotations

import math
from pathlib import Path

from .table import REPORTED, Leaderboard

PANELS_PER_ROW = 3


Bar = tuple[str, float, float, bool]  # model, value, stderr, conflicting runs


def _panels(board: Leaderboard) -> list[tuple[str, list[Bar]]]:
    """(title, bars) for the average and each task column."""
    plain = board.cells[board.cells["axis"] == ""].set_index(["row", "column"])
    panels = [
        ("average over each row's tasks", [
            (m, float(board.rows.loc[m, "avg"]), 0.0, False)
            for m in board.rows.index
            if not math.isnan(board.rows.loc[m, "avg"])
        ]),
    ]  # fmt: skip
    for column in board.columns:
        bars = []
        for model in board.rows.index:
            if (model, column) in plain.index:
                cell = plain.loc[(model, column)]
                stderr = 0.0 if math.isnan(cell["stderr"]) else float(cell["stderr"])
                bars.append((model, float(cell["value"]), stderr, bool(cell["conflict"])))
        panels.append((column, bars))
    return panels


def plot(board: Leaderboard, path: Path) -> Path:
    """Write the leaderboard's bar charts to `path` as PNG and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = _panels(board)
    models = list(board.rows.index)
    colors = plt.get_cmap("tab10" if len(models) <= 10 else "tab20").colors
    color = {m: colors[i % len(colors)] for i, m in enumerate(models)}
    ncols = min(PANELS_PER_ROW, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    # Each row of panels is as tall as its longest panel needs: one bar is 0.32 inch everywhere.
    most = [max(len(bars) for _, bars in panels[r * ncols : (r + 1) * ncols]) for r in range(nrows)]
    heights = [m * 0.32 + 1.1 for m in most]
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(6.2 * ncols, sum(heights) + 0.6),
        dpi=110,
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    for i, (ax, (title, bars)) in enumerate(zip(axes.flat, panels, strict=False)):
        names = [bar[0] for bar in bars]
        reported = [board.rows.loc[m, "type"] == REPORTED for m in names]
        ax.barh(
            range(len(bars)),
            [bar[1] for bar in bars],
            color=[color[m] for m in names],
            alpha=0.9,
            height=0.7,
            hatch=["//" if r else "" for r in reported],
            edgecolor=["#444444" if r else "none" for r in reported],
            linewidth=0.5,
        )
        for y, (_, value, stderr, conflict) in enumerate(bars):
            if stderr > 0:
                ax.errorbar(value, y, xerr=stderr, color="black", elinewidth=0.8, capsize=2)
            text = f"{value:.1f}" + (f" ± {stderr:.1f}" if stderr > 0 else "")
            text += " ⚠ runs disagree" if conflict else ""
            ax.text(min(value + stderr, 100) + 1.5, y, text, va="center", fontsize=8)
        ax.set_yticks(range(len(bars)), [_label(m, board) for m in names], fontsize=8)
        ax.set_xlim(0, 118)
        ax.set_ylim(most[i // ncols] - 0.5, -0.5)
        ax.set_title(title, fontsize=10, fontweight="bold")
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
        ax.tick_params(axis="x", labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(
        "spark-math leaderboard: score (%), value ± stderr; hatched = reported, not measured here",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def _label(model: str, board: Leaderboard) -> str:
    return f"{model} (baseline)" if model == board.baseline else model
