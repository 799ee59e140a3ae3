"""Quadrant k-NN accuracy and trustworthiness against brute-force definitions; invariances."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import norm

from vaebench.data import quadrant
from vaebench.metrics import knn_label_accuracy, trustworthiness


def brute_knn_accuracy(z, labels, k):
    d = cdist(z, z)
    np.fill_diagonal(d, np.inf)
    nb = np.argsort(d, axis=1, kind="stable")[:, :k]
    correct = 0
    for i in range(len(z)):
        counts = np.bincount(labels[nb[i]], minlength=labels.max() + 1)
        tied = np.flatnonzero(counts == counts.max())
        # tie: the tied label whose nearest voter comes first
        pred = next(labels[j] for j in nb[i] if labels[j] in tied)
        correct += pred == labels[i]
    return correct / len(z)


def brute_trustworthiness(x, z, k):
    """Venna & Kaski (2001) with full rank matrices, as sklearn.manifold.trustworthiness computes it."""
    n = len(x)
    dx, dz = cdist(x, x), cdist(z, z)
    np.fill_diagonal(dx, np.inf)
    np.fill_diagonal(dz, np.inf)
    order_x = np.argsort(dx, axis=1)
    rank = np.empty((n, n), dtype=int)
    rank[np.arange(n)[:, None], order_x] = np.arange(1, n + 1)
    near_z = np.argsort(dz, axis=1)[:, :k]
    penalty = rank[np.arange(n)[:, None], near_z] - k
    return 1 - 2 / (n * k * (2 * n - 3 * k - 1)) * np.sum(np.maximum(penalty, 0))


@pytest.fixture(scope="module")
def square():
    x = np.random.default_rng(0).random((400, 2))
    return x, quadrant(x)


def test_knn_accuracy_equals_brute_force_and_ignores_rotations_and_reflections(square, metrics_route):
    x, q = square
    z = norm.ppf(x) + 0.3 * np.random.default_rng(1).standard_normal(x.shape)
    acc = knn_label_accuracy(z, q, k=10)
    assert acc == pytest.approx(brute_knn_accuracy(z, q, 10))
    t = 0.7
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    for a in (rot, np.diag([1.0, -1.0]), rot @ np.diag([-1.0, 1.0])):
        assert knn_label_accuracy(z @ a.T + [3.0, -1.0], q, k=10) == acc


def test_knn_accuracy_is_high_for_a_faithful_latent_and_chance_for_a_random_one(square):
    x, q = square
    assert knn_label_accuracy(norm.ppf(x), q) > 0.95
    rng = np.random.default_rng(2)
    random_acc = np.mean([knn_label_accuracy(rng.standard_normal(x.shape), q) for _ in range(5)])
    # a vote among random neighbours is a random label: chance is Σ_c p_c·P(vote = c), here 0.25–0.32
    assert 0.2 < random_acc < 0.33


@pytest.mark.parametrize("kind", ["identity", "probit", "fold", "random"])
def test_trustworthiness_equals_brute_force(square, kind, metrics_route):
    x = square[0]
    z = {"identity": x, "probit": norm.ppf(x), "fold": np.abs(x - 0.5),
         "random": np.random.default_rng(3).random(x.shape)}[kind]
    assert trustworthiness(x, z, k=7) == pytest.approx(brute_trustworthiness(x, z, 7), rel=1e-12)


def test_trustworthiness_values_subsample_and_invariance(square, metrics_route):
    x = np.random.default_rng(4).random((3000, 2))
    assert trustworthiness(x, 2.0 * x @ np.array([[0.0, 1.0], [-1.0, 0.0]])) == 1.0
    z = np.abs(x - 0.5)  # folding maps far points together: intruders
    full = trustworthiness(x, z, max_queries=3000)
    assert trustworthiness(x, z, max_queries=800, seed=1) == pytest.approx(full, abs=0.01)
    assert full < 0.98
    rand = trustworthiness(x, np.random.default_rng(5).random((3000, 2)), max_queries=3000)
    assert rand == pytest.approx(0.5, abs=0.02)  # random latent: intruder ranks uniform over n


def test_k_must_leave_room(square):
    x, q = square
    with pytest.raises(ValueError, match="k = 200"):
        trustworthiness(x, x, k=200)
    with pytest.raises(ValueError, match="k = 400"):
        knn_label_accuracy(x, q, k=400)
