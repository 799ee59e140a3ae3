"""Is the input's structure kept in the latent? Label k-NN accuracy and trustworthiness.

Both use Euclidean distances in the latent only, so they are invariant to rotations, reflections,
translations and uniform scalings of the latent: an N(0, I) prior does not fix the latent's orientation
(a rotated Φ⁻¹(x) is as good as Φ⁻¹(x)), and these metrics do not care.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from vaebench.metrics._arrays import as_labels, as_points, check_count

QUERY_MAX = 1000  # trustworthiness: points whose neighbourhoods are checked (all of them if n ≤ this)


def neighbours_without_self(points: np.ndarray, k: int) -> np.ndarray:
    """Indices [n, k] of each point's k nearest other points (itself excluded even among exact
    duplicates, ties in the tree's order)."""
    _, idx = cKDTree(points).query(points, k=k + 1)
    is_self = idx == np.arange(len(points))[:, None]
    is_self[~is_self.any(axis=1), -1] = True  # self not returned (duplicates): drop the farthest
    order = np.argsort(is_self, axis=1, kind="stable")
    return np.take_along_axis(idx, order[:, :k], axis=1)


def knn_label_accuracy(latent: Any, labels: Any, k: int = 10) -> float:
    """Leave-one-out k-NN accuracy of predicting ``labels`` [n] (ints) from ``latent`` [n, d].

    Each point's label is predicted by a majority vote of its k = 10 nearest other points in the latent;
    ties go to the tied label whose nearest voter is closest. With the quadrant of x as the label this is
    the seed report's "quadrant preservation": 1 when quadrants stay separated, ≈ the majority class share
    (0.25 for the uniform square) when the latent forgets them.
    """
    z = as_points(latent, "latent")
    n = len(z)
    y = as_labels(labels, "labels", n)
    k = check_count("k", k, 1)
    if k >= n:
        raise ValueError(f"k = {k}: must be smaller than the number of points ({n})")
    _, codes = np.unique(y, return_inverse=True)
    nb = codes[neighbours_without_self(z, k)]
    votes = np.zeros((n, codes.max() + 1))
    # one vote per neighbour plus 2^−(rank+1): the extras sum to < 1, so they only break ties, and the
    # nearest voter's extra outweighs all farther ones together
    weight = 1.0 + 0.5 ** (np.arange(k) + 1.0)
    np.add.at(votes, (np.repeat(np.arange(n), k), nb.ravel()), np.tile(weight, n))
    return float(np.mean(np.argmax(votes, axis=1) == codes))


def trustworthiness(inputs: Any, latent: Any, k: int = 10, *, max_queries: int = QUERY_MAX,
                    seed: int = 0) -> float:
    """Trustworthiness of the latent (Venna & Kaski 2001), in [0, 1]: 1 − penalty for "intruders", points
    among a point's k nearest in the latent that are not among its k nearest in the input.

    T(k) = 1 − 2/(m·k·(2n − 3k − 1)) Σᵢ Σ_{j ∈ U_k(i)} (r(i, j) − k), where r(i, j) is j's rank among i's
    neighbours in the input space (1 = nearest) and U_k(i) the intruders. With m = n query points i this
    is the published definition (as ``sklearn.manifold.trustworthiness``); ranks always run over all n
    points, but for n > ``max_queries`` the sum runs over m = ``max_queries`` query points drawn with
    ``seed`` (an unbiased estimate: ranks of far intruders cost O(n) each). Needs k < n/2.
    ``inputs`` [n, D], ``latent`` [n, d]. 1 when every latent neighbourhood is an input neighbourhood,
    ≈ 0.5 for a latent unrelated to the input (intruder ranks uniform over n).
    """
    x = as_points(inputs, "inputs")
    z = as_points(latent, "latent")
    n = len(x)
    if len(z) != n:
        raise ValueError(f"latent = array of {len(z)} points: must have as many points as inputs ({n})")
    k = check_count("k", k, 1)
    max_queries = check_count("max_queries", max_queries, 1)
    seed = check_count("seed", seed, 0)
    if not k < n / 2:
        raise ValueError(f"k = {k}: trustworthiness needs k < n/2 = {n / 2:g}")
    if n > max_queries:
        query = np.sort(np.random.default_rng(seed).choice(n, max_queries, replace=False))
    else:
        query = np.arange(n)
    near_x = neighbours_without_self(x, k)[query]
    near_z = neighbours_without_self(z, k)[query]
    intruder = ~(near_z[:, :, None] == near_x[:, None, :]).any(axis=2)
    qi, slot = np.nonzero(intruder)
    m = len(query)
    if len(qi) == 0:
        return 1.0
    i, j = query[qi], near_z[qi, slot]
    dist = np.linalg.norm(x[i] - x[j], axis=1)
    # rank = points other than i within distance ‖x_i − x_j‖ of x_i (j itself included); a few ulps of
    # slack so that j, whose distance the tree recomputes, is never lost to rounding
    within = cKDTree(x).query_ball_point(x[i], r=dist * (1 + 8 * np.finfo(float).eps), return_length=True)
    ranks = np.asarray(within) - 1
    return float(1.0 - 2.0 / (m * k * (2 * n - 3 * k - 1)) * np.sum(ranks - k))
