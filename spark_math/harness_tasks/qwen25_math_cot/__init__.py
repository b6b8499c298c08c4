"""The `qwen25-math-cot` protocol preset: Qwen2.5-Math's evaluation suite as lm-eval tasks.

`spark_qwen_<name>` tasks reproduce the prompt and decoding of QwenLM/Qwen2.5-Math's
`evaluation/sh/eval.sh` with `PROMPT_TYPE=qwen25-math-cot` (commit a45202bd): the instruction is
the system message, the problem alone is the user turn. See docs/protocols.md.
"""
