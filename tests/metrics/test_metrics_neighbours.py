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


# --- the two routes: the CPU kernel's grid and the KD-tree, against brute force ---------------------------

def _point_sets():
    rng = np.random.default_rng(11)
    u = rng.random((400, 2))
    return {
        "uniform": u,
        "gaussian_outliers": np.r_[rng.standard_normal((397, 2)), [[40.0, -3.0], [-25.0, 60.0], [0, 0]]],
        "one_d": rng.standard_normal((300, 1)),
        "three_d": rng.standard_normal((300, 3)) * [1.0, 0.2, 3.0],
        "thin_line": np.c_[rng.standard_normal(300), 1e-9 * rng.standard_normal(300)],
        "vertical_line": np.c_[np.full(200, 0.5), rng.random(200)],
        # integer coordinates: squared distances exact in any order of operations, so ties are exact
        "lattice_ties": np.stack(np.meshgrid(np.arange(15.0), np.arange(12.0)), -1).reshape(-1, 2),
        "duplicates": np.repeat(np.round(u[:40] * 50), 5, axis=0),
        "one_point": np.array([[0.3, 0.7]]),
        "far_outlier": np.r_[rng.standard_normal((300, 2)), [[1e6, -1e6]]],
        "two_far_clusters": np.r_[rng.random((150, 2)), 1e3 + rng.random((150, 2))],
    }


def _brute(points, queries):
    diff = queries[:, None, :] - points[None, :, :]
    return np.sqrt(np.sum(diff * diff, axis=2))


@pytest.mark.parametrize("name", list(_point_sets()))
def test_query_and_knn_are_the_exact_nearest_points(metrics_route, name):
    pts = _point_sets()[name]
    rng = np.random.default_rng(3)
    lo, hi = pts.min(0), pts.max(0)
    # queries inside, outside and on the points themselves
    queries = np.r_[pts[::7], lo - 1 + (hi - lo + 2) * rng.random((50, pts.shape[1]))]
    ps = PointSet(pts)
    d = _brute(pts, queries)
    for k in sorted({1, min(4, len(pts)), min(11, len(pts)), len(pts)}):
        dist, idx = ps.query(queries, k)
        assert dist.shape == idx.shape == (len(queries), k)
        want = np.sort(d, axis=1)[:, :k]
        np.testing.assert_allclose(dist, want, rtol=1e-12, atol=1e-12)
        # the indices are points at those distances, each once
        np.testing.assert_allclose(np.take_along_axis(d, idx, axis=1), want, rtol=1e-12, atol=1e-12)
        assert all(len(set(row)) == k for row in idx)
        if metrics_route == "kernel":  # ties in index order: the lexicographic (distance², index) order
            order = np.lexsort((np.broadcast_to(np.arange(len(pts)), d.shape), d ** 2), axis=1)[:, :k]
            if name in ("lattice_ties", "duplicates"):  # exact ties everywhere
                assert np.array_equal(idx, order)
            sq = np.take_along_axis(d, order, axis=1)
            tie_free = ~np.any(np.isclose(sq[:, 1:], sq[:, :-1], rtol=1e-12, atol=0), axis=1)
            assert np.array_equal(idx[tie_free], order[tie_free])
    k = min(6, len(pts))
    self_dist, self_idx = ps.knn(k)
    np.testing.assert_allclose(self_dist, np.sort(_brute(pts, pts), axis=1)[:, :k], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(_point_sets()))
def test_count_within_counts_points_strictly_inside(metrics_route, name):
    pts = _point_sets()[name]
    rng = np.random.default_rng(5)
    centres = np.r_[pts[::5], pts.min(0) + (pts.max(0) - pts.min(0) + 1) * rng.random((30, pts.shape[1]))]
    d = _brute(pts, centres)
    ps = PointSet(pts)
    far = np.full(len(centres), 10 * d.max() + 1)
    for radii in (rng.random(len(centres)) * d.max(), np.zeros(len(centres)), far,
                  d[np.arange(len(centres)), rng.integers(0, len(pts), len(centres))]):
        got = ps.count_within(centres, radii)
        want = np.sum(d < radii[:, None], axis=1)
        # a point within rounding of the radius may fall either side (its distance is computed once
        # more, in another order of operations): compare the other centres
        edge = np.any(np.isclose(d, radii[:, None], rtol=1e-12, atol=1e-300), axis=1)
        assert np.array_equal(got[~edge], want[~edge])
        assert np.all(np.abs(got[edge] - want[edge]) <= np.sum(np.isclose(d, radii[:, None], rtol=1e-12,
                                                                          atol=1e-300), axis=1)[edge])
    # the ball through a point's k-th nearest neighbour (its own query's distance) holds k − 1 others
    # strictly inside where no two of them tie: the "strictly" of Naeem et al.'s coverage
    k = min(6, len(pts))
    dist = ps.knn(k)[0]
    tie_free = ~np.any(np.isclose(dist[:, 1:], dist[:, :-1], rtol=1e-9, atol=0), axis=1)
    if k < len(pts):
        tie_free &= ~np.isclose(ps.knn(k + 1)[0][:, k], dist[:, -1], rtol=1e-9, atol=0)
    counts = ps.count_within(pts, dist[:, -1])
    assert np.array_equal(counts[tie_free], np.full(tie_free.sum(), k - 1))


