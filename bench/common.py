"""Helpers of the benchmarks: devices, timing, FLOP counts, the attainable FLOP/s.

The device parameter is ``cpu`` and ``cuda``; CUDA cases skip cleanly without a GPU.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

DEVICES = [pytest.param("cpu", id="cpu"),
           pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                       reason="needs a CUDA device"))]

ROOT = Path(__file__).resolve().parents[1]


def run_python(args: list[str]) -> None:
    """``python ARGS`` in the repository root with it on PYTHONPATH (the commands a user types); an
    AssertionError with the end of stderr where it fails."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def require_entry(module: str, *files: str) -> None:
    """Skip unless ``module`` can be imported and every one of ``files`` (relative to the root) exists."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not available")
    for f in files:
        if not (ROOT / f).is_file():
            pytest.skip(f"{f} is missing")


def sync(device: str) -> None:
    """Wait for queued GPU work (no-op on the CPU), so wall times measure the work itself."""
    if device == "cuda":
        torch.cuda.synchronize()


def measure(benchmark, fn: Callable[[], Any], rounds: int, quick: bool) -> float | None:
    """Benchmark ``fn`` for ``rounds`` rounds after one warm-up round and return the *fastest* round's
    seconds (the least disturbed by other processes on a shared machine; pytest-benchmark's table keeps
    the median and the spread), or None in ``--benchmark-disable`` mode (``fn`` then runs once)."""
    benchmark.pedantic(fn, rounds=rounds, warmup_rounds=0 if quick else 1, iterations=1)
    if benchmark.disabled or benchmark.stats is None:
        return None
    return float(benchmark.stats.stats.min)


def linear_shapes(latent_dim: int, hidden: tuple[int, ...] = (30, 30), stochastic: bool = True
                  ) -> list[tuple[int, int]]:
    """(in, out) of every dense layer of the seed VAE: encoder 2→h…→2d (d if deterministic), decoder
    d→h…→2."""
    enc = [2, *hidden, latent_dim * (2 if stochastic else 1)]
    dec = [latent_dim, *hidden, 2]
    return list(zip(enc[:-1], enc[1:], strict=True)) + list(zip(dec[:-1], dec[1:], strict=True))


def training_flops_per_sample(latent_dim: int, hidden: tuple[int, ...] = (30, 30)) -> dict[str, int]:
    """Matrix-multiply FLOPs of one training step per sample, counted from the layer shapes: forward
    2·in·out per layer; backward twice that (weight and input gradients), less the input gradient of the
    encoder's first layer, which nobody needs. Element-wise work (ReLU, loss, Adam) is not counted."""
    shapes = linear_shapes(latent_dim, hidden)
    forward = sum(2 * i * o for i, o in shapes)
    first_in, first_out = shapes[0]
    backward = 2 * forward - 2 * first_in * first_out
    return {"forward": forward, "backward": backward, "total": forward + backward}


_LIMITS: dict[str, dict[str, float]] = {}

# the attainable limit: large batched matmuls — one 2048³ product, a batch of 512³ ones — and for
# reference the engine's own layer shape at a large batch (the shapes shared/FACTS.md quotes)
LIMIT_SHAPES = {"bmm_2048": (1, 2048, 2048, 2048), "bmm_large": (16, 512, 512, 512),
                "bmm_layer": (128, 512, 30, 30)}


def bmm_flops(device: str, shape: tuple[int, int, int, int], seconds: float = 1.0) -> float:
    """FLOP/s of ``torch.bmm`` on [b, n, k] × [b, k, m] float32 (best of repeated calls for ``seconds``)."""
    b, n, k, m = shape
    x, y = torch.randn(b, n, k, device=device), torch.randn(b, k, m, device=device)
    torch.bmm(x, y)
    sync(device)
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        torch.bmm(x, y)
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2.0 * b * n * k * m / best


def attainable_flops(device: str, quick: bool = False) -> dict[str, float]:
    """The machine's attainable FLOP/s, measured once per session and device: ``limit`` is the best of
    :data:`LIMIT_SHAPES` (each also reported on its own)."""
    if device not in _LIMITS:
        seconds = 0.05 if quick else 2.0
        found = {name: bmm_flops(device, shape, seconds) for name, shape in LIMIT_SHAPES.items()}
        found["limit"] = max(found.values())
        _LIMITS[device] = found
    return _LIMITS[device]


def machine_info() -> dict[str, Any]:
    """Torch version, thread count and, where there is one, the GPU's name, stored with every benchmark."""
    info: dict[str, Any] = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["device_name"] = torch.cuda.get_device_name()
    return info
