"""vaebench.statistics: the t-interval and Holm's correction, each stated once and used by the metrics,
the collapse diagram and analysis/ (checked against scipy and against Holm's definition)."""

import math

import numpy as np
import pytest
from scipy import stats

from vaebench.statistics import holm, t_interval


def holm_by_definition(p):
    """Holm (1979) from the definition: the i-th smallest p_(i) → max_{j ≤ i} min(1, (m − j + 1) p_(j))."""
    m, order = len(p), sorted(range(len(p)), key=lambda i: (p[i], i))
    out, running = [0.0] * m, 0.0
    for j, i in enumerate(order):
        running = max(running, min(1.0, (m - j) * p[i]))
        out[i] = running
    return out


def test_t_interval_is_scipys_interval_of_the_finite_values():
    v = [0.3, 1.7, -0.2, 2.5, 0.9, math.nan, math.inf]
    iv = t_interval(v, 0.9)
    finite = np.array(v[:5])
    lo, hi = stats.t.interval(0.9, len(finite) - 1, loc=finite.mean(), scale=stats.sem(finite))
    assert (iv.n, iv.mean) == (5, pytest.approx(finite.mean(), abs=1e-15))
    assert iv.lo == pytest.approx(lo, rel=1e-12) and iv.hi == pytest.approx(hi, rel=1e-12)
    assert iv.sd == pytest.approx(finite.std(ddof=1), rel=1e-15)
    assert iv.half_width == pytest.approx((hi - lo) / 2, rel=1e-12)
    one = t_interval([2.0])
    assert one.mean == 2.0 and math.isnan(one.lo) and one.n == 1
    assert t_interval([]).n == 0 and math.isnan(t_interval([]).mean)
    with pytest.raises(ValueError, match="confidence = 1.5: must be a number in"):
        t_interval([1.0, 2.0], 1.5)


def test_holm_follows_its_definition_and_each_callers_nan_handling():
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 13):
        p = list(rng.uniform(0, 0.2, m))
        p[0] = p[-1]  # a tie
        assert holm(p).tolist() == holm_by_definition(p)  # bit for bit
        assert holm(p, missing="skip").tolist() == holm_by_definition(p)
    with pytest.raises(ValueError, match="must be a 1-D array of numbers in"):
        holm([0.01, math.nan])
    with pytest.raises(ValueError, match="must be a 1-D array of numbers in"):
        holm([0.01, 1.5])
    out = holm([0.04, math.nan, 0.01], missing="skip")  # NaN stays NaN and is not counted: m = 2
    assert math.isnan(out[1]) and out[[0, 2]].tolist() == holm_by_definition([0.04, 0.01])
    assert holm([], missing="skip").tolist() == [] and math.isnan(holm([math.nan], missing="skip")[0])
    with pytest.raises(ValueError, match="missing = 'drop': must be 'raise' or 'skip'"):
        holm([0.1], missing="drop")
