"""lm-eval tasks (`spark_*`): YAML configs plus the hooks they call (data, prompts, scoring).

Importing this package stays cheap (the startup hook reads `TASKS_DIR`); the hooks live in
`data_hooks` and `scoring` and are referenced from the YAML files with `!function`.
"""

from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent
