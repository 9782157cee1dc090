"""Benchmark scripts (not pytest tests); see README.md in this directory.

Run from the repository root, either way:

    python -m tests.benchmarks.bench_in_process [--quick]
    python tests/benchmarks/bench_definition.py [--quick]
"""
