"""Is the input's structure kept in the latent? Label k-NN accuracy and trustworthiness.

Both use Euclidean distances in the latent only, so they are invariant to rotations, reflections,
translations and uniform scalings of the latent: an N(0, I) prior does not fix the latent's orientation
(a rotated Φ⁻¹(x) is as good as Φ⁻¹(x)), and these metrics do not care.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vaebench import cpu_kernel
from vaebench.metrics._arrays import as_labels, check_count
from vaebench.metrics._neighbours import PointSet, neighbours_without_self

QUERY_MAX = 1000  # trustworthiness: points whose neighbourhoods are checked (all of them if n ≤ this)
RANK_BLOCK = 1 << 18  # trustworthiness: squared distances per block of query rows (2 MiB of float64)


def knn_label_accuracy(latent: Any, labels: Any, k: int = 10) -> float:
    """Leave-one-out k-NN accuracy of predicting ``labels`` [n] (ints) from ``latent`` [n, d].

    Each point's label is predicted by a majority vote of its k = 10 nearest other points in the latent;
    ties go to the tied label whose nearest voter is closest. With the quadrant of x as the label this is
    the seed report's "quadrant preservation": 1 when quadrants stay separated, ≈ the majority class share
    (0.25 for the uniform square) when the latent forgets them.
    """
    z = PointSet.of(latent, "latent")
    n = len(z)
    y = as_labels(labels, "labels", n)
    k = check_count("k", k, 1)
    if k >= n:
        raise ValueError(f"k = {k}: must be smaller than the number of points ({n})")
    _, codes = np.unique(y, return_inverse=True)
    nb = codes[neighbours_without_self(z, k)]
    n_codes = int(codes.max()) + 1
    # one vote per neighbour plus 2^−(rank+1): the extras sum to < 1, so they only break ties, and the
    # nearest voter's extra outweighs all farther ones together
    weight = 1.0 + 0.5 ** (np.arange(k) + 1.0)
    cell = (np.arange(n)[:, None] * n_codes + nb).ravel()
    votes = np.bincount(cell, weights=np.tile(weight, n), minlength=n * n_codes).reshape(n, n_codes)
    return float(np.mean(np.argmax(votes, axis=1) == codes))


def trustworthiness(inputs: Any, latent: Any, k: int = 10, *, max_queries: int = QUERY_MAX,
                    seed: int = 0) -> float:
    """Trustworthiness of the latent (Venna & Kaski 2001), in [0, 1]: 1 − penalty for "intruders", points
    among a point's k nearest in the latent that are not among its k nearest in the input.

    T(k) = 1 − 2/(m·k·(2n − 3k − 1)) Σᵢ Σ_{j ∈ U_k(i)} (r(i, j) − k), where r(i, j) is j's rank among i's
    neighbours in the input space (1 = nearest) and U_k(i) the intruders. With m = n query points i this
    is the published definition (as ``sklearn.manifold.trustworthiness``); ranks always run over all n
    points, but for n > ``max_queries`` the sum runs over m = ``max_queries`` query points drawn with
    ``seed`` (an unbiased estimate; the ranks cost m·n distances). Needs k < n/2.
    ``inputs`` [n, D], ``latent`` [n, d]. 1 when every latent neighbourhood is an input neighbourhood,
    ≈ 0.5 for a latent unrelated to the input (intruder ranks uniform over n).
    """
    xs = PointSet.of(inputs, "inputs")
    zs = PointSet.of(latent, "latent")
    n = len(xs)
    if len(zs) != n:
        raise ValueError(f"latent = array of {len(zs)} points: must have as many points as inputs ({n})")
    k = check_count("k", k, 1)
    max_queries = check_count("max_queries", max_queries, 1)
    seed = check_count("seed", seed, 0)
    if not k < n / 2:
        raise ValueError(f"k = {k}: trustworthiness needs k < n/2 = {n / 2:g}")
    if n > max_queries:
        query = np.sort(np.random.default_rng(seed).choice(n, max_queries, replace=False))
    else:
        query = np.arange(n)
    near_x = neighbours_without_self(xs, k, query)
    near_z = neighbours_without_self(zs, k, query)
    intruder = ~(near_z[:, :, None] == near_x[:, None, :]).any(axis=2)
    if not intruder.any():
        return 1.0
    return float(1.0 - 2.0 / (len(query) * k * (2 * n - 3 * k - 1)) * _intruder_rank_excess(
        xs, query, near_z, intruder, k))


def _intruder_rank_excess(xs: PointSet, query: np.ndarray, near_z: np.ndarray, intruder: np.ndarray,
                          k: int) -> float:
    """Σ over query points i and their intruders j of (r(i, j) − k), r(i, j) = #{l ≠ i: ‖x_l − x_i‖ ≤
    ‖x_j − x_i‖} (j itself included), without sorting: each intruder's squared distance is compared with
    the squared distances of the points around i (each computed in the same arithmetic, so j meets its
    own threshold exactly). In the CPU kernel (``vb_rank_counts``: the grid cells of the ball around i
    where the ranks are small, else one pass over all n points), else in NumPy blocks of all n points
    (:func:`_rank_counts_numpy`); the two differ only for points within rounding of j's distance."""
    rows = np.flatnonzero(intruder.any(axis=1))
    n_intruders = int(intruder.sum())
    lib = cpu_kernel.load()
    if lib is None:
        candidates = np.where(intruder[rows], near_z[rows], -1)  # [r, k], −1: not an intruder
        within = _rank_counts_numpy(xs.points, query[rows], candidates)
    else:
        grid = xs.grid()
        centres = np.ascontiguousarray(xs.points[query[rows]].T)
        groups = np.concatenate([[0], np.cumsum(intruder[rows].sum(axis=1))]).astype(np.int64)
        pairs = np.ascontiguousarray(grid.position[near_z[rows][intruder[rows]]])
        scratch = np.empty(len(xs))
        within = lib.vb_rank_counts(grid.address, len(rows), centres.ctypes.data, groups.ctypes.data,
                                    pairs.ctypes.data, scratch.ctypes.data)
    return within - n_intruders - k * n_intruders  # − 1 per intruder: i itself (distance 0) counts


def _rank_counts_numpy(x: np.ndarray, centres: np.ndarray, candidates: np.ndarray) -> int:
    """Σ over rows and their candidates j ≥ 0 of #{l: ‖x_l − x_c‖² ≤ ‖x_j − x_c‖²} (c the row's centre, l = c
    included), in row blocks of squared distances in the Gram form ‖x_l‖² + ‖x_c‖² − 2x_lᵀx_c."""
    block = max(1, RANK_BLOCK // len(x))
    norms = np.einsum("ij,ij->i", x, x)
    minus_two_xt = -2.0 * x.T
    total = 0
    for start in range(0, len(centres), block):
        centre = centres[start:start + block]
        cand = candidates[start:start + block]
        sq = x[centre] @ minus_two_xt  # one BLAS product and two additions per block
        sq += norms
        sq += norms[centre, None]
        # each row's candidates' squared distances, largest first; −inf pads (nothing is ≤ −inf)
        mask = cand >= 0
        thresholds = np.where(mask, np.take_along_axis(sq, np.maximum(cand, 0), axis=1), -np.inf)
        thresholds = -np.sort(-thresholds, axis=1)[:, :int(mask.sum(axis=1).max())]
        total += sum(np.count_nonzero(sq <= thresholds[:, s, None]) for s in range(thresholds.shape[1]))
    return int(total)
