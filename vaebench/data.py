"""Seeded samplers of 2-D toy distributions.

A data set is a function of ``(name, n, seed)`` alone: :func:`sample` returns float32 points of shape
[n, 2], the same for the same arguments on every machine (NumPy's PCG64 stream). Add one by decorating a
function ``f(rng, n) -> ndarray[n, 2]`` with :func:`register_dataset`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Sampler = Callable[[np.random.Generator, int], np.ndarray]
DATASETS: dict[str, Sampler] = {}
# Differential entropy (nats) of the data sets whose density is known in closed form: uniform on a region
# of area A has entropy ln A (the unit square 0, the checkerboard's 8 cells of 1/16 each ln ½).
ENTROPY: dict[str, float] = {"uniform": 0.0, "checkerboard": float(np.log(0.5))}


def register_dataset(fn: Sampler) -> Sampler:
    """Register ``fn`` under its function name."""
    DATASETS[fn.__name__] = fn
    return fn


def list_datasets() -> list[str]:
    """Names of the registered data sets, sorted."""
    return sorted(DATASETS)


def sample(name: str, n: int, seed: int) -> np.ndarray:
    """Draw ``n`` points of data set ``name`` with ``seed``: float32 array of shape [n, 2]."""
    if name not in DATASETS:
        raise ValueError(f"dataset = {name!r}: must be one of {list_datasets()}")
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n = {n!r}: must be an integer >= 1")
    x = DATASETS[name](np.random.default_rng(seed), int(n))
    return np.ascontiguousarray(x, dtype=np.float32)


def quadrant(x: np.ndarray) -> np.ndarray:
    """Quadrant label 0–3 of points in the unit square: 0 = lower left, 1 = lower right, 2 = upper left,
    3 = upper right (split at 0.5 per coordinate). ``x``: [n, 2]; returns int64 [n]."""
    x = np.asarray(x)
    return (x[:, 0] >= 0.5).astype(np.int64) + 2 * (x[:, 1] >= 0.5).astype(np.int64)


@register_dataset
def uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    """U[0, 1]²: the report's data."""
    return rng.random((n, 2))


@register_dataset
def gaussian_mixture(rng: np.random.Generator, n: int) -> np.ndarray:
    """Eight isotropic Gaussians (σ = 0.05) equally spaced on a circle of radius 0.35 around (0.5, 0.5)."""
    k = rng.integers(0, 8, n)
    angle = 2 * np.pi * k / 8
    centres = 0.5 + 0.35 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return centres + 0.05 * rng.standard_normal((n, 2))


@register_dataset
def ring(rng: np.random.Generator, n: int) -> np.ndarray:
    """A ring of radius 0.35 around (0.5, 0.5) with Gaussian radial noise σ = 0.03."""
    angle = rng.random(n) * 2 * np.pi
    radius = 0.35 + 0.03 * rng.standard_normal(n)
    return 0.5 + radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)


@register_dataset
def checkerboard(rng: np.random.Generator, n: int) -> np.ndarray:
    """Uniform on the 8 dark cells of a 4×4 checkerboard over [0, 1]²."""
    cell = rng.integers(0, 8, n)
    row = cell // 2
    col = 2 * (cell % 2) + (row % 2)
    return (np.stack([col, row], axis=1) + rng.random((n, 2))) / 4


@register_dataset
def moons(rng: np.random.Generator, n: int) -> np.ndarray:
    """Two interleaved half circles (as scikit-learn's make_moons) with noise σ = 0.05, scaled into
    about [0, 1]²."""
    upper = rng.random(n) < 0.5
    t = rng.random(n) * np.pi
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    pts = np.stack([x, y], axis=1) + 0.05 * rng.standard_normal((n, 2))
    return (pts + np.array([1.0, 0.75])) / np.array([3.0, 2.0])
