"""Declared matrix of models x tasks, run through lm-eval.

`matrix` loads and validates `baselines/matrix.yaml`; `runner` turns each entry into one
`lm_eval` subprocess whose results land, as lm-eval writes them, in `<results>/<entry name>/`.
"""
