"""Pre-registered tests of the seed report's claims: one-sided tests against a margin, equivalence,
rates and dose–response, intersection–union within a claim and Holm's correction across claims.

Every claim is made of **parts**; each part is one test with a fixed direction and threshold (the margin
or a level), written down before the data are seen (:mod:`analysis.findings`). A part computes two
one-sided p-values from the per-seed numbers:

- ``p_for``: of the null hypothesis "the part is false" (rejecting it supports the part);
- ``p_against``: of the null hypothesis "the part is true" (rejecting it refutes the part).

Kinds of part (v = per-seed values, paired differences a − b for two cells, paired by seed; c the
threshold):

- ``"above"``: mean v > c. ``p_for`` tests H₀: mean ≤ c (a margin test: an effect below the margin is
  never supported, however significant it is as an effect > 0); ``p_against`` tests H₀: mean ≥ c
  (non-superiority, one half of TOST, Schuirmann 1987).
- ``"below"``: mean v < c, the mirror image ("not better by c or more").
- ``"above_or_equivalent"``: as ``"above"``, but refuted only by equivalence: ``p_against`` is the TOST
  p-value of H₀: |mean| ≥ c (the claim "it does not change" shown, not just "it changes by less").
- ``"equivalent"``: |mean v| < c (the project's "no schedule helps or hurts by c or more"): ``p_for`` is
  the TOST p-value (both one-sided tests against ±c must reject, Schuirmann 1987), ``p_against`` the
  smaller one-sided p-value of "beyond +c" or "beyond −c", doubled (Bonferroni).
- ``"rate_above"``: the share of seeds with an event exceeds c: exact binomial tests (``binomtest``),
  Clopper–Pearson interval.
- ``"trend_up"``: the event becomes more likely as the dose grows: a permutation test of the
  rank correlation between dose and event (Spearman's ρ with the dose's ranks, so log dose or dose give
  the same test), ``p_against`` tests a negative trend.

Location tests are sign-flip permutation tests of v − c (the p-value of ``scipy.stats.permutation_test``
with ``permutation_type="samples"``, computed as one matrix product over the sign vectors, 30× faster;
exact for n ≤ 16, else 2¹⁶ seeded random flips): valid when the
per-seed differences are symmetric about their mean, with no normality assumed. Intervals are Student-t
intervals of the mean, clipped to the range the estimand can take (a difference of two [0, 1] metrics
lies in [−1, 1]); rates have exact Clopper–Pearson intervals, ρ Fisher-z intervals.

A claim is **supported** when every part is (intersection–union: its p is the largest part ``p_for``,
Berger 1982), **refuted** when some part is refuted (its p is the smallest part ``p_against`` times the
number of parts, Bonferroni); both p-values of every claim of a report enter one Holm (1979) correction
(:func:`holm`, the only one), so the family-wise error of all verdicts is at most α. Otherwise the claim
is **inconclusive**, with the seeds per cell that would decide it at 80 % power (:func:`seeds_needed`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from vaebench import statistics
from vaebench.statistics import t_half_width

SUPPORTED, REFUTED, INCONCLUSIVE = "supported", "refuted", "inconclusive"
KINDS = ("above", "below", "above_or_equivalent", "equivalent", "rate_above", "trend_up")
LOCATION_KINDS = ("above", "below", "above_or_equivalent", "equivalent")
EXACT_FLIPS = 16  # sign flips enumerated exactly up to this n (2^16 resamples)
POWER = 0.8


@dataclass(frozen=True)
class Part:
    """One tested part of a claim: ``estimate`` with its interval [lo, hi] (``confidence``), ``n`` seeds
    (pairs), the ``test`` used, the two one-sided p-values and the per-seed spread ``sd`` (for power)."""

    kind: str
    threshold: float
    estimate: float
    lo: float
    hi: float
    n: int
    test: str
    p_for: float
    p_against: float
    sd: float = math.nan


@functools.cache
def _all_signs(n: int) -> np.ndarray:
    codes = np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]
    signs = 1.0 - 2.0 * (codes & 1)
    signs.flags.writeable = False
    return signs


def _signs(n: int, seed: int) -> tuple[np.ndarray, bool]:
    """Every ±1 vector of length n (exact, n <= EXACT_FLIPS) or 2^EXACT_FLIPS seeded random ones."""
    if n <= EXACT_FLIPS:
        return _all_signs(n), True
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=(2 ** EXACT_FLIPS, n)), False


def _flip_p(v: np.ndarray, alternative: str, seed: int) -> float:
    """Sign-flip permutation p-value of H₀: v symmetric about 0, against mean > 0 ("greater") or < 0
    ("less"): the share of sign vectors whose flipped mean is at least as extreme (the same p-value as
    ``scipy.stats.permutation_test(..., permutation_type="samples")``, computed as one matrix product)."""
    if v.size == 0:
        return math.nan
    signs, exact = _signs(v.size, seed)
    null = signs @ v
    observed = float(v.sum())
    tol = 1e-12 * max(1.0, float(np.abs(v).sum()))  # ties within rounding count as ties
    hits = np.sum(null >= observed - tol) if alternative == "greater" else np.sum(null <= observed + tol)
    return float(hits / len(null)) if exact else float((hits + 1) / (len(null) + 1))


def _t_interval(v: np.ndarray, confidence: float, bounds: tuple[float, float]) -> tuple[float, float]:
    if v.size < 2:
        return math.nan, math.nan
    half = t_half_width(v, confidence)
    m = float(v.mean())
    return max(bounds[0], m - half), min(bounds[1], m + half)


def location_part(values: Sequence[float], threshold: float, kind: str = "above", *,
                  bounds: tuple[float, float] = (-math.inf, math.inf), confidence: float = 0.95,
                  seed: int = 0) -> Part:
    """A location part (``"above"``, ``"below"``, ``"above_or_equivalent"``) on per-seed ``values``
    (non-finite ones dropped) against ``threshold``; ``bounds``: the range the mean can take."""
    if kind not in LOCATION_KINDS:
        raise ValueError(f"kind = {kind!r}: must be one of {list(LOCATION_KINDS)}")
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    lo, hi = _t_interval(v, confidence, bounds)
    mean = float(v.mean()) if v.size else math.nan
    sd = float(v.std(ddof=1)) if v.size > 1 else math.nan
    up, down = _flip_p(v - threshold, "greater", seed), _flip_p(v - threshold, "less", seed)
    if kind == "below":
        return Part(kind, threshold, mean, lo, hi, v.size, "sign-flip permutation, one-sided", down, up, sd)
    if kind == "equivalent":  # TOST of |mean| < threshold; against: beyond either bound
        above_lower = _flip_p(v + threshold, "greater", seed)
        below_lower = _flip_p(v + threshold, "less", seed)
        return Part(kind, threshold, mean, lo, hi, v.size, "sign-flip permutation, TOST",
                    max(above_lower, down), min(1.0, 2 * min(up, below_lower)), sd)
    against = down
    test = "sign-flip permutation, one-sided"
    if kind == "above_or_equivalent":  # TOST of |mean| < threshold
        against = max(_flip_p(v + threshold, "greater", seed), down)
        test += "; TOST against it"
    return Part(kind, threshold, mean, lo, hi, v.size, test, up, against, sd)


def rate_part(events: Sequence[bool], threshold: float, confidence: float = 0.95) -> Part:
    """The share of seeds with an event against ``threshold`` in (0, 1): exact binomial tests."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold = {threshold!r}: must be a share in (0, 1)")
    e = np.asarray(events, dtype=bool)
    n, k = int(e.size), int(e.sum())
    if n == 0:
        return Part("rate_above", threshold, math.nan, math.nan, math.nan, 0, "exact binomial", math.nan,
                    math.nan)
    up = stats.binomtest(k, n, threshold, alternative="greater")
    down = stats.binomtest(k, n, threshold, alternative="less")
    two = stats.binomtest(k, n, threshold).proportion_ci(confidence, method="exact")
    return Part("rate_above", threshold, k / n, float(two.low), float(two.high), n,
                "exact binomial, one-sided", float(up.pvalue), float(down.pvalue))


