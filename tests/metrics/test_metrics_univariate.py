"""Per-dimension tests equal scipy's own functions; Anderson–Darling's p-value against scipy's table."""

import warnings

import numpy as np
import pytest
from scipy import stats

from vaebench.metrics import anderson_darling, dagostino_pearson, ks_standard_normal, shapiro_wilk
from vaebench.metrics.univariate import anderson_pvalue

SAMPLES = {
    "normal": lambda rng, n: rng.standard_normal(n),
    "shifted": lambda rng, n: 0.5 + 2.0 * rng.standard_normal(n),
    "uniform": lambda rng, n: rng.random(n),
    "exponential": lambda rng, n: rng.exponential(size=n),
}


@pytest.mark.parametrize("kind", SAMPLES)
@pytest.mark.parametrize("n", [30, 700])
def test_each_test_equals_scipys_own_function(kind, n):
    x = SAMPLES[kind](np.random.default_rng(n), n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # in particular: no FutureWarning from anderson
        sw, dp, ad, ks = shapiro_wilk(x), dagostino_pearson(x), anderson_darling(x), ks_standard_normal(x)
    ref_sw, ref_dp, ref_ks = stats.shapiro(x), stats.normaltest(x), stats.kstest(x, "norm")
    assert (sw.statistic, sw.pvalue) == (ref_sw.statistic, ref_sw.pvalue)
    assert dp.statistic == pytest.approx(ref_dp.statistic, rel=1e-12)
    assert dp.pvalue == pytest.approx(ref_dp.pvalue, rel=1e-9, abs=1e-300)
    assert ks.statistic == pytest.approx(ref_ks.statistic, rel=1e-13)
    assert ks.pvalue == pytest.approx(ref_ks.pvalue, rel=1e-12, abs=1.1e-4)
    assert ad.statistic == pytest.approx(stats.anderson(x, "norm", method="interpolate").statistic, rel=1e-12)
    assert sw.n == dp.n == ad.n == ks.n == n


def test_column_vector_is_accepted_and_tensors_too():
    import torch

    x = np.random.default_rng(0).standard_normal(100)
    assert shapiro_wilk(x[:, None]) == shapiro_wilk(x) == shapiro_wilk(torch.from_numpy(x))


def test_shapiro_above_5000_runs_on_the_documented_seeded_subsample():
    x = np.random.default_rng(1).standard_normal(12_000)
    res = shapiro_wilk(x, seed=7)
    idx = np.sort(np.random.default_rng(7).choice(12_000, 5000, replace=False))
    ref = stats.shapiro(x[idx])
    assert res.n == 5000
    assert (res.statistic, res.pvalue) == (ref.statistic, ref.pvalue)
    assert shapiro_wilk(x, seed=8).statistic != res.statistic


def test_anderson_pvalue_agrees_with_scipys_table_inside_its_range():
    # scipy interpolates between its tabulated levels (15 %, 10 %, 5 %, 2.5 %, 1 %); D'Agostino & Stephens'
    # formula is a smooth fit of the same null distribution: they agree to about a percentage point
    rng = np.random.default_rng(2)
    compared = 0
    for i in range(300):
        x = rng.standard_normal(200) + (i % 7) * 0.08 * rng.standard_t(3, 200)
        ref = stats.anderson(x, "norm", method="interpolate")
        if 0.011 < ref.pvalue < 0.149:
            compared += 1
            assert anderson_darling(x).pvalue == pytest.approx(ref.pvalue, abs=0.012)
    assert compared >= 20


def test_anderson_pvalue_is_monotone_and_spans_zero_to_one():
    a2 = np.linspace(0.01, 400, 20_000)
    p = np.array([anderson_pvalue(a, 500) for a in a2])
    assert p[0] > 0.99 and p[-1] < 1e-150
    # monotone except for the published formula's small jumps where its branches meet (≤ 0.003)
    assert np.all(np.diff(p) <= 3e-3)
    assert np.all((p >= 0) & (p <= 1))


def test_scale_free_tests_refuse_a_constant_sample_ks_rejects_it():
    x = np.full(50, 0.3)
    for test in (shapiro_wilk, dagostino_pearson, anderson_darling):
        with pytest.raises(ValueError, match="constant"):
            test(x)
    assert ks_standard_normal(x).pvalue < 1e-10


@pytest.mark.parametrize("n", [20, 37, 140, 141, 1000, 5000, 50_000])
def test_ks_pvalue_is_scipys_except_in_the_tail_for_large_n_within_1_1e_4(n):
    from vaebench.metrics.univariate import ks_pvalue

    root = np.sqrt(n)
    for d in np.linspace(0.3 / root, min(1.0, 7.0 / root), 150):
        exact = float(stats.kstwo.sf(d, n))
        if n <= 140 or n * d * d < 2.2:
            assert ks_pvalue(d, n) == exact, (n, d)
        else:
            assert ks_pvalue(d, n) == pytest.approx(exact, abs=1.1e-4), (n, d)
