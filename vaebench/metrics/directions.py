"""How many input directions a latent sample still determines: the seed report's "bands over one
dimension of the latent: the information about 2-D location gets lost", as a per-run number and event.

x is predicted from z ~ q(z|x) by leave-one-out k-nearest-neighbour regression in the latent (k = 10;
a distribution-free regression estimate, Györfi et al. 2002, "A Distribution-Free Theory of
Nonparametric Regression", ch. 6). With Σ = Cov(x) and R = Cov(x − x̂), the eigenvalues e of
Σ^{-1/2} R Σ^{-1/2} are the shares of variance z leaves unexplained along the input's principal
directions (whitened).

**Noise floor.** Where z says nothing about x, x̂ is the mean of k points independent of x, so
E‖x − x̂‖² carries the factor 1 + 1/k (the estimate's own variance): e = 1 + 1/k, not 1. The shares are
corrected for it, explained = 1 − e/(1 + 1/k): 0 for an uninformative latent, ≈ 1 for a latent that
determines x (a local neighbourhood in z maps to a small neighbourhood in x). A direction is **kept**
when its corrected explained share is at least 0.2; a run *loses a direction* (an event, one per seed)
when it keeps fewer directions than the input has. Why 0.2: with a Gaussian decoder the posterior noise
caps the share an active direction can reach. In the linear β-VAE (FACTS) an active direction of
variance ξ² explains 1 − βσ²/ξ² of it: 0.94 at β = 0.01 but 0.4 at β = 0.1 (σ² = 0.5, ξ² = 1/12), so a
threshold of 0.5 would call every β = 0.1 latent empty. 0.2 is half the β = 0.1 value and ten times the
noise floor's spread (≈ ±0.02 at n = 2 000).

The samples z, not the means μ(x): structure in μ far below the posterior noise σ is not information
the decoder can use (for deterministic encoders z = μ). k-NN distances are invariant to rotations,
reflections and scale of the latent. NaN for n ≤ k or a singular Σ; non-finite input is a ValueError.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vaebench.metrics._arrays import as_points, check_count
from vaebench.metrics._neighbours import PointSet, neighbours_without_self

KEPT_AT = 0.2
K_NEIGHBOURS = 10
DIRECTION_KEYS = ("z_explained_major", "z_explained_minor", "z_directions_kept")


def explained_shares(x: Any, z: Any, k: int = K_NEIGHBOURS) -> np.ndarray:
    """The noise-floor-corrected shares of each whitened input direction of ``x`` [n, p] that ``z``
    [n, d] explains, largest first (module docstring): float64 [p]; NaN where undefined. ``z`` may be a
    PointSet (its k-NN query is then shared with other metrics)."""
    x = as_points(x, "x", min_n=2)
    zs = PointSet.of(z, "z", min_n=2)
    if len(x) != len(zs):
        raise ValueError(f"z = array of {len(zs)} points: must have as many as x ({len(x)})")
    k = check_count("k", k, 1)
    nan = np.full(x.shape[1], math.nan)
    if k >= len(x):
        return nan
    # leave one out: the k nearest other points (the point itself dropped by index, even among ties)
    resid = x - x[neighbours_without_self(zs, k)].mean(1)
    w, v = np.linalg.eigh(np.atleast_2d(np.cov(x.T, bias=True)))
    if w.min() <= w.max() * 1e-12:
        return nan
    whiten = (v / np.sqrt(w)) @ v.T
    unexplained = np.linalg.eigvalsh(whiten @ np.atleast_2d(np.cov(resid.T, bias=True)) @ whiten)
    return 1.0 - unexplained / (1.0 + 1.0 / k)


def input_directions(x: Any, z: Any, k: int = K_NEIGHBOURS) -> dict[str, float]:
    """:data:`DIRECTION_KEYS`: the best and the worst explained share and the number of directions kept
    (share ≥ :data:`KEPT_AT`) of the input ``x`` [n, p] by the latent sample ``z`` [n, d]."""
    share = explained_shares(x, z, k)
    if not np.isfinite(share).all():
        return dict.fromkeys(DIRECTION_KEYS, math.nan)
    return {"z_explained_major": float(share.max()), "z_explained_minor": float(share.min()),
            "z_directions_kept": float(np.sum(share >= KEPT_AT))}
