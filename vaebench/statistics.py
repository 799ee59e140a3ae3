"""Statistics that more than one place needs, stated once: the Student-t interval of a mean and Holm's
step-down correction. vaebench's metrics and collapse diagram use them, and so do analysis/ (which
imports them from here: nothing in vaebench imports analysis/)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` finite values with a two-sided t-interval [lo, hi] at ``confidence``; ``sd`` is the
    sample standard deviation (ddof 1). lo = hi = NaN when n < 2."""

    mean: float
    lo: float
    hi: float
    n: int
    sd: float

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2


def t_half_width(v: np.ndarray, confidence: float) -> float:
    """t_{(1+c)/2, n−1}·s/√n of the finite values ``v`` (n ≥ 2)."""
    return float(stats.t.ppf((1 + confidence) / 2, v.size - 1)) * float(v.std(ddof=1)) / math.sqrt(v.size)


def t_interval(values: Iterable[float], confidence: float = 0.95) -> Interval:
    """Student-t interval of the mean of ``values`` (NaN and ±inf dropped): mean ± t_{(1+c)/2, n−1}·s/√n.
    ``confidence`` in (0, 1). With n = 1 the interval is NaN; with n = 0 everything is NaN."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence = {confidence!r}: must be a number in (0, 1)")
    v = np.asarray(list(values), dtype=float)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, math.nan)
    mean = float(v.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1, math.nan)
    half = t_half_width(v, confidence)
    return Interval(mean, mean - half, mean + half, n, float(v.std(ddof=1)))


def holm(pvalues: Any, *, missing: str = "raise") -> np.ndarray:
    """Holm's (1979) step-down adjusted p-values of m tests, in the input order: the i-th smallest p
    becomes max over j ≤ i of min(1, (m − j + 1)·p_(j)). Rejecting where the adjusted p ≤ α controls the
    family-wise error rate at α under any dependence between the tests.

    ``missing``: what a NaN p-value means. "raise" (a test that must have run): ValueError, and every
    p-value must be in [0, 1]; "skip" (a test that could not run): non-finite entries stay NaN and do not
    count towards m."""
    p = np.asarray(pvalues, dtype=np.float64)
    if missing == "raise":
        if p.ndim != 1 or np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
            raise ValueError(f"pvalues = {p!r}: must be a 1-D array of numbers in [0, 1]")
        keep = np.arange(len(p))
    elif missing == "skip":
        keep = np.flatnonzero(np.isfinite(p))
    else:
        raise ValueError(f"missing = {missing!r}: must be 'raise' or 'skip'")
    m = keep.size
    order = keep[np.argsort(p[keep], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.full(p.shape, np.nan)
    adjusted[order] = np.maximum.accumulate(scaled) if m else scaled
    return adjusted
