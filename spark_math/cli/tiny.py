"""`spark-math make-tiny-model`: write a tiny random-weight model for tests and smoke runs."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class Arch(str, Enum):
    """Architectures `make_tiny_model` can build."""

    qwen2 = "qwen2"
    llama = "llama"


def make_tiny_model(
    dir: Annotated[Path, typer.Argument(help="Output folder; created if missing.")],
    arch: Annotated[Arch, typer.Option(help="Model architecture.")] = Arch.qwen2,
    seed: Annotated[
        int, typer.Option(help="Weight seed; the same seed gives identical weights.")
    ] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty DIR, overwriting its files.")
    ] = False,
) -> None:
    """Write a tiny random causal LM with a ChatML tokenizer (offline, < 1 MB) to DIR."""
    if dir.exists() and not dir.is_dir():
        raise typer.BadParameter(f"{dir} exists and is not a folder.", param_hint="DIR")
    if dir.is_dir() and any(dir.iterdir()) and not force:
        raise typer.BadParameter(
            f"{dir} is not empty; pass --force to overwrite its files.", param_hint="DIR"
        )
    from ..models.tiny import folder_size
    from ..models.tiny import make_tiny_model as build

    out = build(dir, arch=arch.value, seed=seed)
    typer.echo(f"{out} ({folder_size(out) / 1024:.0f} KiB)")


app = typer.Typer(help="Tiny random models for tests.")
app.command()(make_tiny_model)
