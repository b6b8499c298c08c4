"""A PNG of the leaderboard: per protocol, one panel per column (the average first), one labelled
bar per row.

A panel holds the rows of one protocol only, and its title starts with the protocol's name
(`[sparkle] aime24 avg@8`); the figure's title says when the rows span several protocols. Each
panel lists only the rows that have a score there, so sparse columns (a reported benchmark nobody
measured) stay readable; reported rows are hatched and pale, and a bar's value is written at its
end (a score of 0 is still visible as a label).
"""

from __future__ import annotations

import math
from pathlib import Path

from .table import REPORTED, Leaderboard

PANELS_PER_ROW = 3


Bar = tuple[str, float, float, bool]  # model, value, stderr, conflicting runs


def _panels(board: Leaderboard) -> list[tuple[str, list[Bar]]]:
    """(title, bars) for each protocol's average (when its table has one) and task columns."""
    plain = board.cells[board.cells["axis"] == ""].set_index(["row", "column"])
    panels = []
    for table in board.tables:
        if table.avg_columns:
            title = f"[{table.protocol}] average over {len(table.avg_columns)} shared column"
            bars = [
                (m, float(board.rows.loc[m, "avg"]), 0.0, False)
                for m in table.rows
                if not math.isnan(board.rows.loc[m, "avg"])
            ]
            panels.append((title + ("s" if len(table.avg_columns) > 1 else ""), bars))
        for column in table.columns:
            bars = []
            for model in table.rows:
                if (model, column) in plain.index:
                    cell = plain.loc[(model, column)]
                    stderr = 0.0 if math.isnan(cell["stderr"]) else float(cell["stderr"])
                    bars.append((model, float(cell["value"]), stderr, bool(cell["conflict"])))
            panels.append((f"[{table.protocol}] {column}", bars))
    return panels


def plot(board: Leaderboard, path: Path) -> Path:
    """Write the leaderboard's bar charts to `path` as PNG and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = _panels(board)
    models = list(dict.fromkeys(board.rows["model"]))  # a model keeps its colour across protocols
    colors = plt.get_cmap("tab10" if len(models) <= 10 else "tab20").colors
    color = {
        row: colors[models.index(model) % len(colors)] for row, model in board.rows["model"].items()
    }
    ncols = min(PANELS_PER_ROW, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    # Each row of panels is as tall as its longest panel needs: one bar is 0.32 inch everywhere.
    most = [max(len(bars) for _, bars in panels[r * ncols : (r + 1) * ncols]) for r in range(nrows)]
    heights = [m * 0.32 + 1.1 for m in most]
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(6.2 * ncols, sum(heights) + 0.6 + 0.35 * (len(board.tables) > 1)),
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
    title = "spark-math leaderboard: score (%), value ± stderr; hatched = reported, not measured"
    if len(board.tables) > 1:
        title += (
            f"\nrows under {len(board.tables)} protocols ({', '.join(board.protocols)}): "
            "each panel holds one, named in its title; compare only within a protocol"
        )
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 * (1 + title.count("\n")) / fig.get_figheight()))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def _label(row: str, board: Leaderboard) -> str:
    name = board.rows.loc[row, "name"]
    return f"{name} (baseline)" if row in board.baselines else name
