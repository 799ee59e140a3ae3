"""Seeded samplers of 2-D toy distributions, and a user's own points.

A data set is a function of ``(name, n, seed)`` alone: :func:`sample` returns float32 points of shape
[n, 2], the same for the same arguments on every machine (NumPy's PCG64 stream). Add one by decorating a
function ``f(rng, n) -> ndarray[n, 2]`` with :func:`register_dataset`.

A user's own points: a grid file's ``dataset = "points.npy"`` (or ``.csv``, a path relative to the grid
file) is read and checked once by :func:`read_points` and stands in every run's config as its content id,
``"points:<16 hex digits of sha256>"`` (:func:`points_id`): the content, not the path, is part of each
run's identity, so an edited file gives new runs and never reuses stored results. Each seed draws its
training rows and then its evaluation rows from one seeded permutation of the file's rows (its "data"
stream): without replacement, so n_train + n_eval may not exceed the rows (:func:`training_points`,
:func:`evaluation_points`, the one place that knows the split).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vaebench.seeding import stream_rng, stream_seed

Sampler = Callable[[np.random.Generator, int], np.ndarray]
DATASETS: dict[str, Sampler] = {}
POINTS_PREFIX = "points:"
POINT_FILES = (".npy", ".csv")
_POINTS_ID = re.compile(r"points:[0-9a-f]{16}")
_LOADED: dict[str, np.ndarray] = {}  # content id -> float32 [N, 2], filled by register_points
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


def is_dataset(name: Any) -> bool:
    """Whether ``name`` names a registered sampler or is a points content id (a file path is resolved to
    its id by the grid file, :func:`read_points`)."""
    return isinstance(name, str) and (name in DATASETS or _POINTS_ID.fullmatch(name) is not None)


def is_points_file(value: Any) -> bool:
    """Whether a grid file's ``dataset`` value is a path to a file of points."""
    return isinstance(value, str) and value.lower().endswith(POINT_FILES)


def points_id(points: np.ndarray) -> str:
    """The content id of an array of points: sha256 of its float32 bytes and shape, 16 hex digits."""
    arr = np.ascontiguousarray(points, dtype=np.float32)
    digest = hashlib.sha256(repr(arr.shape).encode() + arr.tobytes()).hexdigest()
    return POINTS_PREFIX + digest[:16]


def read_points(path: str | Path) -> np.ndarray:
    """The points of a .npy or .csv file as float32 [N, 2], checked: numbers only (no pickles), two
    columns, every value finite. A bad file is a ValueError of one line naming it."""
    path = Path(path)
    where = f"dataset = {str(path)!r}"
    try:
        if path.suffix.lower() == ".npy":
            raw = np.load(path, allow_pickle=False)
        else:
            raw = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2,
                             comments="#", encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{where}: no such file") from None
    except (OSError, ValueError, UnicodeDecodeError) as err:
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise ValueError(f"{where}: not a readable {path.suffix} file of numbers ({reason})") from None
    if raw.dtype.kind not in "fiu":
        raise ValueError(f"{where}: holds {raw.dtype} values; expected numbers")
    if raw.ndim != 2 or raw.shape[1] != 2:
        raise ValueError(f"{where}: shape {raw.shape}; expected [N, 2] (one 2-D point per row)")
    points = raw.astype(np.float32)
    if not np.isfinite(points).all():
        bad = int(np.argwhere(~np.isfinite(points).all(axis=1))[0, 0])
        raise ValueError(f"{where}: row {bad} is not finite ({raw[bad].tolist()}); every value must be")
    return np.ascontiguousarray(points)


def register_points(points: np.ndarray) -> str:
    """Make ``points`` [N, 2] available to this process under their content id, and return the id."""
    pid = points_id(points)
    _LOADED.setdefault(pid, np.ascontiguousarray(points, dtype=np.float32))
    return pid


def loaded_points(dataset: str) -> np.ndarray:
    """The points registered under the content id ``dataset``."""
    if dataset not in _LOADED:
        raise ValueError(f"dataset = {dataset!r}: its points are not loaded in this process (run the "
                         f"study from the grid file that names the file, or keep the study's data/ folder)")
    return _LOADED[dataset]


def _split(dataset: str, seed: int, start: int, n: int) -> np.ndarray:
    points = loaded_points(dataset)
    if start + n > len(points):
        raise ValueError(f"dataset = {dataset!r}: {len(points)} rows, fewer than the {start + n} a run "
                         f"draws without replacement (n_train + n_eval)")
    order = stream_rng(seed, "data").permutation(len(points))
    return np.ascontiguousarray(points[order[start:start + n]])


def training_points(dataset: str, n_train: int, seed: int) -> np.ndarray:
    """The training points of run ``seed``: a sampler's n_train draws from its "data" stream, or the first
    n_train rows of the seed's permutation of a file's rows."""
    if dataset.startswith(POINTS_PREFIX):
        return _split(dataset, seed, 0, n_train)
    return sample(dataset, n_train, stream_seed(seed, "data"))


def evaluation_points(dataset: str, n_train: int, n_eval: int, seed: int) -> np.ndarray:
    """The held-out points of run ``seed``: a sampler's n_eval fresh draws from its "eval" stream, or the
    n_eval rows after the training rows in the seed's permutation of a file's rows."""
    if dataset.startswith(POINTS_PREFIX):
        return _split(dataset, seed, n_train, n_eval)
    return sample(dataset, n_eval, stream_seed(seed, "eval"))


def centre(dataset: str) -> np.ndarray:
    """Where the quadrants of ``dataset`` meet: (0.5, 0.5) for the samplers (the unit square), the middle
    of the bounding box of a file's points."""
    if dataset.startswith(POINTS_PREFIX):
        points = loaded_points(dataset)
        return (points.min(axis=0).astype(np.float64) + points.max(axis=0)) / 2
    return np.array([0.5, 0.5])


def sample(name: str, n: int, seed: int) -> np.ndarray:
    """Draw ``n`` points of data set ``name`` with ``seed``: float32 array of shape [n, 2]."""
    if name not in DATASETS:
        raise ValueError(f"dataset = {name!r}: must be one of {list_datasets()}")
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n = {n!r}: must be an integer >= 1")
    x = DATASETS[name](np.random.default_rng(seed), int(n))
    return np.ascontiguousarray(x, dtype=np.float32)


def quadrant(x: np.ndarray, centre: Any = (0.5, 0.5)) -> np.ndarray:
    """Quadrant label 0–3 of points around ``centre`` (the unit square's by default): 0 = lower left,
    1 = lower right, 2 = upper left, 3 = upper right. ``x``: [n, 2]; returns int64 [n]."""
    x = np.asarray(x)
    cx, cy = np.asarray(centre, dtype=np.float64)
    return (x[:, 0] >= cx).astype(np.int64) + 2 * (x[:, 1] >= cy).astype(np.int64)


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
