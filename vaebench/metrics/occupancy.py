"""Where in the support the fakes (reconstructions or generated points) still arrive: grid cells, the band
along the edges and the corners of the support's bounding box.

The support box is ``bounds`` ([lo, hi] per coordinate) or, by default, the real sample's own minimum and
maximum per coordinate (≈ [0, 1]² for the uniform square). Widths are fractions of the box's side.

- :func:`grid_occupancy` — split the box into ``cells``ᴰ equal cells; the share of the cells the real
  sample occupies that the fakes also reach: |cells(fake) ∩ cells(real)| / |cells(real)|, in [0, 1].
  Relative to the input's own occupancy, so data sets that leave cells empty (a ring) still score 1 when
  reproduced; fakes outside the box or in cells without real points do not count.
- :func:`boundary_coverage` / :func:`corner_coverage` — coverage (Naeem et al. 2020, k-NN balls around
  the real points) restricted to the real points within ``width`` of an edge of the box (any coordinate)
  or of a corner (every coordinate). The seed report's "values close to 0 or 1 are absent" as a number:
  reconstructions pulled towards the middle leave the balls near the edges empty. NaN if no real point
  lies in the region.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vaebench.metrics._arrays import as_points, check_count, check_fraction
from vaebench.metrics._neighbours import PointSet
from vaebench.metrics.coverage import coverage_and_density

MAX_CELLS = 10_000_000


def support_box(real: Any, bounds: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi), each float64 [D]: ``bounds`` = [[lo...], [hi...]] (or [lo, hi] for every coordinate), or
    the real sample's per-coordinate min and max. ValueError if some side has zero or negative width.
    ``real``: an array [N, D] or a PointSet (its box is then computed once)."""
    if isinstance(real, PointSet):
        if bounds is None:
            if "support_box" not in real.memo:
                real.memo["support_box"] = support_box(real.points)
            return real.memo["support_box"]
        real = real.points
    dim = real.shape[1]
    if bounds is None:
        lo, hi = real.min(axis=0), real.max(axis=0)
    else:
        arr = np.asarray(bounds, dtype=np.float64)
        if arr.shape == (2,):
            arr = np.repeat(arr[:, None], dim, axis=1)
        if arr.shape != (2, dim) or not np.all(np.isfinite(arr)):
            raise ValueError(f"bounds = {bounds!r}: must be finite [lo, hi] or [[lo]*{dim}, [hi]*{dim}]")
        lo, hi = arr
    if np.any(hi <= lo):
        raise ValueError(f"bounds = (lo={lo}, hi={hi}): every side of the support box must have positive "
                         f"width (a real coordinate is constant; pass bounds explicitly)")
    return lo, hi


def grid_occupancy(real: Any, fake: Any, *, cells: int = 20, bounds: Any = None) -> float:
    """Share of the real sample's occupied grid cells that ``fake`` also occupies, in [0, 1].

    ``real`` [N, D] (or a PointSet: its box and cells are then computed once), ``fake`` [M, D]; the box
    (see :func:`support_box`) is cut into ``cells`` equal parts per coordinate (20 → 400 cells in 2-D,
    12.5 real points per cell at N = 5 000 uniform).
    """
    cells = check_count("cells", cells, 1)
    xs = PointSet.of(real, "real")
    x = xs.points
    y = as_points(fake, "fake", dim=x.shape[1])
    if cells ** x.shape[1] > MAX_CELLS:
        raise ValueError(f"cells = {cells}: {cells}^{x.shape[1]} cells exceed {MAX_CELLS:,}")
    lo, hi = support_box(xs, bounds)

    def occupied(p: np.ndarray) -> np.ndarray:
        inside = np.all((p >= lo) & (p <= hi), axis=1)
        idx = np.minimum(((p[inside] - lo) / (hi - lo) * cells).astype(np.int64), cells - 1)
        grid = np.zeros(cells ** x.shape[1], dtype=bool)
        grid[np.ravel_multi_index(idx.T, (cells,) * x.shape[1])] = True
        return grid

    if bounds is None:  # the real sample's own box: its cells are computed once per PointSet
        real_cells = xs.memo.get(("occupied", cells))
        if real_cells is None:
            real_cells = xs.memo[("occupied", cells)] = occupied(x)
    else:
        real_cells = occupied(x)
    return float(np.sum(real_cells & occupied(y)) / np.sum(real_cells))


def edge_band(points: np.ndarray, lo: np.ndarray, hi: np.ndarray, width: float) -> np.ndarray:
    """Boolean [n]: within ``width``·(hi − lo) of the box's edge in at least one coordinate."""
    margin = width * (hi - lo)
    return np.any((points - lo < margin) | (hi - points < margin), axis=1)


def corner_region(points: np.ndarray, lo: np.ndarray, hi: np.ndarray, width: float) -> np.ndarray:
    """Boolean [n]: within ``width``·(hi − lo) of the box's edge in every coordinate (near a corner)."""
    margin = width * (hi - lo)
    return np.all((points - lo < margin) | (hi - points < margin), axis=1)


def region_coverage(covered: np.ndarray, region: np.ndarray) -> float:
    """Mean of the per-real-point coverage indicator over the real points in ``region``; NaN if none."""
    return float(np.mean(covered[region])) if np.any(region) else float("nan")


def _region_coverage(real: Any, fake: Any, k: int, width: float, bounds: Any, region_fn) -> float:
    width = check_fraction("width", width, high=0.5)
    x = as_points(real, "real")
    covered, _ = coverage_and_density(x, fake, k)
    lo, hi = support_box(x, bounds)
    return region_coverage(covered, region_fn(x, lo, hi, width))


def boundary_coverage(real: Any, fake: Any, *, k: int = 5, width: float = 0.05, bounds: Any = None) -> float:
    """Coverage (Naeem et al. 2020) of the real points within ``width`` (fraction of the side; default 5 %)
    of the support box's edges by ``fake``. ≈ 0.97 for an independent sample of the same distribution,
    near 0 for fakes that avoid the edges. NaN if no real point lies in the band."""
    return _region_coverage(real, fake, k, width, bounds, edge_band)


def corner_coverage(real: Any, fake: Any, *, k: int = 5, width: float = 0.1, bounds: Any = None) -> float:
    """Coverage (Naeem et al. 2020) of the real points within ``width`` (default 10 %) of a corner of the
    support box, in every coordinate (4 % of the uniform square's points). NaN if there are none."""
    return _region_coverage(real, fake, k, width, bounds, corner_region)
