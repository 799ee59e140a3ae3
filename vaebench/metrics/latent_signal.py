"""How much of each latent direction the input drives: the seed report's "bands over one dimension of the
latent" (one latent direction encodes the input, the other is noise) as two numbers per run.

With z = μ(x) + σ(x)·ε, the law of total variance splits Cov(z) = Cov_x(μ) + E_x[diag σ²]: the first
term is the part of z's variance explained by x (the "signal"), the second the posterior noise. Along a
latent direction u the explained share is uᵀ Cov(μ) u / uᵀ Cov(z) u; its extremes over u are the
generalised eigenvalues s₁ ≥ s₂ of (Cov(μ), Cov(z)), i.e. the eigenvalues of
Cov(z)^{-1/2} Cov(μ) Cov(z)^{-1/2}, in [0, 1] (the squared canonical correlations of z with μ(x); e.g.
Anderson 2003, "An Introduction to Multivariate Statistical Analysis", §12.2). They are invariant to any
invertible linear map of the latent (rotations, reflections, scale), so a tilted square scores as an
aligned one.

- ``latent_signal_major`` = s₁, ``latent_signal_minor`` = s₂ (for d = 1 both are the one share);
- ``latent_bands`` = 1 when s₁ ≥ :data:`ENCODES_AT` and s₂ < :data:`NOISE_BELOW` (one direction
  encodes the input, the other is noise: bands), else 0; NaN for d ≠ 2.

Closed form (FACTS, linear β-VAE, σ² decoder variance, ξ² data variance per direction): an active
direction has posterior variance βσ²/ξ² and Var(μ) = 1 − βσ²/ξ², so s = 1 − βσ²/ξ²: 0.94 at β = 0.01
and 0.4 at β = 0.1 (σ² = 0.5, ξ² = 1/12); a collapsed one has s = 0. Why 0.2 and 0.05: an active
direction at β = 0.1 reaches 0.4 (0.2 is half of it, as the input-directions metric's
:data:`~vaebench.metrics.directions.KEPT_AT`); a collapsed one has Var(μ) < 0.01 (inactive, Burda et al.
2016) against a posterior variance near 1, a share below 0.01, so 0.05 leaves room for sampling error.
NaN for a deterministic encoder (σ = 0: no noise to compare with) or a singular Cov(z).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vaebench.metrics._arrays import as_points

ENCODES_AT, NOISE_BELOW = 0.2, 0.05
SIGNAL_KEYS = ("latent_signal_major", "latent_signal_minor", "latent_bands")


def signal_shares(mu: Any, logvar: Any) -> np.ndarray:
    """The shares s₁ ≥ … ≥ s_d of z's variance explained by x along the latent's canonical directions
    (module docstring), from the encoder means ``mu`` and log-variances ``logvar`` [n, d]: float64 [d];
    NaN where undefined."""
    m = as_points(mu, "mu", min_n=2)
    lv = as_points(logvar, "logvar", allow_neg_inf=True)
    if lv.shape != m.shape:
        raise ValueError(f"logvar = array of shape {lv.shape}: must match mu's shape {m.shape}")
    signal = np.atleast_2d(np.cov(m.T, bias=True))
    noise = np.diag(np.exp(lv).mean(0))
    total = signal + noise
    w, v = np.linalg.eigh(total)
    if not np.all(np.isfinite(w)) or w.min() <= 1e-12 * max(w.max(), 1e-300) or noise.max() <= 0:
        return np.full(m.shape[1], math.nan)
    inv_sqrt = (v / np.sqrt(w)) @ v.T
    shares = np.linalg.eigvalsh(inv_sqrt @ signal @ inv_sqrt)[::-1]
    return np.clip(shares, 0.0, 1.0)


def latent_signal(mu: Any, logvar: Any) -> dict[str, float]:
    """:data:`SIGNAL_KEYS` for one run (module docstring)."""
    s = signal_shares(mu, logvar)
    if not np.isfinite(s).all():
        return dict.fromkeys(SIGNAL_KEYS, math.nan)
    bands = float(s[0] >= ENCODES_AT and s[-1] < NOISE_BELOW) if s.size == 2 else math.nan
    return {"latent_signal_major": float(s[0]), "latent_signal_minor": float(s[-1]), "latent_bands": bands}
