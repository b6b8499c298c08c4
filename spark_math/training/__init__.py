"""Fine-tuning with TRL (SFT, GRPO, DPO): recipes, data, rewards built on the shared grader."""
