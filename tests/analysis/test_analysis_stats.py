"""Paired comparisons and Holm's correction against scipy's tests and worked examples."""

import math

import numpy as np
import pytest
from scipy import stats

from analysis.stats import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    adjust,
    combine,
    compare,
    holm,
)

A = np.array([0.91, 0.88, 0.95, 0.90])
B = np.array([0.40, 0.52, 0.47, 0.45])


def _cmp(a, b, claim, margin=0.05):
    return compare(a, b, metric="m", a_label="a", b_label="b", claim=claim, margin=margin)


def test_greater_equals_scipy_paired_ttest():
    c = _cmp(A, B, "greater")
    ref = stats.ttest_rel(A, B, alternative="greater")
    assert c.t == pytest.approx(ref.statistic) and c.pvalue == pytest.approx(ref.pvalue)
    assert c.diff.n == 4 and c.diff.mean == pytest.approx(np.mean(A - B))


def test_differs_equals_scipy_two_sided():
    c = _cmp(B, A, "differs")
    ref = stats.ttest_rel(B, A)
    assert c.pvalue == pytest.approx(ref.pvalue)


def test_not_greater_is_one_sided_test_against_margin():
    a = np.array([0.50, 0.52, 0.49, 0.51, 0.50])
    b = np.array([0.50, 0.50, 0.50, 0.50, 0.51])
    c = _cmp(a, b, "not_greater", margin=0.05)
    ref = stats.ttest_1samp(a - b - 0.05, 0.0, alternative="less")
    assert c.pvalue == pytest.approx(ref.pvalue)


def test_nonfinite_pairs_dropped_and_bad_arguments():
    c = _cmp(np.r_[A, np.nan], np.r_[B, 0.3], "greater")
    assert c.diff.n == 4
    with pytest.raises(ValueError, match="claim = 'bigger'"):
        _cmp(A, B, "bigger")
    with pytest.raises(ValueError, match="margin = -1"):
        _cmp(A, B, "greater", margin=-1)
    with pytest.raises(ValueError, match="paired"):
        _cmp(A, B[:3], "greater")


def test_holm_worked_example():
    # Holm (1979) step-down by hand: sorted p = .01, .02, .03, .04 with m = 4
    # -> 4·.01 = .04, 3·.02 = .06, 2·.03 = .06, 1·.04 = .04 -> running max .04, .06, .06, .06
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    # NaN entries are skipped and do not count towards m; adjusted p is capped at 1
    out = holm([0.5, float("nan"), 0.6])
    assert out[0] == pytest.approx(1.0) and math.isnan(out[1]) and out[2] == pytest.approx(1.0)


def test_verdicts():
    big = adjust([_cmp(A, B, "greater")])[0]
    assert big.verdict == SUPPORTED and big.p_holm == pytest.approx(big.pvalue)
    rng = np.random.default_rng(1)
    same = rng.normal(0.5, 0.01, 8)
    none = adjust([_cmp(same, same + rng.normal(0, 0.005, 8), "greater")])[0]
    assert none.verdict == NOT_SUPPORTED  # the interval excludes an effect of the margin
    few = adjust([_cmp(A[:1], B[:1], "greater")])[0]
    assert few.verdict == INCONCLUSIVE  # one pair: no test
    noisy = adjust([_cmp(np.array([0.9, 0.1, 0.8]), np.array([0.2, 0.5, 0.3]), "greater")])[0]
    assert noisy.verdict == INCONCLUSIVE
    unchanged = adjust([_cmp(same, same + rng.normal(0, 0.005, 8), "differs")])[0]
    assert unchanged.verdict == NOT_SUPPORTED
    equal = adjust([_cmp(same, same + rng.normal(0, 0.005, 8), "not_greater")])[0]
    assert equal.verdict == SUPPORTED
    better = adjust([_cmp(A, B, "not_greater")])[0]
    assert better.verdict == NOT_SUPPORTED


def test_holm_can_flip_a_verdict():
    # alone significant at 0.05; beside 9 null comparisons the adjusted p is 10× larger
    a, b = np.array([0.60, 0.71, 0.52, 0.66]), np.array([0.50, 0.50, 0.50, 0.50])
    alone = adjust([_cmp(a, b, "greater")])[0]
    assert alone.pvalue < 0.05 and alone.verdict == SUPPORTED
    nulls = [_cmp(np.array([0.5, 0.6, 0.4, 0.5]), np.array([0.5, 0.5, 0.5, 0.5]), "greater")] * 9
    crowded = adjust([_cmp(a, b, "greater"), *nulls])[0]
    assert crowded.p_holm == pytest.approx(min(1.0, 10 * alone.pvalue))
    assert crowded.verdict == INCONCLUSIVE


def test_combine():
    assert combine([SUPPORTED, SUPPORTED]) == SUPPORTED
    assert combine([NOT_SUPPORTED, INCONCLUSIVE]) == NOT_SUPPORTED
    assert combine([SUPPORTED, NOT_SUPPORTED]) == INCONCLUSIVE
    assert combine([]) == INCONCLUSIVE
