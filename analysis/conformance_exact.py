"""Conformance checks of exact inference (:mod:`vaebench.metrics.exact`) on linear-Gaussian VAEs, whose
answers are known (:class:`vaebench.closed_forms.LinearGaussianVAE`): one tidy row per check, with the
reference, the measured value and its interval, and the band the interval must lie inside.

- log p(x) = log N(x; b, WWᵀ + σ²I) and, with q(z|x) set to the Gaussian posterior, ELBO = log p(x)
  (posterior gap 0), d = 1 and 2, to 10⁻⁴ nats; the interval is ± the quadrature error estimate;
- ELBO surgery (Hoffman & Johnson 2016): KL(q(z) ‖ p) from the quadrature against an independent Monte
  Carlo estimate (samples of the mixture q(z), its density by logsumexp), ± 0.01 nats;
- the collapsed linear VAE (β > β_c: W = 0, q(z|x) = N(0, I)): marginal KL and I(x; z) are 0, ± 10⁻⁶;
- IWAE_k (Burda et al. 2016) for k = 1, 8, 64, 1 024 over seeds: below log p(x) (its interval inside
  (−∞, log p(x) + 0.005]) and rising with k (consecutive intervals disjoint and increasing).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from analysis.conformance_table import judge
from vaebench.closed_forms import (
    LinearGaussianVAE,
    linear_decoder_log_px,
    linear_decoder_posterior,
    orthogonal_decoder,
)
from vaebench.defaults import RECON_VAR
from vaebench.statistics import t_interval

B = np.array([0.5, 0.5])

IWAE_KS = (1, 8, 64, 1024)
TOL = 1e-5  # the quadrature's own tolerance: its error estimate must fit inside the 1e-4 band
SURGERY_N = 200  # mixture components of the ELBO-surgery check: the Monte Carlo costs draws × this


def _row(check: str, reference: float, value: float, lo: float, hi: float, band_lo: float, band_hi: float,
         band: str, n: int) -> dict:
    verdict = judge(lo, hi, band_lo, band_hi)
    return {"check": check, "reference": reference, "value": value, "lo": lo, "hi": hi, "band": band,
            "band_lo": band_lo, "band_hi": band_hi, "n": n, "agrees": verdict == "equivalent",
            "verdict": verdict}


def _quadrature_row(check: str, reference: float, value: float, error: float, tol: float, n: int) -> dict:
    return _row(check, reference, value, value - error, value + error, reference - tol, reference + tol,
                f"±{tol:g}", n)


def exact_checks(n: int = 1000, iwae_seeds: int = 5, mc_draws: int = 1_000_000, seed: int = 0
                 ) -> pd.DataFrame:
    """Every check above on ``n`` U[0, 1]² points; ``iwae_seeds`` seeds per IWAE_k, ``mc_draws`` samples
    for the Monte Carlo KL. Columns: check, reference, value, lo, hi, band, band_lo, band_hi, n, agrees,
    verdict."""
    from vaebench.metrics import likelihood_bounds
    from vaebench.metrics.exact import exact_inference

    rng = np.random.default_rng(seed)
    x = rng.random((n, 2)).astype(np.float32).astype(np.float64)
    rows = []
    for d in (1, 2):
        w = orthogonal_decoder(d)
        truth = float(np.mean(linear_decoder_log_px(w, B, RECON_VAR, x)))
        out = exact_inference(LinearGaussianVAE.true_posterior(w, B, RECON_VAR), x, RECON_VAR, tol=TOL)
        err = out["quadrature_error"]
        rows.append(_quadrature_row(f"d = {d}: log p(x) = log N(x; b, WWᵀ + σ²I)", truth, out["log_px"], err,
                                    1e-4, n))
        rows.append(_quadrature_row(f"d = {d}: posterior gap with q(z|x) = p(z|x) (Gaussian posterior)", 0.0,
                                    out["posterior_gap"], err, 1e-4, n))
        collapsed = exact_inference(LinearGaussianVAE.collapsed(B, d), x, RECON_VAR, tol=TOL)
        for key, name in (("marginal_kl", "KL(q(z) ‖ p)"), ("mutual_information", "I(x; z)")):
            rows.append(_quadrature_row(f"d = {d}, collapsed linear VAE: {name}", 0.0, collapsed[key],
                                        collapsed["marginal_kl_error"], 1e-6, n))
        rows.append(_surgery_row(d, x[:SURGERY_N], mc_draws, seed))
    rows += _iwae_rows(x, iwae_seeds, likelihood_bounds, exact_inference)
    return pd.DataFrame(rows)


def _surgery_row(d: int, x: np.ndarray, draws: int, seed: int) -> dict:
    """KL(q(z) ‖ p) = E KL − I(x; z): the quadrature's value (the reference) against Monte Carlo."""
    import torch

    from vaebench.metrics.exact import exact_inference

    rng = np.random.default_rng(seed + d)
    vae = LinearGaussianVAE(orthogonal_decoder(d), B, rng.normal(0, 2.5, (d, 2)), np.zeros(d),
                            np.log([0.02, 0.1][:d]))
    out = exact_inference(vae, x, RECON_VAR)
    mu, logvar = (t.double().numpy() for t in vae.encode(torch.from_numpy(x.astype(np.float32))))
    std = np.exp(0.5 * logvar)
    terms = []
    for start in range(0, draws, 20_000):  # blocks: the n × block matrix of log q(z|x_i)
        m = min(20_000, draws - start)
        comp = rng.integers(len(mu), size=m)
        z = mu[comp] + std[comp] * rng.standard_normal((m, d))
        u = (z[:, None, :] - mu[None]) / std[None]
        log_q = logsumexp(-0.5 * np.einsum("mnd,mnd->mn", u, u) - np.log(std).sum(-1), axis=1)
        # log q(z) − log p(z): the (2π)^(−d/2) of both cancel
        terms.append(log_q - math.log(len(mu)) + 0.5 * np.einsum("md,md->m", z, z))
    t = np.concatenate(terms)
    half = 1.96 * t.std(ddof=1) / math.sqrt(len(t))
    ref = out["marginal_kl"]
    return _row(f"d = {d}: ELBO surgery, KL(q(z) ‖ p) = E KL − I(x; z) by quadrature vs Monte Carlo "
                f"({draws} draws)", ref, float(t.mean()), float(t.mean() - half), float(t.mean() + half),
                ref - 0.01, ref + 0.01, "±0.01", len(x))