def trend_part(dose: Sequence[float], events: Sequence[bool], confidence: float = 0.95,
               seed: int = 0) -> Part:
    """Dose–response: Spearman's ρ between ``dose`` and a binary ``events``, with a permutation test of
    the pairing (one-sided both ways) and a Fisher-z interval (within [−1, 1])."""
    x = stats.rankdata(np.asarray(dose, dtype=float))
    y = np.asarray(events, dtype=float)
    n = int(x.size)
    if n < 3 or y.min() == y.max():
        rho = math.nan if n < 3 else 0.0
        return Part("trend_up", 0.0, rho, math.nan, math.nan, n, "permutation of Spearman's ρ",
                    1.0 if n >= 3 else math.nan, 1.0 if n >= 3 else math.nan)
    rho = float(stats.spearmanr(x, y).statistic)
    xc = x - x.mean()

    def stat(yy, axis):
        return np.sum(xc * yy, axis=axis)  # monotone in ρ: the permutations keep the multiset of y

    def p(alt: str) -> float:
        return float(stats.permutation_test((y,), stat, permutation_type="pairings", alternative=alt,
                                            vectorized=True, n_resamples=9999,
                                            rng=np.random.default_rng(seed)).pvalue)

    z, half = math.atanh(max(-0.999999, min(0.999999, rho))), stats.norm.ppf((1 + confidence) / 2)
    lo, hi = (math.tanh(z - half / math.sqrt(n - 3)), math.tanh(z + half / math.sqrt(n - 3))) if n > 3 \
        else (math.nan, math.nan)
    return Part("trend_up", 0.0, rho, lo, hi, n, "permutation of Spearman's ρ, one-sided", p("greater"),
                p("less"))


