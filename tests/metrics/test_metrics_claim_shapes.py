"""The metrics added for issue 20's claims, against closed forms and published definitions."""

import math

import numpy as np
import pytest
from scipy import stats

from vaebench.metrics.affine import affine_r2
from vaebench.metrics.continuity import continuity
from vaebench.metrics.curve import polyline_fill, polyline_turns
from vaebench.metrics.latent_signal import latent_signal, signal_shares
from vaebench.metrics.shape import diagonal_alignment, shape_metrics


def _square(n=20000, seed=0, angle=0.0):
    u = np.random.default_rng(seed).random((n, 2)) - 0.5
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return u @ np.array([[c, s], [-s, c]])


@pytest.mark.parametrize(("angle", "want"), [(0.0, -1.0), (45.0, 1.0), (22.5, 0.0), (-45.0, 1.0)])
def test_diagonal_alignment_of_a_turned_square(angle, want):
    got = shape_metrics(_square(angle=angle))
    assert diagonal_alignment(got["orientation_deg"]) == pytest.approx(want, abs=0.05)
    assert got["squareness"] == pytest.approx(3 / 7, abs=0.02)
    assert diagonal_alignment(math.nan) != diagonal_alignment(math.nan)


def test_random_tilts_average_to_no_alignment():
    rng = np.random.default_rng(1)
    values = [diagonal_alignment(a) for a in rng.uniform(-45, 45, 4000)]
    assert np.mean(values) == pytest.approx(0.0, abs=0.04)  # E cos 4θ = 0 for θ uniform


def _linear_vae_latent(shares, n=40000, seed=0):
    """Encoder means and log-variances of the linear β-VAE optimum (FACTS): an active direction has
    posterior variance 1 − s and Var(μ) = s (whitened data), rotated by 30°."""
    rng = np.random.default_rng(seed)
    s = np.asarray(shares)
    mu = rng.normal(size=(n, 2)) * np.sqrt(s)
    t = math.radians(30)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return mu @ rot, np.log(np.broadcast_to(1 - s, (n, 2)))


def test_signal_shares_equal_the_linear_vae_closed_form():
    beta, sigma2, xi2 = 0.1, 0.5, 1 / 12
    s_active = 1 - beta * sigma2 / xi2  # 0.4
    mu, logvar = _linear_vae_latent([s_active, s_active])
    # the rotation mixes the two axes' noise only when the noise differs; equal noise: shares unchanged
    got = signal_shares(mu, logvar)
    assert got == pytest.approx([s_active, s_active], abs=0.02)
    assert latent_signal(mu, logvar)["latent_bands"] == 0.0


def test_bands_one_direction_encodes_the_other_is_noise():
    rng = np.random.default_rng(2)
    n = 40000
    mu = np.column_stack([rng.normal(size=n) * math.sqrt(0.4), np.full(n, 0.01)])
    logvar = np.log(np.column_stack([np.full(n, 0.6), np.full(n, 0.999)]))
    got = latent_signal(mu, logvar)
    assert got["latent_signal_major"] == pytest.approx(0.4, abs=0.02)
    assert got["latent_signal_minor"] == pytest.approx(0.0, abs=1e-3)
    assert got["latent_bands"] == 1.0
    # invariant to a linear map of the latent (shares are canonical correlations)
    # scaled latent axes (with their noise): the shares do not change
    scaled = latent_signal(mu * [3.0, 0.5], logvar + np.log([9.0, 0.25]))
    assert scaled["latent_signal_major"] == pytest.approx(got["latent_signal_major"], abs=1e-9)
    det = latent_signal(mu, np.full_like(logvar, -np.inf))
    assert math.isnan(det["latent_signal_major"])  # a deterministic encoder has no noise to compare with
    ae = latent_signal(rng.normal(size=(n, 2)), np.full((n, 2), -np.inf))  # μ spans the plane, σ = 0
    assert all(math.isnan(v) for v in ae.values())


def test_signal_shares_average_the_posterior_variance_not_its_log():
    # law of total variance: Var(z) = Var(μ) + E[σ²]; σ² = 0.1 on half the points and 0.9 on the other
    # half: E[σ²] = 0.5 and the share is 0.4 / 0.9 (exp E[ln σ²] = 0.3 would give 0.4 / 0.7)
    rng = np.random.default_rng(6)
    n = 40000
    mu = rng.normal(size=(n, 1)) * math.sqrt(0.4)
    var = np.where(np.arange(n)[:, None] % 2 == 0, 0.1, 0.9)
    z = mu + np.sqrt(var) * rng.normal(size=(n, 1))  # the share by simulation, Var(μ) / Var(z)
    assert signal_shares(mu, np.log(var)) == pytest.approx([0.4 / 0.9], abs=0.01)
    assert signal_shares(mu, np.log(var))[0] == pytest.approx(mu.var() / z.var(), abs=0.01)