def _iwae_rows(x: np.ndarray, seeds: int, likelihood_bounds, exact_inference) -> list[dict]:
    """IWAE_k over seeds on a linear VAE whose q has the posterior's mean and a quarter of its variance."""
    d = 2
    w = orthogonal_decoder(d, scales=(0.4, 0.25))
    s, k_mat = linear_decoder_posterior(w, RECON_VAR)
    vae = LinearGaussianVAE(w, B, k_mat, np.zeros(d), np.log(np.diag(s) / 4))
    exact = exact_inference(vae, x, RECON_VAR)["log_px"]
    rows, intervals = [], []
    for k in IWAE_KS:
        v = np.array([likelihood_bounds(vae, x, k=k, recon_var=RECON_VAR, seed=s).iwae for s in range(seeds)])
        ci = t_interval(v)
        lo, hi = ci.lo, ci.hi
        intervals.append((lo, hi))
        rows.append(_row(f"IWAE_{k} ≤ exact log p(x) (linear VAE, q narrower than the posterior)", exact,
                         ci.mean, lo, hi, -math.inf, exact + 0.005, "≤ +0.005", seeds))
    rising = all(a[1] < b[0] for a, b in zip(intervals, intervals[1:], strict=False))
    gap = exact - rows[-1]["value"]
    rows.append({"check": f"IWAE_k rises with k = {', '.join(map(str, IWAE_KS))} towards log p(x)",
                 "reference": exact, "value": rows[-1]["value"], "lo": intervals[-1][0],
                 "hi": intervals[-1][1], "band": "intervals increasing, disjoint", "band_lo": math.nan,
                 "band_hi": math.nan, "n": seeds, "agrees": bool(rising and gap > 0),
                 "verdict": "equivalent" if rising and gap > 0 else "differs"})
    return rows
