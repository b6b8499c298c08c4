"""Data hooks the task YAML files call through `!function`.

`load_benchmark` is lm-eval's `custom_dataset`: lm-eval calls it with the task's `dataset_kwargs`
plus the run's metadata and model_args, hence the `spark_` prefixes and `**_ignored`.
"""

from __future__ import annotations

from collections.abc import Sequence

import datasets

from spark_math.data import load_rows


def load_benchmark(
    spark_benchmark: str,
    spark_splits: Sequence[str] = ("test",),
    spark_data_dir: str | None = None,
    **_ignored: object,
) -> datasets.DatasetDict:
    """The benchmark's splits as a DatasetDict, from SPARK_MATH_DATA_DIR (or `spark_data_dir`
    passed with `--metadata`) when set, else from the Hugging Face hub."""
    return datasets.DatasetDict(
        {
            split: datasets.Dataset.from_list(
                load_rows(spark_benchmark, split, data_dir=spark_data_dir)
            )
            for split in spark_splits
        }
    )
