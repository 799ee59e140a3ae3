"""``route``: run a test on both routes of the metrics' O(n²) and neighbour code, the CPU kernel's
(``vaebench/_metrics_kernel.c``) and the fallback's (KD-trees, PyTorch and NumPy blocks) used where no C
compiler builds the kernel."""

import pytest


@pytest.fixture(params=["kernel", "fallback"])
def route(request, monkeypatch):
    from vaebench import cpu_kernel
    from vaebench.metrics._neighbours import clear_shared

    clear_shared()
    if request.param == "fallback":
        monkeypatch.setenv(cpu_kernel.ENV, "torch")
    elif cpu_kernel.load() is None:
        pytest.skip("no C compiler: the CPU kernel is not built here")
    yield request.param
    clear_shared()
