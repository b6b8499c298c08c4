"""lm-eval's standard few-shot protocols on our data (`spark_lmeval_*`, YAML in this folder).

`spark_lmeval_gsm8k_cot` is lm-eval's `gsm8k_cot` (Wei et al. 2022's 8 chain-of-thought
exemplars) and `spark_lmeval_math_4shot` / `spark_lmeval_math500_4shot` are lm-eval's
`minerva_math` / `minerva_math500` (Lewkowycz et al. 2022's 4-shot prompt): same prompt text,
delimiters, stop strings and decoding, graded by spark_math.grading. See docs/protocols.md.
"""
