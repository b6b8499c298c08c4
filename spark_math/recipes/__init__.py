"""The packaged training recipes (`*.yaml`) and `accelerate launch` configs (`accelerate/*.yaml`).

`spark-math train sft|grpo|dpo --config NAME` reads a recipe from here by name;
`spark-math train recipes` lists every file with its path, and `--copy DIR` copies them out to
edit (`accelerate launch --config_file DIR/accelerate/zero3.yaml ...`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import SparkMathError

RECIPES_DIR = Path(__file__).parent


def packaged() -> dict[str, Path]:
    """Every packaged file by name: `sparkle-stage1-grpo`, ..., `accelerate/zero3`."""
    return {
        path.relative_to(RECIPES_DIR).with_suffix("").as_posix(): path
        for path in sorted(RECIPES_DIR.rglob("*.yaml"), key=lambda p: (len(p.parts), p))
    }


def copy_to(folder: Path) -> list[Path]:
    """Copy every packaged file into `folder` (launch configs into `folder/accelerate/`); copy
    nothing when one of them would overwrite a file there."""
    targets = {path: folder / path.relative_to(RECIPES_DIR) for path in packaged().values()}
    clashes = [str(target) for target in targets.values() if target.exists()]
    if clashes:
        raise SparkMathError(
            f"{clashes[0]} exists ({len(clashes)} of the {len(targets)} files do); nothing was "
            "copied: copy into another folder"
        )
    for source, target in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return list(targets.values())
