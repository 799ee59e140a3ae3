"""One KD-tree per point set, shared by every metric that needs neighbours of it.

A :class:`PointSet` holds validated float64 points [n, d], builds its ``scipy.spatial.cKDTree`` once and
remembers its k-nearest-neighbour queries, so the suite's coverage radii, label k-NN and trustworthiness
query each point set once. The metric functions accept a PointSet wherever they accept an array, and
treat any other array-like as a fresh one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from vaebench.metrics._arrays import as_points


class PointSet:
    """Points [n, d] (float64, finite) with a lazily built KD-tree and remembered k-NN queries."""

    def __init__(self, points: Any, name: str = "points"):
        self.points = as_points(points, name)
        self.name = name
        self._tree: cKDTree | None = None
        self._knn: tuple[int, np.ndarray, np.ndarray] | None = None
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
        if self._tree is None:
            self._tree = cKDTree(self.points)
        return self._tree

    def knn(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices [n, k] of every point's k nearest points (itself included, usually
        first), as ``cKDTree.query(points, k)``; a query for a larger k is kept and sliced."""
        if self._knn is None or self._knn[0] < k:
            dist, idx = self.tree.query(self.points, k=k)
            self._knn = (k, dist.reshape(len(self), k), idx.reshape(len(self), k))
        return self._knn[1][:, :k], self._knn[2][:, :k]


def neighbours_without_self(points: Any, k: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Indices [n, k] of each point's k nearest other points (itself excluded even among exact
    duplicates, ties in the tree's order); with ``rows`` (indices), only those points' [len(rows), k].
    ``points``: a PointSet (the result for all points is remembered) or an array [n, d]."""
    ps = PointSet.of(points, "points")
    key = ("without_self", k)
    if key in ps.memo:
        return ps.memo[key] if rows is None else ps.memo[key][rows]
    if rows is None:
        idx, own = ps.knn(k + 1)[1], np.arange(len(ps))
    else:
        own = np.asarray(rows)
        idx = ps.tree.query(ps.points[own], k=k + 1)[1].reshape(len(own), k + 1)
    is_self = idx == own[:, None]
    is_self[~is_self.any(axis=1), -1] = True  # self not returned (duplicates): drop the farthest
    order = np.argsort(is_self, axis=1, kind="stable")
    near = np.take_along_axis(idx, order[:, :k], axis=1)
    if rows is None:
        ps.memo[key] = near
    return near
