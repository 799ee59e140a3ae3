"""Coverage of each edge band (Naeem et al. 2020 restricted to a band), against the full coverage and
on fakes that leave out known edges."""

import numpy as np
import pytest

from vaebench.metrics.coverage import coverage_and_density, expected_coverage
from vaebench.metrics.edges import edge_coverage, edge_keys

N = 4000


@pytest.fixture(scope="module")
def real():
    return np.random.default_rng(0).uniform(size=(N, 2))


def test_band_values_equal_the_full_coverage_restricted_to_the_band(real, metrics_route):
    fake = np.random.default_rng(1).uniform(0.02, 0.97, size=(N, 2))
    covered, _ = coverage_and_density(real, fake, 5)
    out = edge_coverage(real, fake)
    lo, hi = real.min(0), real.max(0)
    band = 0.05 * (hi - lo)
    assert out["edge_x0_low"] == pytest.approx(covered[real[:, 0] < lo[0] + band[0]].mean())
    assert out["edge_x1_high"] == pytest.approx(covered[real[:, 1] > hi[1] - band[1]].mean())
    assert out["edge_low"] == pytest.approx(covered[(real < lo + band).any(1)].mean())
    assert list(out) == list(edge_keys(2))


def test_same_distribution_reaches_every_edge(real):
    fake = np.random.default_rng(2).uniform(size=(N, 2))
    out = edge_coverage(real, fake)
    for key, value in out.items():  # every real point's chance is the formula's, bands included
        assert value == pytest.approx(expected_coverage(N, N), abs=0.04), key


def test_each_edge_separately(real):
    fake = np.random.default_rng(3).uniform(size=(N, 2))
    fake[:, 0] = 0.15 + 0.85 * fake[:, 0]  # nothing below x0 = 0.15
    out = edge_coverage(real, fake)
    assert out["edge_x0_low"] == 0.0
    assert out["edge_x0_high"] > 0.9
    # x1's bands keep their points with x0 < 0.15 uncovered: 85 % of the usual coverage
    for key in ("edge_x1_low", "edge_x1_high"):
        assert out[key] == pytest.approx(0.85 * expected_coverage(N, N), abs=0.05)
    assert 0.4 < out["edge_low"] < 0.6  # half of the pooled band near 0 is x0's


def test_empty_band_is_nan_and_bad_width_is_named(real):
    assert np.isnan(edge_coverage(real, real, bounds=[-5.0, 1.0])["edge_x0_low"])
    with pytest.raises(ValueError, match="width"):
        edge_coverage(real, real, width=0.7)
