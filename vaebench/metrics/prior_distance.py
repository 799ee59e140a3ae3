"""Effect sizes: how far a latent sample is from the prior N(0, I), in closed form against the prior.

- :func:`moment_kl` — KL(N(m, S) ‖ N(0, I)) = ½(tr S + ‖m‖² − d − ln det S) of the Gaussian with the
  sample's mean m and maximum-likelihood covariance S: 0 for the prior, in nats; it sees only the first
  two moments.
- :func:`energy_distance` — the energy distance (Székely & Rizzo 2004, 2013)
  ℰ = 2E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖ between the sample X and Y ~ N(0, I), estimated with the unbiased
  U-statistic: E‖x − Y‖ and E‖Y − Y'‖ in closed form (below), E‖X − X'‖ as the mean over pairs i ≠ j.
  ℰ ≥ 0 with equality only for the prior itself (unlike the KL, it sees every moment); it has no kernel
  or bandwidth to choose and grows linearly with a shift of the mean. The estimate is ≈ 0 (and can be
  slightly negative) for a sample of the prior. O(n²) pairs in row blocks: memory O(block).

Closed forms: ‖x − Y‖ for Y ~ N(0, I_d) is non-central χ with d degrees of freedom and non-centrality
‖x‖, whose mean is √2·Γ((d+1)/2)/Γ(d/2)·₁F₁(−½; d/2; −‖x‖²/2); E‖Y − Y'‖ = 2·Γ((d+1)/2)/Γ(d/2).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from vaebench.metrics._arrays import as_points
from vaebench.metrics._pairwise import distance_pair_sum


def _chi_mean_factor(d: int) -> float:
    return float(np.exp(special.gammaln((d + 1) / 2.0) - special.gammaln(d / 2.0)))


def expected_distance_to_standard_normal(points: Any) -> np.ndarray:
    """E‖x − Y‖ for each row x of ``points`` [n, d], Y ~ N(0, I_d): the mean of a non-central χ
    distribution, ``sqrt(2)·Γ((d+1)/2)/Γ(d/2)·hyp1f1(−1/2, d/2, −‖x‖²/2)``. Returns float64 [n]."""
    x = as_points(points, "points")
    d = x.shape[1]
    r2 = np.sum(x * x, axis=1)
    return np.sqrt(2.0) * _chi_mean_factor(d) * special.hyp1f1(-0.5, d / 2.0, -r2 / 2.0)


def moment_kl(z: Any) -> float:
    """KL(N(m, S) ‖ N(0, I)) in nats for the sample mean m and maximum-likelihood covariance S of ``z``
    [n, d] (n ≥ 2). NaN when S is singular (a constant dimension: the KL is infinite)."""
    x = as_points(z, "z", min_n=2)
    d = x.shape[1]
    m = x.mean(axis=0)
    c = x - m
    cov = c.T @ c / len(x)
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0 or not np.isfinite(logdet):
        return float("nan")
    return float(0.5 * (np.trace(cov) + m @ m - d - logdet))


def energy_distance(z: Any) -> float:
    """Unbiased estimate of the energy distance ℰ(Z, N(0, I)) from the sample ``z`` [n, d], n ≥ 2.

    ``(2/n) Σᵢ E‖z_i − Y‖ − (1/(n(n−1))) Σ_{i≠j} ‖z_i − z_j‖ − E‖Y − Y'‖`` with the closed forms of the
    module docstring. This is ℰ itself (a squared-distance-like quantity; √ℰ is a metric), not scipy's
    ``energy_distance``, which returns √ℰ between two empirical samples.
    """
    x = as_points(z, "z", min_n=2)
    n, d = x.shape
    cross = float(np.mean(expected_distance_to_standard_normal(x)))
    within = distance_pair_sum(x) / (n * (n - 1))
    prior = 2.0 * _chi_mean_factor(d)
    return 2.0 * cross - within - prior
