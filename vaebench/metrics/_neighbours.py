"""Neighbour queries of one point set, built once and shared by every metric that needs them.

A :class:`PointSet` holds validated float64 points [n, d] and answers the suite's three questions:
the k nearest points to given queries (:meth:`~PointSet.query`, :meth:`~PointSet.knn` for its own
points, remembered), and how many of its points lie strictly inside a ball around each of given centres
(:meth:`~PointSet.count_within`). The metric functions accept a PointSet wherever they accept an array,
and treat any other array-like as a fresh one.

Two routes, the same answers: the CPU kernel's grid (``vb_knn``, ``vb_count_within`` in
``vaebench/kernel/metric_loops.c``: the points binned once into cells of two coordinates, each query scanning
rings of cells until no unseen cell can hold a nearer point; exact), or, without the kernel,
``scipy.spatial.cKDTree``. Distances are the same to rounding; neighbours at exactly equal distances come
in index order on the kernel's route, in the tree's order on the other.

:func:`shared_points` goes one step further: one PointSet per distinct point set *across calls*. The
runs of a study that share a seed share their evaluation inputs x (the run's "eval" stream), so the
suite sorts x, queries its neighbours, sorts its projections and counts its grid cells once per seed
rather than once per run. The key is the points' bytes and shape (BLAKE2b), so a hit is the same points,
never a neighbour's; at most :data:`SHARED_POINTS` points are kept (least recently used first out).
"""

from __future__ import annotations

import ctypes
import hashlib
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from vaebench import cpu_kernel
from vaebench.metrics._arrays import as_points


