"""SPARKLE's evaluation protocol as lm-eval tasks (`spark_sparkle_*`, YAML in this folder).

SPARKLE (Wang et al., NeurIPS 2025, arXiv 2506.04723) evaluates with its own lm-eval fork
(github.com/sparkle-reasoning/sparkle, `eval/lm-evaluation-harness/lm_eval/tasks/sparkle/`) and
`scripts/eval/eval_all_vllm.sh`: the R1-Zero prompt inside the chat template's user turn
(`--apply_chat_template`), T=0.6, top_p=1.0, no stop strings, 31768 new tokens in a 32768-token
context, avg@8. `prompts` holds the fork's prompt strings; see docs/protocols.md.
"""
