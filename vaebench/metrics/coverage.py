"""Density and coverage of a fake sample against a real one (Naeem et al. 2020), from k-NN balls.

Around every real point x_i put the ball of radius r_i, the distance to its k-th nearest *other* real
point. Then

- coverage = (1/N) Σᵢ 1[some fake point lies strictly inside ball i]: the share of the real distribution
  the fakes reach (for two independent samples of one distribution its expectation is
  1 − Πᵢ₌₁ᵏ (N − i)/(M + N − i), ≈ 0.969 for k = 5, N = M = 2 000);
- density = (1/(kM)) Σⱼ Σᵢ 1[‖y_j − x_i‖ < r_i]: how many real balls a fake point falls into, in units of
  the k expected (1 in expectation for two samples of one distribution, more where fakes crowd).

N real points, M fake ones, as the ``prdc`` package defines them (without its O(N·M) distance matrix):
the radii from the real points' k-NN query, then one count per real point of the fakes strictly inside
its ball (:meth:`~vaebench.metrics._neighbours.PointSet.count_within`: the CPU kernel's grid, or a
KD-tree), which gives both measures. Time about (N + M)·k.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vaebench.metrics._arrays import check_count
from vaebench.metrics._neighbours import PointSet


def _checked(real: Any, fake: Any, k: Any) -> tuple[PointSet, PointSet, int]:
    k = check_count("k", k, 1)
    x = PointSet.of(real, "real")
    y = PointSet.of(fake, "fake", dim=x.points.shape[1])
    if len(x) <= k:
        raise ValueError(f"k = {k}: must be smaller than the number of real points ({len(x)}), "
                         f"since each real point needs k other real neighbours")
    return x, y, k


def knn_radii(real: Any, k: int) -> np.ndarray:
    """Distance from each real point [N, D] (an array or a PointSet) to its k-th nearest other real
    point: float64 [N]."""
    return PointSet.of(real, "real").knn(k + 1)[0][:, k]


def coverage_and_density(real: Any, fake: Any, k: int = 5) -> tuple[np.ndarray, float]:
    """Both of Naeem et al.'s measures from one set of k-NN balls: the boolean [N] "ball i strictly
    contains a fake point" (its mean is the coverage) and the density. ``real`` and ``fake`` may be
    PointSets (their trees and k-NN queries are then shared with other metrics)."""
    x, y, k = _checked(real, fake, k)
    radii = knn_radii(x, k)
    counts = y.count_within(x.points, radii)
    return counts > 0, float(np.sum(counts) / (k * len(y)))


def coverage(real: Any, fake: Any, k: int = 5) -> float:
    """Coverage of ``real`` [N, D] by ``fake`` [M, D] with k-NN balls (Naeem et al. 2020, eq. 4), in [0, 1].
    Needs N > k. ValueError for bad arrays."""
    return float(np.mean(coverage_and_density(real, fake, k)[0]))


def density(real: Any, fake: Any, k: int = 5) -> float:
    """Density of ``fake`` [M, D] relative to ``real`` [N, D] with k-NN balls (Naeem et al. 2020, eq. 3),
    ≥ 0, 1 in expectation when both are samples of one distribution. Needs N > k."""
    return coverage_and_density(real, fake, k)[1]


def expected_coverage(n_real: int, n_fake: int, k: int = 5) -> float:
    """E[coverage] when real and fake are independent samples of one continuous distribution:
    1 − Πᵢ₌₁ᵏ (N − i)/(M + N − i) (Naeem et al. 2020, §4)."""
    i = np.arange(1, k + 1)
    return float(1.0 - np.prod((n_real - i) / (n_fake + n_real - i)))
