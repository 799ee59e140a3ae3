"""The ELBO and the importance-weighted bound on log p(x) (Burda et al. 2016), per point, in nats.

The model is the VAE of :mod:`vaebench.losses`: prior p(z) = N(0, I_d), Gaussian decoder
p(x|z) = N(decode(z), σ²I_D) with σ² = ``recon_var``, and encoder q(z|x) = N(μ(x), diag exp(logvar(x))).
Unlike the training loss, every log-density here includes its constant, so the numbers are proper bounds
on log p(x) (densities of x in the data's units; they can be positive):

- ELBO = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)), the expectation estimated with the same k samples and the KL
  in closed form;
- IWAE_k = E[log (1/k) Σᵢ p(x, zᵢ)/q(zᵢ|x)], zᵢ ~ q(z|x): ELBO ≤ IWAE_k ≤ log p(x) in expectation,
  increasing towards log p(x) with k.

Both are means over the points given. A deterministic encoder (logvar = −inf: q is a point mass) has no
finite bound: both are NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vaebench.defaults import RECON_VAR
from vaebench.metrics._arrays import as_points, check_count, check_fraction, to_numpy

MAX_ROWS = 1 << 16  # k × points per chunk of importance samples (their draw order depends on it)
DECODE_ROWS = 1 << 13  # decoder rows per call: cache-sized, about 3× faster here than 65 536 at once


@dataclass(frozen=True)
class LikelihoodBounds:
    """Mean ELBO and IWAE_k per point (nats), from ``n`` points with ``k`` samples each."""

    elbo: float
    iwae: float
    k: int
    n: int


def _device(model: Any) -> torch.device:
    """Where the model's parameters live (the CPU for parameter-free models and bare callables)."""
    params = getattr(model, "parameters", None)
    first = next(iter(params()), None) if callable(params) else None
    return first.device if first is not None else torch.device("cpu")


def _call(fn: Any, arg: np.ndarray, device: torch.device) -> Any:
    with torch.no_grad():
        return fn(torch.from_numpy(arg).to(device=device, dtype=torch.float32))


def check_model(model: Any) -> None:
    """ValueError unless ``model`` has callable ``encode`` and ``decode`` methods."""
    for method in ("encode", "decode"):
        if not callable(getattr(model, method, None)):
            raise ValueError(f"model = {type(model).__name__} object: must have callable encode(x) and "
                             f"decode(z) methods (missing {method})")


def encode_points(model: Any, data: np.ndarray, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """``model.encode`` of the points ``data`` [n, D]: float64 ``mu`` and ``logvar`` [n, d] (−inf allowed
    in ``logvar``: a deterministic encoder), validated."""
    mu, logvar = (to_numpy(a, name) for a, name in zip(_call(model.encode, data, device),
                                                         ("mu", "logvar"), strict=True))
    return as_points(mu, "mu"), as_points(logvar, "logvar", allow_neg_inf=True)


def decode_rows(model: Any, z: np.ndarray, device: torch.device) -> np.ndarray:
    """``model.decode`` of the latent points ``z`` [m, d], :data:`DECODE_ROWS` rows a call: float64 [m, D]."""
    return np.concatenate([to_numpy(_call(model.decode, z[i:i + DECODE_ROWS], device), "decode(z)")
                           for i in range(0, len(z), DECODE_ROWS)])


def gaussian_log_likelihood(x: np.ndarray, recon: np.ndarray, recon_var: float) -> np.ndarray:
    """log N(x; recon, σ²I) with its constant, σ² = ``recon_var``, over the last axis (D data dimensions):
    ``x`` broadcast against ``recon`` [..., D] → [...] nats."""
    diff = x - recon
    # sums over the last (short) axis with einsum: NumPy's sum(axis=-1) is several times slower here
    return (-0.5 * x.shape[-1] * math.log(2 * math.pi * recon_var)
            - np.einsum("...d,...d->...", diff, diff) / (2 * recon_var))


def likelihood_bounds(model: Any, x: Any, *, k: int = 64, recon_var: float = RECON_VAR,
                      seed: int = 0) -> LikelihoodBounds:
    """ELBO and IWAE_k (Burda et al. 2016) of ``model`` on the points ``x`` [n, D], means per point, nats.

    ``model``: anything with ``encode(x) -> (mu, logvar)`` and ``decode(z) -> x̂`` taking and returning
    torch tensors (a vaebench model, any nn.Module with these methods, or
    ``types.SimpleNamespace(encode=f, decode=g)`` for bare callables); inputs are passed as float32
    tensors on the device of the model's parameters (the CPU if it has none).
    ``k`` ≥ 1 importance samples per point (IWAE_1 is a one-sample ELBO estimate), ``recon_var`` = σ² of
    the decoder, ``seed`` for the samples. NaN bounds for deterministic encoders.
    """
    k = check_count("k", k, 1)
    seed = check_count("seed", seed, 0)
    recon_var = check_fraction("recon_var", recon_var, high=np.inf)
    check_model(model)
    data = as_points(x, "x")
    n, dim_x = data.shape
    device = _device(model)
    mu, logvar = encode_points(model, data, device)
    if np.isneginf(logvar).any():
        return LikelihoodBounds(float("nan"), float("nan"), k, n)
    d = mu.shape[1]
    rng = np.random.default_rng(seed)
    std = np.exp(0.5 * logvar)
    kl = 0.5 * np.sum(mu * mu + np.exp(logvar) - 1.0 - logvar, axis=1)  # [n]
    chunk = max(1, MAX_ROWS // k)
    elbo, iwae = np.empty(n), np.empty(n)
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        eps = rng.standard_normal((k, sl.stop - sl.start, d))
        z = mu[sl] + std[sl] * eps  # [k, b, d]
        flat = z.reshape(-1, d)
        recon = decode_rows(model, flat, device).reshape(k, -1, dim_x)
        log_lik = gaussian_log_likelihood(data[sl], recon, recon_var)  # [k, b]
        # log p(z) − log q(z|x): the 2π constants cancel
        log_ratio = (-0.5 * np.einsum("kbd,kbd->kb", z, z)
                     + 0.5 * (np.einsum("kbd,kbd->kb", eps, eps) + np.sum(logvar[sl], axis=1)))
        log_w = log_lik + log_ratio
        top = log_w.max(axis=0)
        iwae[sl] = top + np.log(np.mean(np.exp(log_w - top), axis=0))
        elbo[sl] = log_lik.mean(axis=0) - kl[sl]
    return LikelihoodBounds(float(elbo.mean()), float(iwae.mean()), k, n)