class PointSet:
    """Points [n, d] (float64, finite) with lazily built search structures and remembered k-NN queries."""

    def __init__(self, points: Any, name: str = "points"):
        self.points = as_points(points, name)
        self.name = name
        self._tree: cKDTree | None = None
        self._grid: _Grid | None = None
        self._knn: tuple[int, np.ndarray, np.ndarray] | None = None
        self._lock = threading.Lock()
        self.memo: dict[Any, Any] = {}  # other per-point-set results (e.g. sorted projections)

    @classmethod
    def of(cls, obj: Any, name: str, *, min_n: int = 1, dim: int | None = None) -> PointSet:
        """``obj`` itself if it is a PointSet, else a new one; the same checks as
        :func:`~vaebench.metrics._arrays.as_points` (``min_n`` points, ``dim`` dimensions)."""
        if isinstance(obj, PointSet):
            as_points(obj.points, name, min_n=min_n, dim=dim)  # cheap: the shape and finiteness checks
            return obj
        return cls(as_points(obj, name, min_n=min_n, dim=dim), name)

    def __len__(self) -> int:
        return len(self.points)

    @property
    def tree(self) -> cKDTree:
        """The KD-tree of the points (the route without the CPU kernel)."""
        with self._lock:
            if self._tree is None:
                # sliding-midpoint splits: the median splits (balanced_tree=True) segfault on many
                # duplicated points in a thread that flushes denormals, as training leaves it (scipy 1.17)
                self._tree = cKDTree(self.points, balanced_tree=False)
            return self._tree

    def grid(self) -> _Grid:
        """The kernel's grid (``kernel/metric_loops.c``): the points binned into about n square cells over
        the two coordinates of widest central range (one for d = 1), stored cell by cell."""
        with self._lock:  # evaluation threads share x's PointSet: one grid, never replaced
            if self._grid is None:
                self._grid = _Grid(self.points)
            return self._grid

    def query(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Euclidean distances and indices [m, k] of the k nearest of these points to each row of
        ``queries`` [m, d], nearest first; needs 1 ≤ k ≤ n."""
        q = np.ascontiguousarray(np.asarray(queries, dtype=np.float64).reshape(-1, self.points.shape[1]))
        if not 1 <= k <= len(self):
            raise ValueError(f"k = {k}: must be between 1 and the number of points ({len(self)})")
        lib = cpu_kernel.load()
        if lib is None:
            dist, idx = self.tree.query(q, k=k)
            return dist.reshape(len(q), k), idx.reshape(len(q), k)
        cols = np.ascontiguousarray(q.T)
        d2, idx = np.empty((len(q), k)), np.empty((len(q), k), dtype=np.int64)
        grid = self.grid()  # held here: the C call reads the arrays it points to
        lib.vb_knn(grid.address, len(q), cols.ctypes.data, k, d2.ctypes.data, idx.ctypes.data)
        return np.sqrt(d2), idx

    def knn(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices [n, k] of every point's k nearest points (itself included, usually
        first), as :meth:`query` of the points themselves; a query for a larger k is kept and sliced."""
        if self._knn is None or self._knn[0] < k:
            self._knn = (k, *self.query(self.points, k))
        return self._knn[1][:, :k], self._knn[2][:, :k]

    def count_within(self, centres: Any, radii: Any) -> np.ndarray:
        """For each row of ``centres`` [m, d], how many of these points lie strictly inside the ball of
        radius ``radii`` [m] around it (Euclidean distance < radius): int64 [m]."""
        c = np.ascontiguousarray(np.asarray(centres, dtype=np.float64).reshape(-1, self.points.shape[1]))
        r = np.ascontiguousarray(radii, dtype=np.float64)
        lib = cpu_kernel.load()
        if lib is None:  # the tree counts distance ≤ r: one unit in the last place less is < r
            counts = np.asarray(self.tree.query_ball_point(c, r=np.nextafter(r, 0.0), return_length=True),
                                dtype=np.int64)
            return np.where(r > 0, counts, 0)  # nothing lies strictly inside a ball of radius 0
        cols = np.ascontiguousarray(c.T)
        counts = np.empty(len(c), dtype=np.int64)
        grid = self.grid()
        lib.vb_count_within(grid.address, len(c), cols.ctypes.data, r.ctypes.data, counts.ctypes.data)
        return counts


BOX_QUANTILE = 0.005  # the grid spans the 0.5 % to 99.5 % quantiles of each coordinate
POINTS_PER_CELL = 1.0  # the grid's mean occupancy (1 was fastest for the suite's queries, 2 – 6 slower)


class _GridSpec(ctypes.Structure):
    _fields_ = [*((f, ctypes.c_int64) for f in ("n", "d", "gx", "gy", "a0", "a1")),
                *((f, ctypes.c_void_p) for f in ("sorted", "order", "start")),
                *((f, ctypes.c_double) for f in ("lo0", "lo1", "h0", "h1", "inv0", "inv1", "margin"))]


class _Grid:
    """The points binned for ``vb_knn`` / ``vb_count_within`` (the ``Grid`` struct of
    ``kernel/metric_loops.c``; the arrays it points to live as long as this object)."""

    def __init__(self, points: np.ndarray):
        n, d = points.shape
        # the box of the central 99 % per coordinate: a far outlier (in an edge cell, as cells clamp)
        # must not stretch every cell and pile the rest into a few
        lo_all, hi_all = np.quantile(points, [BOX_QUANTILE, 1 - BOX_QUANTILE], axis=0)
        axes = [int(a) for a in np.argsort(-(hi_all - lo_all), kind="stable")[:2]]
        a0, a1 = axes[0], axes[-1]
        lo, ext = lo_all[[a0, a1]], (hi_all - lo_all)[[a0, a1]]
        if d == 1 or ext[1] <= 0:
            g = np.array([n / POINTS_PER_CELL, 1.0])
        else:
            side = np.sqrt(ext[0] * ext[1] * POINTS_PER_CELL / n)
            g = ext / side
        g = np.clip(np.ceil(g), 1, n).astype(np.int64)
        g[ext <= 0] = 1
        inv = np.where(ext > 0, g / np.where(ext > 0, ext, 1.0), 0.0)
        cells = [np.clip(np.floor((points[:, a] - lo[i]) * inv[i]), 0, g[i] - 1).astype(np.int64)
                 for i, a in enumerate((a0, a1))]
        cell = cells[1] * g[0] + cells[0]
        order = np.argsort(cell, kind="stable")
        self.order = order.astype(np.int64)
        self.position = np.empty(n, dtype=np.int64)  # each point's place in the grid's order
        self.position[self.order] = np.arange(n)
        self.sorted = np.ascontiguousarray(points[order].T)
        self.start = np.concatenate([[0], np.cumsum(np.bincount(cell, minlength=int(g[0] * g[1])))]).astype(
            np.int64)
        self.spec = _GridSpec(n, d, int(g[0]), int(g[1]), a0, a1, self.sorted.ctypes.data,
                              self.order.ctypes.data, self.start.ctypes.data, float(lo[0]), float(lo[1]),
                              float(ext[0] / g[0]), float(ext[1] / g[1]), float(inv[0]), float(inv[1]),
                              1e-9 * (float(np.abs(lo).max()) + float(ext.max())))
        self.address = ctypes.addressof(self.spec)


SHARED_POINTS = 65_536  # points kept by shared_points, all sets together (≈ 0.5 KB each with their queries)
_shared: OrderedDict[tuple, PointSet] = OrderedDict()
_shared_lock = threading.Lock()  # evaluation threads share the cache


def shared_points(points: Any, name: str) -> PointSet:
    """The PointSet of exactly these points, the same object for equal points (bytes and shape) across
    calls and threads while it stays among the :data:`SHARED_POINTS` most recently used points."""
    arr = as_points(points, name)
    key = (arr.shape, hashlib.blake2b(arr.tobytes(), digest_size=16).digest())
    with _shared_lock:
        found = _shared.get(key)
        if found is not None:
            _shared.move_to_end(key)
            return found
        made = _shared[key] = PointSet(arr, name)
        while sum(len(p) for p in _shared.values()) > SHARED_POINTS and len(_shared) > 1:
            _shared.popitem(last=False)
        return made


def clear_shared() -> None:
    """Forget every shared PointSet (benchmarks time a run whose x is new)."""
    with _shared_lock:
        _shared.clear()


def neighbours_without_self(points: Any, k: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Indices [n, k] of each point's k nearest other points (itself excluded even among exact
    duplicates, ties in the tree's order); with ``rows`` (indices), only those points' [len(rows), k].
    ``points``: a PointSet (the result for all points is remembered) or an array [n, d]."""
    ps = PointSet.of(points, "points")
    key = ("without_self", k)
    if key in ps.memo:
        return ps.memo[key] if rows is None else ps.memo[key][rows]
    rows_key = None if rows is None else ("without_self", k, np.asarray(rows).tobytes())
    if rows_key in ps.memo:
        return ps.memo[rows_key]
    if rows is None:
        idx, own = ps.knn(k + 1)[1], np.arange(len(ps))
    else:
        own = np.asarray(rows)
        idx = ps.query(ps.points[own], k + 1)[1]
    is_self = idx == own[:, None]
    is_self[~is_self.any(axis=1), -1] = True  # self not returned (duplicates): drop the farthest
    order = np.argsort(is_self, axis=1, kind="stable")
    near = np.take_along_axis(idx, order[:, :k], axis=1)
    ps.memo[key if rows is None else rows_key] = near
    return near
