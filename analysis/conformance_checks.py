"""The conformance checks: each closed form of :mod:`vaebench.closed_forms` beside what vaebench measures on
the same problem, as tidy tables (one row per check). Pure functions of runs and seeds; no files read.

- :func:`linear_vae_check`: the trained linear VAE's error and rate at several β against the optimum;
- :func:`rate_distortion_check`: every run's (D, rate) against R(D) of U[0, 1]² and its two bounds;
- :func:`coverage_check`: the coverage of two samples of one distribution against its expectation;
- :func:`probit_rejections`: each Gaussianity test's rejection rate on the probit reference's latent,
  which is exactly N(0, I), over many seeds, with an exact binomial interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from vaebench.closed_forms import (
    BlahutArimotoPoint,
    expected_coverage,
    gaussian_upper_bound,
    linear_vae_optimum,
    shannon_lower_bound,
    uniform_square_rate,
)
from vaebench.statistics import t_interval

ALPHA = 0.05


def linear_vae_check(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (latent_dim, β) of linear-VAE runs (rows of :func:`vaebench.collapse.measure`): the closed
    form's error and KL beside the measured means over seeds with Student-t 95% intervals, and the
    relative deviation of the means (KL: absolute, in nats, where the closed form is 0)."""
    rows = []
    for (d, beta, recon_var), g in runs[runs["status"] == "ok"].groupby(["latent_dim", "beta", "recon_var"]):
        truth = linear_vae_optimum(beta, recon_var, latent_dim=int(d))
        row = {
            "latent_dim": int(d),
            "beta": float(beta),
            "n": len(g),
            "active_closed_form": truth["active"],
            "active_measured": float(g["active"].mean()),
        }
        for name, col in (("error", "error"), ("kl", "kl_total")):
            mean, lo, hi = _t_interval(g[col].to_numpy())
            row.update({f"{name}_closed_form": truth[name], name: mean, f"{name}_lo": lo, f"{name}_hi": hi})
        row["error_rel_dev"] = row["error"] / truth["error"] - 1
        row["kl_dev"] = row["kl"] / truth["kl"] - 1 if truth["kl"] > 0 else row["kl"]
        rows.append(row)
    return pd.DataFrame(rows)


def _t_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    iv = t_interval(values, confidence)
    return iv.mean, iv.lo, iv.hi


def rate_distortion_check(points: pd.DataFrame, curve: Sequence[BlahutArimotoPoint]) -> pd.DataFrame:
    """``points`` has ``distortion`` (D: mean total squared error of decode(z), z ~ q(z|x)) and ``rate``
    (E[KL], nats) per run. Adds the square's Shannon lower bound 2·SLB(D/2), the Gaussian upper bound
    2·½ ln(1/(12·D/2)), the exact R(D) (Blahut–Arimoto ``curve``), ``exact_rate_at_2se``: R at D plus two
    standard errors (``distortion_se``, optional) of the measured D, ``below_lower`` (rate < Shannon
    bound: impossible, E[KL] ≥ R(D) ≥ the bound) and ``below_gaussian`` (nats by which the rate is
    below the Gaussian bound: positive where a model beats every linear-Gaussian code)."""
    out = points.copy()
    d1 = out["distortion"].to_numpy() / 2
    out["shannon_bound"] = np.maximum(0.0, 2 * shannon_lower_bound(d1))
    out["gaussian_bound"] = 2 * gaussian_upper_bound(d1)
    out["exact_rate"] = uniform_square_rate(out["distortion"].to_numpy(), list(curve))
    # D is a mean over held-out points: a run is below R(D) only beyond two standard errors of its D
    se = out["distortion_se"].to_numpy() if "distortion_se" in out else np.zeros(len(out))
    out["exact_rate_at_2se"] = uniform_square_rate(out["distortion"].to_numpy() + 2 * se, list(curve))
    out["below_lower"] = out["rate"] < out["shannon_bound"]
    out["below_gaussian"] = out["gaussian_bound"] - out["rate"]
    return out


