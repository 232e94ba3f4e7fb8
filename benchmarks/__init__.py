"""Benchmarks: each module runs with ``python -m benchmarks.NAME`` and prints its table."""