def intersection_union(parts: Sequence[Part]) -> tuple[float, float]:
    """(p for the whole claim, p against it): the largest ``p_for`` (every part must hold; Berger 1982)
    and the smallest ``p_against`` times the number of parts (some part fails; Bonferroni). NaN when
    some part has no test."""
    if not parts or any(math.isnan(p.p_for) or math.isnan(p.p_against) for p in parts):
        return math.nan, math.nan
    return max(p.p_for for p in parts), min(1.0, len(parts) * min(p.p_against for p in parts))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the input order; NaN entries stay NaN and do not
    count towards the number of tests. adjusted p_(i) = max_{j <= i} min(1, (m − j + 1) p_(j))
    (:func:`vaebench.statistics.holm`)."""
    return statistics.holm(pvalues, missing="skip").tolist()


def decide(p_for_adj: float, p_against_adj: float, alpha: float = 0.05) -> str:
    """The verdict from a claim's two Holm-adjusted p-values."""
    if p_for_adj < alpha:
        return SUPPORTED
    if p_against_adj < alpha:
        return REFUTED
    return INCONCLUSIVE


def decide_family(claims: Sequence[Sequence[Part]], alpha: float = 0.05) -> list[tuple[str, float, float]]:
    """(verdict, Holm-adjusted p for, Holm-adjusted p against) of every claim, each a list of its parts:
    intersection–union within a claim, one Holm correction over both p-values of every claim."""
    raw = [intersection_union(parts) for parts in claims]
    adjusted = holm([p for pair in raw for p in pair])
    out = []
    for i, parts in enumerate(claims):
        pf, pa = adjusted[2 * i], adjusted[2 * i + 1]
        testable = bool(parts) and all(p.n > 0 for p in parts) and math.isfinite(pf)
        out.append((decide(pf, pa, alpha) if testable else INCONCLUSIVE, pf, pa))
    return out


def location_power(effect: float, sd: float, n: int, level: float) -> float:
    """Power of a one-sided level-``level`` location test of n values with mean ``effect`` beyond the
    threshold and spread ``sd`` (noncentral t; the sign-flip test's large-sample power)."""
    if n < 2 or not sd > 0 or not math.isfinite(effect):
        return math.nan
    df = n - 1
    return float(stats.nct.sf(stats.t.ppf(1 - level, df), df, effect / sd * math.sqrt(n)))


def rate_power(rate: float, threshold: float, n: int, level: float) -> float:
    """Power of the one-sided exact binomial test of H₀: p ≤ ``threshold`` at true ``rate``."""
    # the smallest k with P(X >= k | threshold) <= level rejects; P(X >= k) = sf(k - 1)
    k = next(k for k in range(n + 2) if k > n or stats.binom.sf(k - 1, n, threshold) <= level)
    return float(stats.binom.sf(k - 1, n, rate))


def tost_power(mean: float, margin: float, sd: float, n: int, level: float) -> float:
    """Power of TOST (both one-sided level-``level`` tests of |mean| < ``margin`` must reject) at true
    ``mean``: P(both reject) ≥ P(upper rejects) + P(lower rejects) − 1 (Bonferroni's inequality), the
    bound used here, so the seeds it asks for are enough for both sides together."""
    up = location_power(margin - mean, sd, n, level)
    down = location_power(margin + mean, sd, n, level)
    return max(0.0, up + down - 1.0)


def _n_for(power, cap: int) -> int | None:
    n = 2
    while n < cap and not power(n) >= POWER:
        n = max(n + 1, int(n * 1.1))
    return n if n < cap else None


def seeds_needed(part: Part, level: float, direction: str, cap: int = 10_000) -> int | None:
    """Seeds per cell at which ``part``'s test in ``direction`` ("for" or "against") reaches 80 % power at
    ``level``, if the true effect were the observed one; None if undefined or beyond ``cap``. An
    equivalence (TOST: ``"equivalent"`` for, ``"above_or_equivalent"`` against) needs both of its
    one-sided tests to reject: :func:`tost_power`."""
    if not math.isfinite(part.estimate):
        return None
    tost = (part.kind, direction) in (("equivalent", "for"), ("above_or_equivalent", "against"))
    if tost:
        if not abs(part.estimate) < part.threshold or not part.sd > 0:
            return None
        return _n_for(lambda n: tost_power(part.estimate, part.threshold, part.sd, n, level), cap)
    if part.kind == "equivalent":  # against: beyond the nearer bound, at half the level (Bonferroni)
        effect = abs(part.estimate) - part.threshold
        if not effect > 0 or not part.sd > 0:
            return None
        return _n_for(lambda n: location_power(effect, part.sd, n, level / 2), cap)
    sign = 1.0 if direction == "for" else -1.0
    if part.kind == "below":
        sign = -sign
    if part.kind == "rate_above":
        if not math.isfinite(part.estimate):
            return None
        rate = min(max(part.estimate, 1e-3), 1 - 1e-3)
        if sign * (rate - part.threshold) <= 0:
            return None
        thr, r = (part.threshold, rate) if sign > 0 else (1 - part.threshold, 1 - rate)
        return next((n for n in range(2, cap) if rate_power(r, thr, n, level) >= POWER), None)
    if part.kind == "trend_up":
        return None
    effect = sign * (part.estimate - part.threshold)
    if not effect > 0 or not part.sd > 0:
        return None
    return _n_for(lambda n: location_power(effect, part.sd, n, level), cap)
