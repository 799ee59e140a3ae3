"""Shared fixtures. ``VAEBENCH_TEST_DEVICE`` (cpu|cuda, set by tox) chooses the device the engine tests
train on; CUDA tests skip cleanly without a GPU."""

from __future__ import annotations

import os

import pytest
import torch


@pytest.fixture(scope="session")
def device() -> str:
    dev = os.environ.get("VAEBENCH_TEST_DEVICE", "cpu")
    if dev == "cuda" and not torch.cuda.is_available():
        pytest.skip("VAEBENCH_TEST_DEVICE=cuda but CUDA is not available")
    return dev


requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(autouse=True)
def no_dask_malloc_trim():
    """A dask LocalCluster started with dask's defaults (as a user's own cluster is, in
    tests/reliability/test_dask_worker_killed.py) sets MALLOC_TRIM_THRESHOLD_ in the environment of the
    process that starts it, and every process started from it afterwards inherits it: each test starts
    with this process's environment as it was."""
    before = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    yield
    if before is None:
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    else:
        os.environ["MALLOC_TRIM_THRESHOLD_"] = before


# ``metrics_route``: run a test on both routes of the metrics' O(n²) and neighbour code, the CPU kernel's
# (vaebench/kernel/metric_loops.c) and the fallback's (KD-trees, PyTorch and NumPy blocks) used where no C
# compiler builds the kernel.
@pytest.fixture(params=["kernel", "fallback"])
def metrics_route(request, monkeypatch):
    from vaebench import cpu_kernel
    from vaebench.metrics._neighbours import clear_shared

    clear_shared()
    if request.param == "fallback":
        monkeypatch.setenv(cpu_kernel.ENV, "torch")
    elif cpu_kernel.load() is None:
        pytest.skip("no C compiler: the CPU kernel is not built here")
    yield request.param
    clear_shared()


def pytest_collection_modifyitems(config, items):
    """Mark every test that can run on CUDA ``cuda`` (it takes the ``device`` fixture or skips without a
    GPU), so ``VAEBENCH_TEST_DEVICE=cuda pytest tests -m cuda`` runs just those (bench/device_check.sh)."""
    for item in items:
        needs_gpu = any(m.name == "skipif" and "CUDA" in str(m.kwargs.get("reason", ""))
                        for m in item.iter_markers())
        if "device" in getattr(item, "fixturenames", ()) or needs_gpu:
            item.add_marker(pytest.mark.cuda)
