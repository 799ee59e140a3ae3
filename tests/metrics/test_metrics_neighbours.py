"""A PointSet shared by several metrics gives each of them what a fresh array gives: the k-NN query kept
for one k serves another, sorted projections are kept per set of directions."""

import numpy as np
import pytest

from vaebench.metrics import coverage_and_density, knn_label_accuracy, sliced_wasserstein, trustworthiness
from vaebench.metrics._neighbours import PointSet, neighbours_without_self


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(4)
    x = rng.random((600, 2))
    return x, x + 0.05 * rng.standard_normal(x.shape), rng.random((500, 2))


def test_shared_point_sets_give_the_fresh_arrays_numbers_in_any_order(points):
    x, z, fake = points
    labels = (x[:, 0] > 0.5).astype(int)
    fresh = [trustworthiness(x, z, 7, max_queries=200, seed=1), knn_label_accuracy(z, labels, 3),
             coverage_and_density(x, fake, 5), coverage_and_density(x, fake, 2),
             sliced_wasserstein(x, fake, n_projections=8), sliced_wasserstein(x, fake, n_projections=32)]
    xs, zs = PointSet(x, "x"), PointSet(z, "z")
    # larger k first, then smaller ones from the kept query, and the reverse order for the other set
    shared = [trustworthiness(xs, zs, 7, max_queries=200, seed=1), knn_label_accuracy(zs, labels, 3),
              coverage_and_density(xs, fake, 5), coverage_and_density(xs, fake, 2),
              sliced_wasserstein(xs, fake, n_projections=8), sliced_wasserstein(xs, fake, n_projections=32)]
    for a, b in zip(fresh, shared, strict=True):
        if isinstance(a, tuple):
            assert np.array_equal(a[0], b[0]) and a[1] == b[1]
        else:
            assert a == b


def test_neighbours_without_self_of_some_rows_match_all_rows_and_brute_force(points):
    x = points[0]
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    np.fill_diagonal(d, np.inf)
    brute = np.argsort(d, axis=1)[:, :4]
    rows = np.array([0, 5, 599])
    assert np.array_equal(neighbours_without_self(x, 4), brute)
    assert np.array_equal(neighbours_without_self(x, 4, rows), brute[rows])
    ps = PointSet(x)
    assert np.array_equal(neighbours_without_self(ps, 4), brute)
    assert np.array_equal(neighbours_without_self(ps, 4, rows), brute[rows])
    assert np.array_equal(neighbours_without_self(ps, 2), brute[:, :2])
