"""Coverage near each edge of the data's support, one edge at a time: does the reconstruction still reach
values near 0 and near 1 of each coordinate?

Coverage as Naeem et al. (2020) define it (k-NN balls around the real points: a real point is covered
when a fake point lies strictly inside the ball through its k-th nearest other real point; see
:mod:`vaebench.metrics.coverage`), restricted to the real points in one edge band: for coordinate j,
"low" is x_j < lo_j + w·(hi_j − lo_j) and "high" is x_j > hi_j − w·(hi_j − lo_j), with [lo, hi] the
support box (:func:`vaebench.metrics.occupancy.support_box`, the real sample's range by default: ≈ [0, 1]
for the uniform square). ``edge_low`` / ``edge_high`` pool the low (high) bands of every coordinate: the
share of the real points near *some* coordinate's 0 (1) that the fakes reach. The seed report's "values
close to one or zero being absent" and "no values close to zero" as numbers, each edge separately.

The fakes are queried at the band points only (≈ 2·D·w·N of them); the radii come from the real sample's
k-NN query of all points, which the suite's coverage metrics share. NaN for a band without real points.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vaebench.metrics._arrays import check_count, check_fraction
from vaebench.metrics._neighbours import PointSet
from vaebench.metrics.occupancy import support_box


def edge_keys(dim: int) -> tuple[str, ...]:
    """The keys :func:`edge_coverage` returns for ``dim`` coordinates."""
    return ("edge_low", "edge_high", *(f"edge_x{j}_{side}" for j in range(dim) for side in ("low", "high")))


def edge_coverage(real: Any, fake: Any, *, width: float = 0.05, k: int = 5,
                  bounds: Any = None) -> dict[str, float]:
    """Coverage of ``real`` [N, D] by ``fake`` [M, D] within each edge band of width ``width`` (a fraction
    of the box side), per coordinate and side, and pooled per side (module docstring). Either may be a
    PointSet (its neighbour structures and k-NN query are then shared with other metrics)."""
    xs = PointSet.of(real, "real")
    x = xs.points
    ys = PointSet.of(fake, "fake", dim=x.shape[1])
    k = check_count("k", k, 1)
    width = check_fraction("width", width, high=0.5)
    if len(x) <= k:
        raise ValueError(f"k = {k}: must be smaller than the number of real points ({len(x)})")
    lo, hi = support_box(xs, bounds)
    low = x < lo + width * (hi - lo)  # [N, D]
    high = x > hi - width * (hi - lo)
    band = low.any(1) | high.any(1)
    idx = np.flatnonzero(band)
    covered = np.zeros(len(x), dtype=bool)
    if idx.size:
        radii = xs.knn(k + 1)[0][idx, k]  # the query of all points, shared with the coverage metrics
        covered[idx] = ys.count_within(x[idx], radii) > 0  # some fake strictly inside the ball

    def share(mask: np.ndarray) -> float:
        return float(covered[mask].mean()) if mask.any() else math.nan

    out = {"edge_low": share(low.any(1)), "edge_high": share(high.any(1))}
    for j in range(x.shape[1]):
        out[f"edge_x{j}_low"] = share(low[:, j])
        out[f"edge_x{j}_high"] = share(high[:, j])
    return out
