"""Posterior collapse, visible: active units and the KL of q(z|x) to the prior per latent dimension.

- Active units (Burda et al. 2016, §5.2): a latent dimension u is active when A_u = Cov_x(E_{q(z|x)}[z_u])
  = Var_x(μ_u(x)) > 0.01; a collapsed dimension has μ_u(x) ≈ constant and q(z_u|x) ≈ the prior.
- KL per dimension: mean over points of KL(N(μ_u, σ_u²) ‖ N(0, 1)) = ½(μ_u² + σ_u² − 1 − ln σ_u²), nats;
  ≈ 0 for a collapsed dimension. Summed over u it is the KL term of the ELBO (the rate).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vaebench.metrics._arrays import as_points, check_fraction

ACTIVE_THRESHOLD = 0.01


def active_units(mu: Any, threshold: float = ACTIVE_THRESHOLD) -> int:
    """Number of latent dimensions whose encoder mean varies over the inputs: Var_x(μ_u) > ``threshold``
    (Burda et al. 2016 use 0.01). ``mu`` [n, d] encoder means, n ≥ 2."""
    threshold = check_fraction("threshold", threshold, open_low=False, high=np.inf)
    m = as_points(mu, "mu", min_n=2)
    return int(np.sum(np.var(m, axis=0) > threshold))


def kl_per_dimension(mu: Any, logvar: Any) -> np.ndarray:
    """KL(q(z_u|x) ‖ N(0, 1)) averaged over the points, per latent dimension: float64 [d], nats.

    ``mu``, ``logvar`` [n, d] are the encoder's means and log-variances. ``logvar`` = −inf (a deterministic
    encoder, q a point mass) gives +inf: the KL of a point mass to a density is infinite.
    """
    m = as_points(mu, "mu")
    lv = as_points(logvar, "logvar", allow_neg_inf=True)
    if lv.shape != m.shape:
        raise ValueError(f"logvar = array of shape {lv.shape}: must match mu's shape {m.shape}")
    with np.errstate(invalid="ignore", over="ignore"):
        kl = 0.5 * (m * m + np.exp(lv) - 1.0 - lv)
    return kl.mean(axis=0)
