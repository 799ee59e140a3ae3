"""Throughput benchmarks of vaebench (pytest-benchmark): ``pytest bench/ --benchmark-only``."""
