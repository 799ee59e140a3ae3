import numpy as np
import pytest

from vaebench import RunConfig, list_schedules
from vaebench.schedules import SCHEDULES, beta_table


def factor(name, t, **kw):
    cfg = RunConfig(schedule=name, **kw)
    return SCHEDULES[name](np.asarray(t), cfg)


def test_registered_names():
    assert list_schedules() == ["constant", "cyclical", "linear", "sigmoid"]


def test_constant():
    assert np.all(factor("constant", [0, 10, 999], steps=1000) == 1.0)


def test_linear_warmup_values():
    # warmup 0.5 of 1000 steps: ramp of 500 steps
    np.testing.assert_allclose(factor("linear", [0, 250, 500, 999], steps=1000, warmup=0.5), [0, 0.5, 1, 1])


def test_sigmoid_values():
    got = factor("sigmoid", [0, 250, 500], steps=1000, warmup=0.5)
    np.testing.assert_allclose(got, [1 / (1 + np.exp(5)), 0.5, 1 / (1 + np.exp(-5))])


def test_cyclical_values_follow_fu_et_al():
    # 1000 steps, 4 cycles of 250 steps, rising over the first half (125 steps) of each
    t = [0, 62, 125, 200, 249, 250, 312, 999]
    want = [0, 62 / 125, 1, 1, 1, 0, 62 / 125, 1]
    np.testing.assert_allclose(factor("cyclical", t, steps=1000, cycles=4, cycle_ratio=0.5), want)


@pytest.mark.parametrize("steps,cycles", [(1, 1), (7, 3), (10, 10), (1001, 7), (3, 5)])
def test_cyclical_has_no_off_by_one(steps, cycles):
    # The reference code's cycle helpers raise IndexError for some lengths; a pure function cannot.
    table = beta_table(RunConfig(schedule="cyclical", steps=steps, cycles=cycles, beta=2.0))
    assert table.shape == (steps,) and np.all((table >= 0) & (table <= 2.0))


def test_beta_table_scales_by_beta():
    np.testing.assert_allclose(beta_table(RunConfig(schedule="linear", steps=4, warmup=1.0, beta=0.1)),
                               [0, 0.025, 0.05, 0.075])