def test_affine_r2_of_the_probit_map_is_three_over_pi():
    x = np.random.default_rng(3).random((200000, 2))
    assert affine_r2(x, stats.norm.ppf(x)) == pytest.approx(3 / math.pi, abs=2e-3)
    rot = np.array([[0.0, -1.0], [-1.0, 0.0]])  # a reflection
    assert affine_r2(x, x @ rot * 3 + 5) == pytest.approx(1.0, abs=1e-12)
    fold = np.column_stack([np.abs(x[:, 0] - 0.5), x[:, 1]])  # two input halves on one latent point
    # |x₁ − ½| (variance 1/48) is uncorrelated with x: R² = (1/12) / (1/12 + 1/48) = 0.8
    assert affine_r2(x, fold) == pytest.approx(0.8, abs=3e-3)
    assert math.isnan(affine_r2(x, np.ones((len(x), 2))))


def _continuity_by_definition(x, z, k):
    """Venna & Kaski 2001 written out: ranks from full distance matrices."""
    n = len(x)
    dx = np.linalg.norm(x[:, None] - x[None], axis=-1)
    dz = np.linalg.norm(z[:, None] - z[None], axis=-1)
    np.fill_diagonal(dx, np.inf)
    np.fill_diagonal(dz, np.inf)
    total = 0.0
    for i in range(n):
        near_x = set(np.argsort(dx[i], kind="stable")[:k])
        near_z = set(np.argsort(dz[i], kind="stable")[:k])
        rank_z = stats.rankdata(dz[i], method="max")  # 1 = nearest
        total += sum(rank_z[j] - k for j in near_x - near_z)
    return 1 - 2 / (n * k * (2 * n - 3 * k - 1)) * total


@pytest.mark.parametrize("case", ["projection", "noise", "fold"])
def test_continuity_equals_its_definition(case):
    rng = np.random.default_rng(4)
    x = rng.random((300, 2))
    z = {"projection": x[:, :1], "noise": x + rng.normal(0, 0.2, x.shape),
         "fold": np.column_stack([np.abs(x[:, 0] - 0.5), x[:, 1]])}[case]
    assert continuity(x, z, 10) == pytest.approx(_continuity_by_definition(x, z, 10), abs=1e-12)


def test_continuity_sees_tearing_not_false_neighbours():
    rng = np.random.default_rng(5)
    x = rng.random((600, 2))
    assert continuity(x, x * 2 + 1, 10) == pytest.approx(1.0)
    assert continuity(x, rng.normal(size=(600, 2)), 10) == pytest.approx(0.5, abs=0.03)
    torn = np.column_stack([(x[:, 0] + 0.5) % 1.0, x[:, 1]])  # the square cut and its halves swapped
    assert continuity(x, torn, 10) < continuity(x, x, 10) - 0.02


def test_turns_of_closed_form_curves():
    t = np.linspace(0, math.pi, 2001)
    half_circle = np.column_stack([np.cos(t), np.sin(t)])
    assert polyline_turns([[0, 0], [1, 1]]) == 0.0
    assert polyline_turns(half_circle) == pytest.approx(1.0, abs=1e-3)
    assert polyline_turns([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]) == pytest.approx(1.5)
    snake = [[0, 0], [1, 0], [1, 0.25], [0, 0.25], [0, 0.5], [1, 0.5], [1, 0.75], [0, 0.75]]
    assert polyline_turns(snake) == pytest.approx(3.0)  # 4 passes, 3 U-turns of two right angles
    assert polyline_turns([[0, 0], [0, 0], [1, 0]]) == 0.0  # repeated points skipped


def test_fill_of_closed_form_curves():
    assert polyline_fill([[-1, 0.5], [2, 0.5]]) == pytest.approx(0.2)  # a band 2h wide
    diagonal = 1 - (1 - 0.1 * math.sqrt(2)) ** 2  # the square minus two corner triangles
    assert polyline_fill([[0, 0], [1, 1]]) == pytest.approx(diagonal, abs=0.01)
    perimeter = 1 - 0.8 ** 2
    assert polyline_fill([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]) == pytest.approx(perimeter, abs=0.01)
    ys = np.linspace(0.1, 0.9, 5)
    passes = [[x, y] for i, y in enumerate(ys) for x in ((0, 1) if i % 2 == 0 else (1, 0))]
    assert polyline_fill(passes) == pytest.approx(1.0, abs=0.01)  # passes 0.2 apart: every point within h
    with pytest.raises(ValueError, match="radius = -0.1"):
        polyline_fill(passes, radius=-0.1)
