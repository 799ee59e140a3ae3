"""The latent-Gaussianity suite: every normality test, two effect sizes, and a Holm-corrected verdict.

Apply it to the aggregate posterior, once on the encoder means μ(x) and once on samples z ~ q(z|x); the
metrics suite prefixes the keys with ``mu_`` and ``z_`` accordingly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vaebench.metrics._arrays import (
    as_points,
    check_count,
    check_fraction,
    constant_reason,
    singular_reason,
    subsample,
)
from vaebench.metrics.henze_zirkler import henze_zirkler
from vaebench.metrics.mardia import mardia
from vaebench.metrics.prior_distance import energy_distance, moment_kl
from vaebench.metrics.univariate import DAGOSTINO_MIN_N, SCALE_FREE, UNIVARIATE_TESTS, WORST_STATISTIC
from vaebench.seeding import derive_seed
from vaebench.statistics import holm  # noqa: F401  (part of this module's interface)

PAIRWISE_MAX_N = 2000  # points for the O(n²) statistics (Henze–Zirkler, energy distance) in the suite

GAUSSIANITY_KEYS: tuple[str, ...] = (
    "n", "n_tests", "singular", "rejected", "pvalue_holm",
    *[k for t in UNIVARIATE_TESTS for k in (f"{t}_statistic_{WORST_STATISTIC[t]}", f"{t}_pvalue_min")],
    "mardia_skew_statistic", "mardia_skew_pvalue", "mardia_kurt_statistic", "mardia_kurt_pvalue",
    "mardia_b1p", "mardia_b2p", "hz_statistic", "hz_pvalue", "hz_n",
    "moment_kl", "energy_distance", "energy_n",
)


def gaussianity(z: Any, alpha: float = 0.05, *, seed: int = 0,
                max_pairwise_n: int = PAIRWISE_MAX_N) -> dict[str, float]:
    """Run every normality test on the sample ``z`` [n, d] (n ≥ 20) and return named numbers.

    Tests (each p-value in the dict; statistics per dimension reduced to the least normal one):
    Shapiro–Wilk, D'Agostino–Pearson, Anderson–Darling and Kolmogorov–Smirnov against N(0, 1) on every
    dimension (:mod:`~vaebench.metrics.univariate`); for d ≥ 2, Mardia's skewness and kurtosis
    (Mardia 1970) and Henze–Zirkler (Henze & Zirkler 1990). ``rejected`` is 1.0 if normality is rejected
    at level ``alpha`` after Holm's correction over all the tests that ran (``n_tests`` of them;
    ``pvalue_holm`` is the smallest adjusted p-value), else 0.0.

    What is tested: KS compares each dimension with N(0, 1), the prior itself. The other tests are
    scale-free or affine-invariant: they test "Gaussian", not "equal to N(0, I)" — a latent N(3, 0.1²)
    passes them. Effect sizes, which do measure the distance to the prior: ``moment_kl`` (KL of the
    moment-matched Gaussian to N(0, I), nats) and ``energy_distance`` (to N(0, I), no kernel or bandwidth)
    (:mod:`~vaebench.metrics.prior_distance`), plus ``mardia_b1p`` (0 under normality) and ``mardia_b2p``
    (d(d + 2) under normality).

    With large n, tiny deviations become significant: at n = 5 000 a latent that is Gaussian for every
    practical purpose is often rejected. A p-value says whether a deviation is detectable, not whether it
    matters; read it beside the effect sizes, which do not grow with n.

    Sample sizes: ``n`` is the number of points. Shapiro–Wilk uses at most 5 000 of them (a seeded
    subsample), Henze–Zirkler and the energy distance, O(n²), at most ``max_pairwise_n`` (default 2 000;
    ``hz_n`` and ``energy_n`` say how many) drawn with ``seed``; the others use all n.

    Degenerate samples give NaN with a stated reason rather than an error: a numerically constant
    dimension has no Shapiro, D'Agostino or Anderson p-value (scale-free tests are undefined; KS still
    runs, and rejects it), and a singular covariance (``singular`` = 1.0; e.g. the encoder means of a
    collapsed model) leaves Mardia, Henze–Zirkler and ``moment_kl`` NaN. For d = 1 the multivariate
    tests are NaN (they would repeat the univariate ones).
    """
    alpha = check_fraction("alpha", alpha)
    seed = check_count("seed", seed, 0)
    max_pairwise_n = check_count("max_pairwise_n", max_pairwise_n, 10)
    x = as_points(z, "z", min_n=DAGOSTINO_MIN_N)
    n, d = x.shape
    out = dict.fromkeys(GAUSSIANITY_KEYS, float("nan"))
    out["n"] = float(n)
    pvalues: list[float] = []

    for name, test in UNIVARIATE_TESTS.items():
        stats_, ps = [], []
        for j in range(d):
            col = x[:, j]
            if name in SCALE_FREE and constant_reason(col):
                continue
            res = test(col, derive_seed(seed, 0))
            stats_.append(res.statistic)
            ps.append(res.pvalue)
        if ps:
            reduce = np.min if WORST_STATISTIC[name] == "min" else np.max
            out[f"{name}_statistic_{WORST_STATISTIC[name]}"] = float(reduce(stats_))
            out[f"{name}_pvalue_min"] = float(np.min(ps))
            pvalues.extend(ps)

    singular = singular_reason(x) is not None
    out["singular"] = float(singular)
    pair_x = subsample(x, max_pairwise_n, derive_seed(seed, 1))
    if d >= 2 and not singular:
        mar = mardia(x)
        out.update(mardia_skew_statistic=mar.skewness.statistic, mardia_skew_pvalue=mar.skewness.pvalue,
                   mardia_kurt_statistic=mar.kurtosis.statistic, mardia_kurt_pvalue=mar.kurtosis.pvalue,
                   mardia_b1p=mar.b1p, mardia_b2p=mar.b2p)
        pvalues.extend([mar.skewness.pvalue, mar.kurtosis.pvalue])
        if singular_reason(pair_x) is None:
            hz = henze_zirkler(pair_x)
            out.update(hz_statistic=hz.statistic, hz_pvalue=hz.pvalue, hz_n=float(hz.n))
            pvalues.append(hz.pvalue)
    if not singular:
        out["moment_kl"] = moment_kl(x)
    out["energy_distance"] = energy_distance(pair_x)
    out["energy_n"] = float(len(pair_x))

    adjusted = holm(pvalues)
    out["n_tests"] = float(len(pvalues))
    out["pvalue_holm"] = float(adjusted.min())
    out["rejected"] = float(adjusted.min() <= alpha)
    return out
