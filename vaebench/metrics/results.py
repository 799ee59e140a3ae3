"""Result objects of the hypothesis tests: every test returns something with ``.statistic`` and
``.pvalue``, as scipy.stats does."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TestResult:
    """One hypothesis test: its ``statistic``, its ``pvalue`` (probability under H0 of a statistic at
    least as extreme), the sample size ``n`` it was computed on, and the test's ``name``."""

    __test__ = False  # not a pytest test class

    statistic: float
    pvalue: float
    n: int
    name: str = ""


@dataclass(frozen=True)
class MardiaResult:
    """Mardia's two tests (Mardia 1970): ``skewness`` (χ² statistic from b₁,ₚ) and ``kurtosis``
    (standard-normal statistic from b₂,ₚ), with the raw measures ``b1p`` and ``b2p`` as effect sizes
    (0 and p(p + 2) under normality). ``statistic`` and ``pvalue`` hold both tests' values, [skew, kurt]."""

    skewness: TestResult
    kurtosis: TestResult
    b1p: float
    b2p: float

    @property
    def statistic(self) -> np.ndarray:
        return np.array([self.skewness.statistic, self.kurtosis.statistic])

    @property
    def pvalue(self) -> np.ndarray:
        return np.array([self.skewness.pvalue, self.kurtosis.pvalue])
