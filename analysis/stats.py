"""Paired comparisons over seeds with a three-way verdict, and Holm's correction across them.

A comparison takes the per-seed values of one metric in two cells of a study (a and b, paired by seed),
forms the differences δ = a − b and tests a claim about their mean with a paired t-test (Student 1908):

- ``"greater"``: a exceeds b by at least ``margin`` (a meaningful effect). One-sided p of H₀: δ ≤ 0.
  Supported when the Holm-adjusted p < α and mean δ ≥ margin; not supported when the interval's upper
  bound is below the margin (the effect is surely smaller than meaningful, or reversed).
- ``"differs"``: |δ| ≥ margin in either direction. Two-sided p of H₀: δ = 0. Supported when adjusted
  p < α and |mean δ| ≥ margin; not supported when the whole interval lies inside (−margin, margin).
- ``"not_greater"``: a does not exceed b by the margin (non-superiority, the one-sided half of TOST,
  Schuirmann 1987). p of H₀: δ ≥ margin. Supported when adjusted p < α; not supported when the
  interval's lower bound is at least the margin.

Everything else is inconclusive, as is any comparison with fewer than two seed pairs. Holm (1979)
controls the family-wise error over every comparison of a report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from analysis.tables import Interval, t_interval

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
CLAIMS = ("greater", "differs", "not_greater")


@dataclass(frozen=True)
class Comparison:
    """A paired comparison of ``metric`` between cells ``a`` and ``b`` (labels), with the seed means of
    each side, the interval of the paired differences a − b, the t statistic, the unadjusted p-value of
    the ``claim``'s test, and (after :func:`adjust`) the Holm-adjusted p-value and the verdict."""

    metric: str
    a_label: str
    b_label: str
    claim: str
    margin: float
    a_mean: float
    b_mean: float
    diff: Interval
    t: float
    pvalue: float
    p_holm: float = math.nan
    verdict: str = INCONCLUSIVE


def _pvalue(claim: str, mean: float, sd: float, n: int, margin: float) -> tuple[float, float]:
    """(t, p) of ``claim``'s test for n differences with ``mean`` and ``sd``; NaN for n < 2."""
    if n < 2:
        return math.nan, math.nan
    se = sd / math.sqrt(n)
    centre = margin if claim == "not_greater" else 0.0
    if se == 0:
        t = 0.0 if mean == centre else math.copysign(math.inf, mean - centre)
    else:
        t = (mean - centre) / se
    dist = stats.t(n - 1)
    p = {"greater": dist.sf(t), "not_greater": dist.cdf(t), "differs": 2 * dist.sf(abs(t))}[claim]
    return t, float(min(1.0, p))


def compare(a: Sequence[float], b: Sequence[float], *, metric: str, a_label: str, b_label: str,
            claim: str, margin: float, confidence: float = 0.95) -> Comparison:
    """Paired comparison of per-seed values ``a`` and ``b`` (same length, same seed order; pairs with a
    non-finite value are dropped). ``claim`` is one of "greater", "differs", "not_greater" (see module
    docstring); ``margin`` >= 0 is in the metric's units."""
    if claim not in CLAIMS:
        raise ValueError(f"claim = {claim!r}: must be one of {list(CLAIMS)}")
    if not margin >= 0:
        raise ValueError(f"margin = {margin!r}: must be a number >= 0")
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a.shape = {a.shape}, b.shape = {b.shape}: must be equal 1-D shapes (paired)")
    keep = np.isfinite(a) & np.isfinite(b)
    diff = t_interval(a[keep] - b[keep], confidence)
    t, p = _pvalue(claim, diff.mean, diff.sd, diff.n, margin)
    a_mean = float(a[keep].mean()) if keep.any() else math.nan
    b_mean = float(b[keep].mean()) if keep.any() else math.nan
    return Comparison(metric, a_label, b_label, claim, float(margin), a_mean, b_mean, diff, t, p)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the input order; NaN entries stay NaN and do not
    count towards the number of tests. adjusted p_(i) = max_{j <= i} min(1, (m − j + 1) p_(j))."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    running = 0.0
    for rank, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def verdict(c: Comparison, alpha: float = 0.05) -> str:
    """The verdict of one comparison from its adjusted p-value and interval (module docstring)."""
    d = c.diff
    if d.n < 2 or math.isnan(c.p_holm):
        return INCONCLUSIVE
    significant = c.p_holm < alpha
    if c.claim == "greater":
        if significant and d.mean >= c.margin:
            return SUPPORTED
        return NOT_SUPPORTED if d.hi < c.margin else INCONCLUSIVE
    if c.claim == "differs":
        if significant and abs(d.mean) >= c.margin:
            return SUPPORTED
        return NOT_SUPPORTED if -c.margin < d.lo and d.hi < c.margin else INCONCLUSIVE
    if significant:
        return SUPPORTED
    return NOT_SUPPORTED if d.lo >= c.margin else INCONCLUSIVE


def adjust(comparisons: Sequence[Comparison], alpha: float = 0.05) -> list[Comparison]:
    """Holm-adjust the p-values of all ``comparisons`` together and attach each one's verdict."""
    adjusted = holm([c.pvalue for c in comparisons])
    out = []
    for c, ph in zip(comparisons, adjusted, strict=True):
        c = replace(c, p_holm=ph)
        out.append(replace(c, verdict=verdict(c, alpha)))
    return out


def combine(verdicts: Sequence[str]) -> str:
    """One verdict from its parts: supported if all are, not supported if none is supported and at least
    one is not supported, otherwise (mixed, or no parts) inconclusive."""
    if verdicts and all(v == SUPPORTED for v in verdicts):
        return SUPPORTED
    if NOT_SUPPORTED in verdicts and SUPPORTED not in verdicts:
        return NOT_SUPPORTED
    return INCONCLUSIVE
