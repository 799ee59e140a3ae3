"""Exact inference for latents of dimension 1 or 2: log p(x), the ELBO, the posterior gap and the aggregate
posterior, by quadrature, in nats.

The model is that of :mod:`vaebench.metrics.likelihood`: prior p(z) = N(0, I_d), decoder
p(x|z) = N(decode(z), σ²I_D) with σ² = ``recon_var``, encoder q(z|x) = N(μ(x), diag exp(logvar(x))).
With d ≤ 2 every integral over z can be computed to a stated accuracy instead of bounded or sampled. For
the n points x_i given, :func:`exact_inference` returns means over the points of

- ``log_px`` = log p(x) = log ∫ p(x|z) p(z) dz;
- ``elbo`` = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)) (the KL in closed form, the expectation by quadrature);
- ``posterior_gap`` = log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)): the approximation gap of Cremer, Li &
  Duvenaud (2018) with the encoder as given (approximation and amortisation gaps together);
- ``kl`` = E KL(q(z|x) ‖ p(z)), the rate;
- ``marginal_kl`` = KL(q(z) ‖ N(0, I)) of the aggregate posterior q(z) = (1/n) Σᵢ q(z|xᵢ) of the points
  given (an empirical mixture: the mutual information below is at most ln n, so ``exact_n`` = n is stored
  beside it);
- ``mutual_information`` = E KL(q(z|x) ‖ p(z)) − KL(q(z) ‖ p(z)) = I_q(x; z) ("ELBO surgery", Hoffman &
  Johnson 2016), with x uniform over the points given.

ELBO ≤ log p(x) and IWAE_k (Burda et al. 2016, :func:`vaebench.metrics.likelihood_bounds`) lies between
them, rising to log p(x) as k grows; these numbers are what IWAE estimates.

**How** (each integral where its integrand lives):

- log p(x): one grid over the ball ‖z‖ ≤ L (L = :data:`PRIOR_HALF_WIDTH`) decoded once for all points,
  log p(x_i) = log Σ_g p(x_i|z_g) p(z_g) ΔA (a trapezoid sum; the integrand vanishes at the box's edges),
  a Gaussian mixture in data space evaluated by the CPU kernel. The grid is refined (nested: only new
  nodes are decoded) until two successive grids agree to ``tol``. Error estimate: the mean over points of
  their difference, plus the bound (2πσ²)^(−D/2)·P(‖z‖ > L)/p(x) on the mass outside the ball.
- E_q[log p(x|z)] and the entropy H(q) of the aggregate posterior (KL(q(z) ‖ p) = −H(q) − E_q log p(z),
  the second term in closed form): one grid over the encoders' own box (every component ±
  :data:`ENTROPY_HALF_WIDTH` σ), its spacing at first the narrowest σ over :data:`NODES_PER_SIGMA`.
  q(z|x) is a diagonal Gaussian, so q(z_g|x_i) = A_i(g₁)·B_i(g₂) and both integrals are matrix products:
  E_q[x̂] and E_q[‖x̂‖²] per point (self-normalised trapezoid sums, expanded in ‖x − x̂‖²), and
  q(z_g) = (1/n)·(AᵀB)_g. A narrow q(z|x) thus makes the grid finer; its spacing is halved until each
  integral agrees with the grid of twice the spacing (every other node) to ``tol``. Error estimates:
  that difference (mean over points); infinite while the trapezoid mass of some q(z|x) on the grid is
  more than :data:`MASS_TOL` from 1 (a q that falls between the nodes, where both grids can agree on
  a wrong answer). At most :data:`MAX_INTERVALS` intervals per dimension: an encoder narrower than that
  grid resolves gets a large or infinite error estimate, never a silent one.

``quadrature_error`` is the largest estimate among the numbers returned (the gap's is the sum of log
p(x)'s and the ELBO's). It is the error of these numbers for the points given, not the sampling error over
points. A deterministic encoder (logvar = −inf: q is a point mass) has an infinite KL: ``elbo``,
``posterior_gap``, ``kl``, ``marginal_kl`` and ``mutual_information`` are NaN and ``reason`` says why;
``log_px`` depends on the decoder alone and is still given. Collapsed latents (q(z|x) = p(z)) are ordinary
cases: their marginal KL and mutual information are 0 to quadrature error.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy import special

from vaebench.defaults import RECON_VAR
from vaebench.losses import gaussian_nll_constant
from vaebench.metrics._arrays import as_points, check_fraction
from vaebench.metrics._quadrature import coarse_mask, mixture_logsum, nodes_1d, tensor_grid
from vaebench.metrics.likelihood import (
    _device,
    check_model,
    decode_rows,
    encode_points,
)

PRIOR_HALF_WIDTH = 5.5  # P(‖z‖ > 5.5) = 2.7e-7 (d = 2), 3.8e-8 (d = 1) under N(0, I)
LOGPX_INTERVALS = (32, 64, 128, 256, 512, 1024)  # per dimension, each grid nested in the next
NODES_PER_SIGMA = 2.0  # the posterior grid's first spacing: the narrowest σ over this, then halved
ENTROPY_HALF_WIDTH = 8.0  # the posterior grid reaches this many σ beyond every component's mean
MAX_INTERVALS = 1024  # posterior grid intervals per dimension, at most
TOL = 2.5e-4  # each of the three integrals: their estimates together stay below 1e-3
MASS_TOL = 1e-3  # a q(z|x) whose grid mass is further from 1 is not resolved by the grid
DETERMINISTIC = "deterministic encoder (logvar = -inf): q(z|x) is a point mass, its KL to p(z) is infinite"


def exact_inference(model: Any, x: Any, recon_var: float = RECON_VAR, *, tol: float = TOL) -> dict[str, Any]:
    """Exact log p(x), ELBO, posterior gap, rate, aggregate-posterior KL and mutual information of ``model``
    on the points ``x`` [n, D] (means over the points, nats), for latent dimension 1 or 2.

    ``model``: ``encode(x) -> (mu, logvar)`` and ``decode(z) -> x̂`` on torch tensors, as for
    :func:`~vaebench.metrics.likelihood_bounds`; ``recon_var`` = σ² of the decoder; ``tol``: the error
    estimate at which a refinement stops (each of the three integrals, nats per point). Returns floats
    ``log_px``, ``elbo``, ``posterior_gap``, ``kl``, ``marginal_kl``, ``mutual_information``,
    ``quadrature_error``, ``exact_n``, the per-integral estimates ``log_px_error``, ``elbo_error``,
    ``marginal_kl_error``, the grid sizes used ``log_px_nodes``, ``posterior_nodes``, and
    ``reason`` (a string, empty unless some values are NaN). See the module docstring.
    """
    check_model(model)
    recon_var = check_fraction("recon_var", recon_var, high=np.inf)
    tol = check_fraction("tol", tol, high=np.inf)
    data = as_points(x, "x")
    device = _device(model)
    mu, logvar = encode_points(model, data, device)
    d = mu.shape[1]
    if d > 2 or logvar.shape != mu.shape or len(mu) != len(data):
        raise ValueError(f"encode(x) = mu {mu.shape}, logvar {logvar.shape}: exact inference needs latent "
                         f"dimension 1 or 2 and one (mu, logvar) per point of x {data.shape}")
    log_px, log_px_err, log_px_nodes = _log_px(model, data, d, recon_var, tol, device)
    out: dict[str, Any] = {"log_px": float(np.mean(log_px)), "log_px_error": log_px_err,
                           "log_px_nodes": float(log_px_nodes), "exact_n": float(len(data)), "reason": ""}
    if np.isneginf(logvar).any():
        nan = float("nan")
        out.update(dict.fromkeys(("elbo", "posterior_gap", "kl", "marginal_kl", "mutual_information",
                                  "elbo_error", "marginal_kl_error", "posterior_nodes"), nan))
        out.update({"quadrature_error": log_px_err, "reason": DETERMINISTIC})
        return out
    std = np.exp(0.5 * logvar)
    var = std * std
    kl = float(np.mean(0.5 * np.sum(mu * mu + var - 1.0 - logvar, axis=1)))
    exp_lik, lik_err, entropy, ent_err, nodes = _posterior_grid(model, data, mu, std, recon_var, tol, device)
    # E_q log p(z) under the mixture, in closed form: −(d/2) ln 2π − ½ E(‖μ‖² + Σσ²)
    cross = -0.5 * d * math.log(2 * math.pi) - 0.5 * float(np.mean(np.sum(mu * mu + var, axis=1)))
    marginal_kl = -entropy - cross
    elbo = exp_lik - kl
    out.update({"elbo": elbo, "posterior_gap": out["log_px"] - elbo, "kl": kl, "marginal_kl": marginal_kl,
                "mutual_information": kl - marginal_kl, "elbo_error": lik_err, "marginal_kl_error": ent_err,
                "posterior_nodes": float(nodes),
                "quadrature_error": max(log_px_err + lik_err, ent_err)})
    return out


def _log_px(model: Any, x: np.ndarray, d: int, recon_var: float, tol: float,
            device: Any) -> tuple[np.ndarray, float, int]:
    """log p(x_i) per point [n] by nested trapezoid grids over the prior's ball ‖z‖ ≤ L, its error estimate
    and the number of nodes used."""
    half = PRIOR_HALF_WIDTH
    scale = 1.0 / (2.0 * recon_var)
    const = -gaussian_nll_constant(x.shape[1], recon_var)
    fine = None  # log Σ over the current grid's nodes of p(z_g)·exp(−‖x − x̂_g‖²/(2σ²)), per point
    for m in LOGPX_INTERVALS:
        z = tensor_grid([nodes_1d(-half, half, m)] * d)
        inside = np.einsum("gd,gd->g", z, z) <= half * half  # the ball: the box's corners add no mass
        new = inside & (~coarse_mask(m, d) if fine is not None else True)
        zn = z[new]
        log_prior = -0.5 * np.einsum("gd,gd->g", zn, zn) - 0.5 * d * math.log(2 * math.pi)
        recon = decode_rows(model, zn, device)
        part = mixture_logsum(x, recon, log_prior, scale)
        if fine is None:  # the first grid: its own coarse subset
            first = coarse_mask(m, d)[inside]
            coarse = mixture_logsum(x, recon[first], log_prior[first], scale)
        else:
            coarse = fine
        fine = part if fine is None else np.logaddexp(fine, part)
        h = 2 * half / m
        # trapezoid weights h^d (the end nodes' half weights are immaterial: the integrand is ~0 there)
        est = fine + d * math.log(h)
        err = float(np.mean(np.abs(est - (coarse + d * math.log(2 * h)))))
        if err <= tol:
            break
    log_px = const + est
    # outside the ball p(x|z) ≤ (2πσ²)^(−D/2): the missing mass is at most that times P(‖z‖ > L)
    p_out = special.chdtrc(d, half * half)
    box = float(np.mean(np.exp(const + math.log(p_out) - log_px)))
    return log_px, err + box, int(inside.sum())


def _posterior_grid(model: Any, x: np.ndarray, mu: np.ndarray, std: np.ndarray, recon_var: float,
                    tol: float, device: Any) -> tuple[float, float, float, float, int]:
    """Mean E_{q(z|x)} log p(x|z) and the entropy H(q) of the aggregate posterior, both on one grid over
    the encoders' box, refined until each agrees with the grid of twice the spacing to ``tol``:
    (E log p(x|z), its error estimate, H(q), its error estimate, nodes)."""
    lo = np.min(mu - ENTROPY_HALF_WIDTH * std, axis=0)
    hi = np.max(mu + ENTROPY_HALF_WIDTH * std, axis=0)
    # as many intervals per dimension as the narrowest component needs (the same for each dimension, even)
    narrowest = float(np.min(std))
    need = float(np.max(hi - lo)) / narrowest
    m = int(min(MAX_INTERVALS, max(8, 2 * math.ceil(need * NODES_PER_SIGMA / 2))))
    while True:
        lik, lik_err, entropy, ent_err = _on_grid(model, x, mu, std, recon_var, lo, hi, m, device)
        if (lik_err <= tol and ent_err <= tol) or m >= MAX_INTERVALS:
            break
        m = min(2 * m, MAX_INTERVALS)
    return lik, lik_err, entropy, ent_err, (m + 1) ** mu.shape[1]


def _on_grid(model: Any, x: np.ndarray, mu: np.ndarray, std: np.ndarray, recon_var: float, lo: np.ndarray,
             hi: np.ndarray, m: int, device: Any) -> tuple[float, float, float, float]:
    n, d = mu.shape
    axes = [nodes_1d(lo[a], hi[a], m) for a in range(d)]
    steps = [(hi[a] - lo[a]) / m for a in range(d)]
    # q(z_g|x_i) = Π_a A_a[i, g_a]: one factor matrix [n, m + 1] per dimension
    factors = [_normal_pdf(axes[a][None, :], mu[:, a:a + 1], std[:, a:a + 1]) for a in range(d)]
    recon = decode_rows(model, tensor_grid(axes), device)  # [(m + 1)^d, D]
    channels = np.concatenate([recon, np.einsum("gc,gc->g", recon, recon)[:, None]], axis=1)
    channels = channels.reshape(*([m + 1] * d), -1)
    lik, ent = [], []
    for stride in (1, 2):  # the grid, then its coarse subset
        f = [a[:, ::stride] for a in factors]
        c = channels[(slice(None, None, stride),) * d]
        cell = float(np.prod(steps)) * stride ** d
        # self-normalised: Σ_g q(z_g|x_i) F(z_g) / Σ_g q(z_g|x_i)
        if d == 1:
            moments, mass = _matmul(f[0], c), f[0].sum(axis=1)
            q = f[0].mean(axis=0)
        else:
            # Σ_gh A[i, g] F[g, h, c] B[i, h]: one matrix product, then a sum over h per point
            inner = _matmul(f[0], c.reshape(c.shape[0], -1)).reshape(n, c.shape[1], -1)
            moments = np.einsum("ihc,ih->ic", inner, f[1])
            mass = f[0].sum(axis=1) * f[1].sum(axis=1)
            q = _matmul(f[0].T, f[1]) / n
        with np.errstate(invalid="ignore", divide="ignore"):  # mass 0: q(z|x) falls between the nodes
            moments = moments / mass[:, None]
        if stride == 1:  # every q(z|x) integrates to 1 on the grid (to MASS_TOL)
            resolved = bool(np.max(np.abs(mass * cell - 1.0)) <= MASS_TOL)
        sq_err = np.einsum("id,id->i", x, x) - 2 * np.einsum("id,id->i", x, moments[:, :-1]) + moments[:, -1]
        lik.append(-gaussian_nll_constant(x.shape[1], recon_var) - sq_err / (2 * recon_var))
        ent.append(_trapezoid_entropy(q, cell))
    # a q(z|x) whose trapezoid mass is not 1 falls (partly) between the nodes: no estimate, an infinite error
    lik_err = float(np.mean(np.abs(lik[0] - lik[1]))) if resolved else math.inf
    h_fine, h_coarse = ent
    ent_err = abs(h_fine - h_coarse) if resolved else math.inf
    return float(np.mean(lik[0])), lik_err, h_fine, ent_err


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b in float64 by torch, whose thread count the caller sets (NumPy's BLAS keeps its own threads:
    on a busy machine they spin against each other, 4× slower here)."""
    return torch.from_numpy(np.ascontiguousarray(a)).matmul(torch.from_numpy(np.ascontiguousarray(b))).numpy()


def _normal_pdf(z: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    u = (z - mean) / std
    return np.exp(-0.5 * u * u) / (std * math.sqrt(2 * math.pi))


def _trapezoid_entropy(q: np.ndarray, cell: float) -> float:
    """−Σ q ln q · ΔA over the grid values ``q`` (0 ln 0 = 0)."""
    return -float(np.sum(special.xlogy(q, q))) * cell
