"""Progress a person reads: a named bar with ETA while a model trains, one summary line when it
is done, and libraries kept from flooding the output.

On a terminal (stderr), training shows a Rich bar (`[3/6] SFT ━━━━ 120/500 steps 0:01:10 <
0:02:30 loss 0.51`); elsewhere (CI, `> log.txt`) it prints plain lines, no escape codes: one each
10% of the steps (or five minutes). TRL's raw metric dicts are not printed; every metric still
reaches the trainer's `log_history` (`trainer_state.json`) and the run's `log.jsonl`.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any

from transformers import PrinterCallback, ProgressCallback, TrainerCallback

# The metrics each trainer's progress shows, with their short names.
METRICS = {
    "sft": {"loss": "loss", "mean_token_accuracy": "token acc"},
    "grpo": {"reward": "reward", "kl": "kl", "completions/mean_length": "length"},
    "dpo": {"loss": "loss", "rewards/accuracies": "pair acc"},
}
# lm-eval warnings that every spark task run triggers and a user cannot act on: the spark
# tasks' data comes from a hook (`custom_dataset`), and the evaluation sets `max_gen_toks`.
LM_EVAL_NOISE = (
    "Custom kwargs can be passed to `--metadata`",
    "specified through cli, these settings will update",
)


def is_terminal() -> bool:
    """Whether stderr is a terminal that can show a live bar."""
    from rich.console import Console

    return Console(stderr=True).is_terminal


def duration(seconds: float) -> str:
    """`0:02:30`."""
    return str(timedelta(seconds=round(max(seconds, 0.0))))


class TrainProgress(TrainerCallback):
    """A named bar with ETA (or, off a terminal, a plain line each `every` share of the steps
    or `every_s` seconds) and a summary line (`[3/6] SFT: 500 steps in 0:03:40; loss 5.84 ->
    0.42`) of the trainer's key metrics. Replaces transformers' `ProgressCallback`."""

    def __init__(
        self,
        label: str,
        metrics: dict[str, str],
        echo: Callable[[str], None] = print,
        terminal: bool | None = None,
        every: float = 0.1,
        every_s: float = 300.0,
    ) -> None:
        self.label, self.metrics, self.echo = label, metrics, echo
        self.terminal = is_terminal() if terminal is None else terminal
        self.every, self.every_s = every, every_s
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.bar: Any = None

    def on_train_begin(self, args, state, control, **kwargs) -> None:
        if not state.is_world_process_zero:
            return
        self.started = self.shown_at = time.monotonic()
        self.start_step = state.global_step
        self.shown_share = state.global_step / max(state.max_steps, 1)
        if self.terminal:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("steps"),
                TimeElapsedColumn(),
                TextColumn("<"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[metrics]}"),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(
                self.label, total=state.max_steps, completed=state.global_step, metrics=""
            )

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        for key in self.metrics:
            value = (logs or {}).get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.first.setdefault(key, float(value))
                self.last[key] = float(value)

    def on_step_end(self, args, state, control, **kwargs) -> None:
        if not state.is_world_process_zero:
            return
        step, total = state.global_step, max(state.max_steps, 1)
        if self.bar is not None:
            self.bar.update(self.task, completed=step, metrics=self._latest())
            return
        now = time.monotonic()
        share = step / total
        due = share - self.shown_share >= self.every - 1e-9 or now - self.shown_at >= self.every_s
        if not due and step < total:
            return
        self.shown_share, self.shown_at = share, now
        rate = (step - self.start_step) / max(now - self.started, 1e-9)
        left = (total - step) / rate if rate > 0 else 0.0
        latest = f", {self._latest()}" if self.last else ""
        self.echo(
            f"{self.label}: step {step}/{total} ({share:.0%}){latest}; "
            f"{duration(now - self.started)} elapsed, ~{duration(left)} left"
        )

    def on_train_end(self, args, state, control, **kwargs) -> None:
        if not state.is_world_process_zero:
            return
        self.close()
        steps = state.global_step - self.start_step
        changes = ", ".join(
            f"{name} {self.first[key]:.3g} -> {self.last[key]:.3g}"
            for key, name in self.metrics.items()
            if key in self.last
        )
        took = duration(time.monotonic() - self.started)
        done = f"{self.label}: {steps} step{'s' * (steps != 1)} in {took}"
        self.echo(done + (f"; {changes}" if changes else ""))

    def close(self) -> None:
        """Take the bar off the terminal (also when training stops on an error)."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def _latest(self) -> str:
        return ", ".join(
            f"{name} {self.last[key]:.3g}" for key, name in self.metrics.items() if key in self.last
        )


def show_progress(
    trainer, label: str, kind: str, echo: Callable[[str], None] = print
) -> TrainProgress:
    """Put a `TrainProgress` in place of transformers' bar and metric-dict printer; return it."""
    for callback in (ProgressCallback, PrinterCallback):
        trainer.remove_callback(callback)
    with suppress(ImportError):  # the notebook bar, when transformers chose it
        from transformers.utils.notebook import NotebookProgressCallback

        trainer.remove_callback(NotebookProgressCallback)
    progress = TrainProgress(label, METRICS.get(kind, {}), echo)
    trainer.add_callback(progress)
    return progress


class _DropMessages(logging.Filter):
    def __init__(self, texts: tuple[str, ...]) -> None:
        super().__init__()
        self.texts = texts

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in self.texts)


@contextmanager
def quiet_libraries(terminal: bool | None = None) -> Iterator[None]:
    """Within: no progress bars from transformers (weights loading, shards) or datasets (maps),
    none from lm-eval either off a terminal, and none of lm-eval's `LM_EVAL_NOISE` warnings;
    other warnings still show."""
    import datasets
    from transformers.utils import logging as hf_logging

    terminal = is_terminal() if terminal is None else terminal
    hf_bars = hf_logging.is_progress_bar_enabled()
    datasets_bars = datasets.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    noise = _DropMessages(LM_EVAL_NOISE)
    loggers = [logging.getLogger(name) for name in ("lm_eval.api.task", "lm_eval.evaluator")]
    for logger in loggers:
        logger.addFilter(noise)
    try:
        with warnings.catch_warnings(), _tqdm_disabled(not terminal):
            # deprecations inside transformers' own code paths, not in what a user set
            warnings.filterwarnings("ignore", r"`is_gradient_checkpointing` is deprecated")
            yield
    finally:
        for logger in loggers:
            logger.removeFilter(noise)
        if hf_bars:
            hf_logging.enable_progress_bar()
        if datasets_bars:
            datasets.enable_progress_bars()


@contextmanager
def _tqdm_disabled(disabled: bool) -> Iterator[None]:
    """Within (when `disabled`): every tqdm bar is created disabled, whatever its caller asks
    (lm-eval passes `disable=False`; tqdm reads `TQDM_DISABLE` only at import)."""
    if not disabled:
        yield
        return
    from tqdm import std

    original = std.tqdm.__init__

    def init(self, *args: Any, **kwargs: Any) -> None:
        kwargs["disable"] = True
        original(self, *args, **kwargs)

    std.tqdm.__init__ = init
    try:
        yield
    finally:
        std.tqdm.__init__ = original