def test_query_refuses_k_outside_the_points():
    ps = PointSet(np.random.default_rng(0).random((5, 2)))
    for k in (0, 6):
        with pytest.raises(ValueError, match=f"k = {k}: must be between 1 and the number of points"):
            ps.query(ps.points, k)


def test_kernel_and_tree_give_the_same_metrics_on_tie_free_data(monkeypatch):
    from vaebench import cpu_kernel
    from vaebench.metrics._neighbours import clear_shared

    if cpu_kernel.load() is None:
        pytest.skip("no C compiler: the CPU kernel is not built here")
    rng = np.random.default_rng(8)
    x = rng.random((1500, 2))
    labels = (x[:, 0] > 0.4).astype(int) + 2 * (x[:, 1] > 0.6)
    fake = np.clip(x + 0.05 * rng.standard_normal(x.shape), 0, 1)

    def metrics():
        clear_shared()
        out = []
        for z in (x + 0.02 * rng.standard_normal(x.shape), rng.standard_normal(x.shape), x[:, :1] ** 2):
            out += [trustworthiness(x, z, 10, max_queries=400, seed=2), knn_label_accuracy(z, labels, 10)]
        cov, dens = coverage_and_density(x, fake, 5)
        return [*out, float(cov.mean()), dens]

    rng = np.random.default_rng(8)
    kernel = metrics()
    monkeypatch.setenv(cpu_kernel.ENV, "torch")
    rng = np.random.default_rng(8)
    tree = metrics()
    np.testing.assert_allclose(kernel, tree, rtol=1e-12)


def test_shared_points_are_one_object_per_distinct_point_set(monkeypatch):
    from vaebench.metrics import _neighbours

    _neighbours.clear_shared()
    rng = np.random.default_rng(1)
    a, b = rng.random((100, 2)), rng.random((100, 2))
    first = _neighbours.shared_points(a, "x")
    assert _neighbours.shared_points(a.copy(), "x") is first  # equal points, another array
    assert _neighbours.shared_points(b, "x") is not first
    assert _neighbours.shared_points(a.reshape(200, 1), "x") is not first  # same bytes, other shape
    monkeypatch.setattr(_neighbours, "SHARED_POINTS", 250)
    _neighbours.shared_points(rng.random((100, 2)), "x")  # 100 + 100 + 200 + 100 > 250: oldest out
    assert _neighbours.shared_points(a, "x") is not first
    _neighbours.clear_shared()


def test_threads_sharing_a_point_set_get_one_threads_answers(metrics_route):
    """Evaluation threads share x's PointSet: its grid or tree is built once and never replaced under a
    query that is reading it (a replaced grid's arrays would be freed mid-call)."""
    import threading

    rng = np.random.default_rng(9)
    x = rng.random((3000, 2))
    want = PointSet(x).query(x[:500], 7)
    for _ in range(20):
        ps, out = PointSet(x), []

        def work(ps=ps, out=out):
            out.append(ps.query(x[:500], 7))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(out) == 4
        for dist, idx in out:
            assert np.array_equal(dist, want[0]) and np.array_equal(idx, want[1])


def _many_duplicates(seed: int = 0) -> np.ndarray:
    """1 000 points on 9 lattice sites (the origin, 4 at distance 1, 4 at √2) plus 100 scattered points,
    about 100 copies per site with shuffled indices: every query at a site or at the origin ties over
    hundreds of points, spread over several grid cells in index order."""
    rng = np.random.default_rng(seed)
    sites = np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [1, -1], [-1, 1], [-1, -1]], float)
    pts = np.r_[np.repeat(sites, 100, axis=0), np.round(rng.uniform(-3, 3, (100, 2)) * 4) / 4]
    return pts[rng.permutation(len(pts))]


