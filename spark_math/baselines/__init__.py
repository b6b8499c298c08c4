"""Declared matrix of models x tasks, run through lm-eval."""
