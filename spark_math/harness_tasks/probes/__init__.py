"""The SPARKLE probe tasks (YAML, written by `_generate`); their hooks are in `probe_hooks`."""
