"""spark-math: measure and improve the mathematical reasoning of small language models."""

__version__ = "0.1.0"