def coverage_check(
    cases: Sequence[tuple[int, int, int]] = ((2000, 2000, 5), (1000, 4000, 5), (2000, 2000, 3)),
    repeats: int = 100,
    seed: int = 0,
) -> pd.DataFrame:
    """Per (N real, M fake, k): the coverage (vaebench.metrics.coverage) of two independent U[0, 1]²
    samples over ``repeats`` draws, mean with a 95% interval, beside 1 − Πᵢ₌₁ᵏ (N−i)/(M+N−i)."""
    from vaebench.metrics import coverage

    rng = np.random.default_rng(seed)
    rows = []
    for n_real, n_fake, k in cases:
        sims = np.array(
            [coverage(rng.random((n_real, 2)), rng.random((n_fake, 2)), k) for _ in range(repeats)]
        )
        mean, lo, hi = _t_interval(sims)
        rows.append(
            {
                "n_real": n_real,
                "n_fake": n_fake,
                "k": k,
                "repeats": repeats,
                "closed_form": expected_coverage(n_real, n_fake, k),
                "coverage": mean,
                "coverage_lo": lo,
                "coverage_hi": hi,
            }
        )
    return pd.DataFrame(rows)


def probit_pvalues(n_seeds: int, n: int, first_seed: int = 10_000) -> pd.DataFrame:
    """The Gaussianity suite (vaebench.metrics.gaussianity) on the probit reference's latent z = Φ⁻¹(x) of
    ``n`` fresh U[0, 1]² points, for each of ``n_seeds`` seeds: one row of p-values (and ``rejected``) per
    seed."""
    import torch

    from vaebench.data import sample
    from vaebench.metrics import gaussianity
    from vaebench.variants.probit import ProbitVAE

    model, rows = ProbitVAE(), []
    for s in range(first_seed, first_seed + n_seeds):
        z = model.encode(torch.from_numpy(sample("uniform", n, s)))[0].numpy()
        g = gaussianity(z, alpha=ALPHA, seed=s)
        rows.append({k: v for k, v in g.items() if k.endswith(("_pvalue", "_pvalue_min")) or k == "rejected"})
    return pd.DataFrame(rows)


def probit_rejections(pvalues: pd.DataFrame, alpha: float = ALPHA, latent_dim: int = 2) -> pd.DataFrame:
    """Per test: rejections at ``alpha`` over seeds, the rate with its exact (Clopper–Pearson) 95%
    interval (scipy.stats.binomtest), and the rate the null predicts: α for a multivariate test's p-value;
    1 − (1 − α)^d for a per-dimension test's smallest p over the d independent dimensions; at most α for
    the Holm-corrected verdict ``rejected`` (family-wise error). ``consistent``: the simultaneous
    interval (Bonferroni over the m tests: confidence 1 − 0.05/m) contains the predicted rate (for the
    verdict: its lower end is at most α), so that m correct tests all pass with probability ≥ 95 %."""
    rows = []
    m = len(pvalues.columns)
    for col in pvalues.columns:
        rejected = pvalues[col].to_numpy() > 0.5 if col == "rejected" else pvalues[col].to_numpy() < alpha
        k, n = int(rejected.sum()), len(rejected)
        ci = stats.binomtest(k, n).proportion_ci(0.95)
        wide = stats.binomtest(k, n).proportion_ci(1 - 0.05 / m)
        expected = 1 - (1 - alpha) ** latent_dim if col.endswith("_pvalue_min") else alpha
        consistent = wide.low <= expected if col == "rejected" else wide.low <= expected <= wide.high
        rows.append({"test": col.removesuffix("_pvalue_min").removesuffix("_pvalue"),
                     "null_rate": ("≤ " if col == "rejected" else "") + f"{expected:.4f}", "rejections": k,
                     "seeds": n, "rate": k / n, "rate_lo": ci.low, "rate_hi": ci.high,
                     "simultaneous_lo": wide.low, "simultaneous_hi": wide.high,
                     "consistent": bool(consistent)})
    return pd.DataFrame(rows)
