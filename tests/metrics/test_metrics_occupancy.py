"""Grid occupancy, boundary and corner coverage on the unit square."""

import math

import numpy as np
import pytest

from vaebench.metrics import boundary_coverage, corner_coverage, grid_occupancy

N = 4000


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(0)
    real, full = rng.random((N, 2)), rng.random((N, 2))
    near_corner = np.all((full < 0.1) | (full > 0.9), axis=1)
    return real, full, full[~near_corner], 0.1 + 0.8 * rng.random((N, 2))


def test_missing_corners_scores_lower_corner_and_boundary_coverage_by_a_stated_margin(samples):
    real, full, no_corners, shrunk = samples
    # an independent sample of the square covers ≈ 97 % of the corner points (sd ≈ 0.03 over seeds; 0.90
    # here); one without points within 0.1 of the corners reaches only corner points close to the region's
    # inner edge (0.15 here): margin ≥ 0.5. The band along the edges loses its corner parts (0.97 → 0.84).
    assert corner_coverage(real, full) > 0.85
    assert corner_coverage(real, full) - corner_coverage(real, no_corners) >= 0.5
    assert boundary_coverage(real, full) - boundary_coverage(real, no_corners) >= 0.08
    # reconstructions pulled into [0.1, 0.9]² (the seed's "values close to 0 or 1 are absent")
    assert boundary_coverage(real, full) - boundary_coverage(real, shrunk) >= 0.8
    assert corner_coverage(real, shrunk) < 0.05


def test_occupancy_of_a_sparse_uniform_sample_matches_its_closed_form(samples):
    real = samples[0]
    rng = np.random.default_rng(1)
    cells, m = 20, 400
    # m uniform points reach each of the 400 cells with probability 1 − (1 − 1/400)^m
    truth = 1 - (1 - 1 / cells**2) ** m
    occ = [grid_occupancy(real, rng.random((m, 2)), cells=cells, bounds=[0, 1]) for _ in range(10)]
    assert np.mean(occ) == pytest.approx(truth, abs=4 * math.sqrt(truth * (1 - truth) / (400 * 10)) + 0.005)


def test_occupancy_counts_only_cells_the_input_reaches(samples):
    real, full = samples[0], samples[1]
    assert grid_occupancy(real, real) == 1.0
    assert grid_occupancy(real, full * [0.5, 1.0], bounds=[0, 1]) == 0.5  # the left 10 of 20 columns
    ring_real = real[np.abs(np.linalg.norm(real - 0.5, axis=1) - 0.35) < 0.05]
    assert grid_occupancy(ring_real, ring_real) == 1.0  # empty cells of the input do not count against it
    assert grid_occupancy(real, full + 5.0) == 0.0  # fakes outside the box reach nothing


def test_regions_without_points_give_nan_and_widths_are_checked(samples):
    real = samples[0]
    inner = 0.3 + 0.4 * real  # the box of `inner` is [0.3, 0.7]²; with bounds [0, 1] no point is near an edge
    assert math.isnan(boundary_coverage(inner, inner, bounds=[0, 1]))
    with pytest.raises(ValueError, match="width"):
        corner_coverage(real, real, width=0.7)
    with pytest.raises(ValueError, match="bounds"):
        grid_occupancy(real, real, bounds=[1, 0])
