"""Markdown/CSV/JSON leaderboards from lm-eval results files."""
