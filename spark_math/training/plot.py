"""Training curves of a run folder's `log.jsonl` as one PNG (matplotlib).

GRPO runs get six panels: reward mean +/- std per reward function, total reward, share of
groups with zero reward variance, completion length (mean with min-max band, clipped share),
KL (TRL's `kl` when `beta > 0`, else `kl_start`) and entropy. SFT and DPO runs get loss and
what their trainer logs for accuracy. Dashed lines mark resumes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .train import LOG_FILE


def _log_records(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / LOG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no training log (is {run_dir} a run folder?)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _steps(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if "loss" in r]


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """The per-step training records of a run (summary and resume records left out)."""
    return _steps(_log_records(Path(run_dir)))


def _series(records: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    pairs = [(r["step"], r[key]) for r in records if r.get(key) is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Draw the run's curves into `out` (default `<run_dir>/curves.png`) and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    logged = _log_records(run_dir)
    records = _steps(logged)
    resumes = [r["step"] for r in logged if "resumed_from" in r]
    if not records:
        raise ValueError(f"{run_dir / LOG_FILE} holds no training step yet")
    out = Path(out) if out is not None else run_dir / "curves.png"
    grpo = any("frac_reward_zero_std" in r for r in records)
    panels = _grpo_panels(records) if grpo else _plain_panels(records)
    cols = 3 if grpo else 2
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
    for ax, (title, draw) in zip(axes.flat, panels, strict=False):
        draw(ax)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        for step in resumes:
            ax.axvline(step, color="grey", linestyle="--", linewidth=0.8)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(f"{run_dir.name}: {'GRPO' if grpo else 'training'} curves", fontsize=12)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _line(records, key: str, label: str | None = None, **style):
    def draw(ax) -> None:
        steps, values = _series(records, key)
        ax.plot(steps, values, label=label, **style)

    return draw


def _grpo_panels(records: list[dict[str, Any]]):
    keys = {k for r in records for k in r if k.startswith("rewards/") and k.endswith("/mean")}
    names = sorted(k[len("rewards/") : -len("/mean")] for k in keys)

    def rewards(ax) -> None:
        for name in names:
            steps, mean = _series(records, f"rewards/{name}/mean")
            _, std = _series(records, f"rewards/{name}/std")
            ax.plot(steps, mean, label=name)
            low = [m - s for m, s in zip(mean, std, strict=True)]
            high = [m + s for m, s in zip(mean, std, strict=True)]
            ax.fill_between(steps, low, high, alpha=0.15)

    def total(ax) -> None:
        steps, mean = _series(records, "reward")
        _, std = _series(records, "reward_std")
        ax.plot(steps, mean, color="black", label="weighted sum")
        ax.fill_between(
            steps,
            [m - s for m, s in zip(mean, std, strict=True)],
            [m + s for m, s in zip(mean, std, strict=True)],
            color="black",
            alpha=0.1,
        )

    def length(ax) -> None:
        steps, mean = _series(records, "completions/mean_length")
        _, low = _series(records, "completions/min_length")
        _, high = _series(records, "completions/max_length")
        ax.plot(steps, mean, label="mean")
        ax.fill_between(steps, low, high, alpha=0.15, label="min-max")
        clipped = ax.twinx()
        clipped.plot(*_series(records, "completions/clipped_ratio"), color="red", alpha=0.5)
        clipped.set_ylabel("clipped share", color="red", fontsize=8)
        clipped.set_ylim(0, 1.05)

    kl_key = "kl" if any("kl" in r for r in records) else "kl_start"
    kl_title = "KL to reference (TRL)" if kl_key == "kl" else "KL(start || current), probe"
    return [
        ("reward per function (mean +/- std)", rewards),
        ("total reward (mean +/- std)", total),
        ("share of zero-variance groups", _line(records, "frac_reward_zero_std", color="purple")),
        ("completion length (tokens)", length),
        (kl_title, _line(records, kl_key, color="darkgreen")),
        ("entropy", _line(records, "entropy", color="orange")),
    ]


def _plain_panels(records: list[dict[str, Any]]):
    panels = [("loss", _line(records, "loss"))]
    for key in ("mean_token_accuracy", "rewards/accuracies", "rewards/margins"):
        if any(key in r for r in records):
            panels.append((key, _line(records, key)))
    return panels
