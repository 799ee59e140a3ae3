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
