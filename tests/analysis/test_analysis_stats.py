"""The findings' statistics: margin tests, TOST, exact rates, trend, intersection–union and Holm, checked
against scipy's own tests and by simulation (family-wise error on null data, power at a stated effect)."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from analysis.stats import (
    INCONCLUSIVE,
    REFUTED,
    SUPPORTED,
    decide_family,
    holm,
    intersection_union,
    location_part,
    location_power,
    rate_part,
    seeds_needed,
    tost_power,
    trend_part,
)


def test_margin_test_is_the_sign_flip_test_of_v_minus_margin():
    v = np.random.default_rng(0).normal(0.3, 0.2, 12)
    part = location_part(v, 0.1, "above")
    ref = stats.permutation_test((v - 0.1,), np.mean, permutation_type="samples", alternative="greater",
                                 n_resamples=np.inf)
    assert part.p_for == pytest.approx(ref.pvalue)
    # and close to the paired t-test against the margin for Gaussian data
    t = stats.ttest_1samp(v, 0.1, alternative="greater").pvalue
    assert part.p_for == pytest.approx(t, abs=0.01)
    assert part.estimate == pytest.approx(v.mean()) and part.n == 12


def test_significant_effect_below_its_margin_is_never_supported():
    # δ = 0.05 with a tiny spread: "δ > 0" at p < 1e-4, but the claim is δ >= 0.1: refuted, not supported
    v = 0.05 + np.random.default_rng(1).normal(0, 0.005, 16)
    assert stats.ttest_1samp(v, 0.0, alternative="greater").pvalue < 1e-6
    part = location_part(v, 0.1, "above")
    [(verdict, _, _)] = decide_family([[part]])
    assert verdict == REFUTED and part.p_for > 0.5


def test_equivalence_refutes_only_inside_the_margin():
    rng = np.random.default_rng(2)
    inside = location_part(rng.normal(0.0, 0.05, 16), 0.2, "above_or_equivalent")
    assert decide_family([[inside]])[0][0] == REFUTED
    # mean 0.15: below the margin, but not equivalent (TOST needs the whole interval inside ±0.2)
    v = rng.normal(0.15, 0.3, 16)
    unclear, plain = location_part(v, 0.2, "above_or_equivalent"), location_part(v, 0.2, "above")
    assert unclear.p_against >= plain.p_against
    assert decide_family([[unclear]])[0][0] == INCONCLUSIVE


def test_intervals_stay_in_the_estimands_range():
    part = location_part([0.99, 1.0, 0.97, 1.0, 0.2], 0.5, "above", bounds=(0.0, 1.0))
    assert 0.0 <= part.lo <= part.hi <= 1.0 and part.hi == 1.0
    rate = rate_part([True] * 16, 0.5)
    assert rate.hi == 1.0 and rate.lo == pytest.approx(stats.binomtest(16, 16).proportion_ci().low)


def test_rate_part_is_scipys_exact_binomial_test():
    events = [True] * 12 + [False] * 4
    part = rate_part(events, 0.5)
    assert part.p_for == pytest.approx(stats.binomtest(12, 16, 0.5, alternative="greater").pvalue)
    assert part.p_against == pytest.approx(stats.binomtest(12, 16, 0.5, alternative="less").pvalue)


def test_trend_part_detects_a_dose_response_and_not_a_shuffled_one():
    dose = np.repeat([0.0, 2e-4, 4e-4, 6e-4, 8e-4], 16)
    rng = np.random.default_rng(3)
    events = rng.uniform(size=dose.size) < np.repeat([0.05, 0.2, 0.5, 0.8, 0.95], 16)
    up = trend_part(dose, events)
    assert up.p_for < 1e-3 and up.estimate > 0.5 and -1 <= up.lo < up.estimate < up.hi <= 1
    assert trend_part(dose, events[::-1]).p_against < 1e-3
    assert up.estimate == pytest.approx(stats.spearmanr(dose, events).statistic)


def test_intersection_union_and_holm():
    parts = [location_part([1.0, 2.0, 3.0, 4.0], 0.0), location_part([0.5, -0.2, 0.4, 0.3], 0.0)]
    p_for, p_against = intersection_union(parts)
    assert p_for == max(p.p_for for p in parts)
    assert p_against == min(1.0, 2 * min(p.p_against for p in parts))
    # Holm by hand: sorted 0.01, 0.02, 0.04 (NaN skipped) → 0.03, 0.04, 0.04
    assert holm([0.04, math.nan, 0.01, 0.02]) == pytest.approx([0.04, math.nan, 0.03, 0.04], nan_ok=True)


def _family(rng, means, n, threshold=0.1):
    return [[location_part(rng.normal(m, 1.0, n), threshold, "above", seed=i)] for i, m in enumerate(means)]


def test_family_wise_error_on_null_data_is_at_most_alpha():
    # 7 claims at the boundary of both hypotheses (mean = threshold): any verdict but inconclusive is an
    # error; Holm over both p-values of all 7 keeps P(any error) <= α = 0.05
    rng = np.random.default_rng(4)
    reps = 300
    errors = sum(any(v != INCONCLUSIVE for v, _, _ in decide_family(_family(rng, [0.1] * 7, 10)))
                 for _ in range(reps))
    assert errors / reps <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / reps)


def test_printed_power_matches_simulated_power():
    # an effect 0.7 sd beyond the threshold, n = 12, one-sided level 0.05
    rng = np.random.default_rng(5)
    predicted = location_power(0.7, 1.0, 12, 0.05)
    reps = 400
    hits = sum(location_part(rng.normal(0.8, 1.0, 12), 0.1, "above").p_for < 0.05 for _ in range(reps))
    assert hits / reps == pytest.approx(predicted, abs=3 * math.sqrt(predicted * (1 - predicted) / reps))
    # the n printed as "would decide it" reaches 80 %
    part = location_part(rng.normal(0.6, 1.0, 16), 0.1, "above")
    n = seeds_needed(part, 0.05, "for")
    assert location_power(part.estimate - 0.1, part.sd, n, 0.05) >= 0.8
    assert location_power(part.estimate - 0.1, part.sd, max(2, n - 2), 0.05) < 0.8


def test_supported_and_refuted_effects_are_found():
    rng = np.random.default_rng(6)
    verdicts = [v for v, _, _ in decide_family(_family(rng, [1.5, -1.5], 16))]
    assert verdicts == [SUPPORTED, REFUTED]


def test_equivalence_part_is_tost_and_its_power_needs_both_sides():
    rng = np.random.default_rng(7)
    inside = location_part(rng.normal(0.0, 0.01, 16), 0.02, "equivalent")
    assert inside.p_for < 0.05 and inside.p_against > 0.5  # |mean| < margin shown
    outside = location_part(rng.normal(0.05, 0.01, 16), 0.02, "equivalent")
    assert outside.p_for > 0.5 and outside.p_against < 0.05  # beyond the margin shown
    # TOST needs both one-sided tests: at a true mean of 0 each side alone has power p, both about 2p − 1
    n = seeds_needed(dataclasses.replace(inside, estimate=0.0, sd=0.02), 0.05, "for")
    one_side = next(k for k in range(2, 200) if location_power(0.02, 0.02, k, 0.05) >= 0.8)
    assert n > one_side
    reps = 400
    hits = sum(location_part(rng.normal(0.0, 0.02, n), 0.02, "equivalent").p_for < 0.05 for _ in range(reps))
    assert hits / reps >= 0.8 - 3 * math.sqrt(0.16 / reps)
    assert tost_power(0.0, 0.02, 0.02, n, 0.05) >= 0.8 > tost_power(0.0, 0.02, 0.02, one_side, 0.05)


def test_tost_at_the_margin_rejects_at_most_alpha():
    # true mean exactly at the margin: "equivalent" is false, so p_for < α must happen in ≤ α of runs
    rng = np.random.default_rng(8)
    reps = 300
    parts = [location_part(rng.normal(0.02, 0.01, 16), 0.02, "equivalent") for _ in range(reps)]
    assert sum(p.p_for < 0.05 for p in parts) / reps <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / reps)
