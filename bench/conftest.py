"""Shared fixtures of the benchmarks (helpers live in :mod:`bench.common`).

Two modes. With benchmarks enabled (``pytest bench/ --benchmark-only``) every benchmark runs its full
workload, several rounds, and stores its figures in ``extra_info``. With ``--benchmark-disable`` (how CI
runs ``pytest tests bench``) each runs once on a tiny workload, so the code cannot rot and the whole
folder stays well under 3 minutes on 2 cores.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def quick(request) -> bool:
    """True under ``--benchmark-disable``: run each benchmark once on a tiny workload."""
    return bool(request.config.getoption("benchmark_disable"))


@pytest.fixture(scope="session")
def rates() -> dict[tuple, float]:
    """Model-steps per second measured so far in this session, keyed by (impl, device, d, B, M): the
    engine's benchmarks read the baselines' figures from here to store ratios measured in one run."""
    return {}
