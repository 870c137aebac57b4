"""Benchmarks: one package per subject; see docs/benchmarks.md."""