@pytest.mark.parametrize("seed", [0, 1])
def test_ties_among_many_duplicates_match_brute_force(metrics_route, seed):
    """Hundreds of exact ties (points and queries on a quarter lattice: every distance² is exact): the k
    nearest are the brute-force ones; on the kernel's route exactly the (distance², index) order, so the
    k-th place among hundreds of equal distances goes to the smallest indices."""
    pts = _many_duplicates(seed)
    queries = np.r_[[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [1.0, 1.0], [-1.0, 0.0], [3.0, 3.0]], pts[::97]]
    d = _brute(pts, queries)
    ps = PointSet(pts)
    for k in (1, 50, 99, 100, 101, 150, 450, 900, len(pts)):
        dist, idx = ps.query(queries, k)
        want = np.sort(d, axis=1)[:, :k]
        np.testing.assert_array_equal(dist, want)
        np.testing.assert_array_equal(np.take_along_axis(d, idx, axis=1), want)
        assert all(len(set(row)) == k for row in idx)
        if metrics_route == "kernel":
            order = np.lexsort((np.broadcast_to(np.arange(len(pts)), d.shape), d ** 2), axis=1)[:, :k]
            np.testing.assert_array_equal(idx, order)


def test_neighbours_without_self_and_counts_among_many_duplicates(metrics_route):
    pts = _many_duplicates(2)
    d = _brute(pts, pts)
    for k in (5, 99, 120):
        near = neighbours_without_self(pts, k)
        assert not (near == np.arange(len(pts))[:, None]).any()  # never itself, though ~99 copies sit on it
        nd = np.take_along_axis(d, near, axis=1)
        off = d + np.diag(np.full(len(pts), np.inf))
        np.testing.assert_array_equal(nd, np.sort(off, axis=1)[:, :k])
    # strictly inside: the ~400 copies at distance 1 from the origin lie on its ball's sphere, not inside
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 0.0], [0.5, 0.5]])
    radii = np.array([1.0, 1.0, 0.5, 0.75])
    counts = PointSet(pts).count_within(centres, radii)
    np.testing.assert_array_equal(counts, (_brute(pts, centres) < radii[:, None]).sum(axis=1))
    assert ((pts ** 2).sum(axis=1) <= 1).sum() - counts[0] >= 400


def test_a_point_set_shared_by_threads_builds_its_structure_once(metrics_route, monkeypatch):
    """A race made likely: the build is slowed (a sleep inside it) and several threads released at once
    ask for it; with the lock one thread builds and the others wait for that one structure."""
    import threading
    import time

    from vaebench.metrics import _neighbours

    builds, real_grid, real_tree = [], _neighbours._Grid, _neighbours.cKDTree

    def slow(real):
        def build(points, **options):
            builds.append(threading.get_ident())
            time.sleep(0.2)  # the window in which an unlocked second thread would start its own build
            return real(points, **options)
        return build

    monkeypatch.setattr(_neighbours, "_Grid", slow(real_grid))
    monkeypatch.setattr(_neighbours, "cKDTree", slow(real_tree))
    x = np.random.default_rng(5).random((400, 2))
    want = PointSet(x).query(x[:50], 4)
    builds.clear()
    ps, out, counts, gate = PointSet(x), [], [], threading.Barrier(4)
    want_counts = PointSet(x).count_within(x[:10], np.full(10, 0.1))
    builds.clear()

    def work():
        gate.wait(timeout=30)
        out.append(ps.query(x[:50], 4))
        counts.append(ps.count_within(x[:10], np.full(10, 0.1)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads) and len(out) == len(counts) == 4
    assert len(builds) == 1, f"{len(builds)} builds by threads {builds}"
    for (dist, idx), c in zip(out, counts, strict=True):
        assert np.array_equal(dist, want[0]) and np.array_equal(idx, want[1])
        assert np.array_equal(c, want_counts)


def test_the_tree_of_many_duplicates_builds_in_a_thread_that_flushes_denormals(tmp_path):
    """Training leaves its thread flushing denormals (torch.set_flush_denormal, per thread); the fallback
    route's KD-tree of many duplicated points is then built in that thread (Dask runs a shard's training
    and evaluation in one). scipy's median-split build segfaulted there: run it in a subprocess, so a crash
    is a failure of this test, not of the suite."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "build.py"
    script.write_text(
        "import sys, numpy as np, torch\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_metrics_neighbours import _many_duplicates\n"
        "from vaebench.metrics._neighbours import PointSet\n"
        "torch.set_flush_denormal(True)\n"
        "for seed in range(3):\n"
        "    ps = PointSet(_many_duplicates(seed))\n"
        "    dist, _ = ps.tree.query(ps.points[:5], 150)\n"
        "    assert dist.shape == (5, 150)\n"
        "print('built')\n")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=root, env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0 and done.stdout.strip() == "built", (done.returncode, done.stderr[-2000:])
