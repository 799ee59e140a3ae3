"""Bad arrays give a clear ValueError naming the argument (or NaN with a stated reason), never a crash deep
inside scipy."""

import math
import types

import numpy as np
import pytest
import torch

from vaebench import metrics as M

pytestmark = pytest.mark.reliability

RNG = np.random.default_rng(0)
GOOD = RNG.standard_normal((200, 2))
OTHER = RNG.random((150, 2))
LABELS = RNG.integers(0, 4, 200)
WITH_NAN = GOOD.copy()
WITH_NAN[7, 1] = np.nan
WITH_INF = GOOD.copy()
WITH_INF[3, 0] = np.inf
CUBE = np.zeros((10, 2, 2))

# (function, arguments, the argument the message must name)
CASES = {
    "gaussianity-shape": (M.gaussianity, (CUBE,), "z = array of shape"),
    "gaussianity-nan": (M.gaussianity, (WITH_NAN,), "z = array with 1 non-finite"),
    "gaussianity-few": (M.gaussianity, (GOOD[:10],), "z = array of 10 points"),
    "gaussianity-alpha": (M.gaussianity, (GOOD, 1.5), "alpha = 1.5"),
    "henze-zirkler-inf": (M.henze_zirkler, (WITH_INF,), "z = array with 1 non-finite"),
    "henze-zirkler-few": (M.henze_zirkler, (GOOD[:3],), "z = array of 3 points"),
    "mardia-constant": (M.mardia, (np.ones((50, 2)),), "singular covariance"),
    "shapiro-2d": (M.shapiro_wilk, (GOOD,), "x = array of shape"),
    "dagostino-few": (M.dagostino_pearson, (GOOD[:12, 0],), "x = array of 12 points"),
    "anderson-constant": (M.anderson_darling, (np.full(30, 2.0),), "constant"),
    "ks-string": (M.ks_standard_normal, ("abc",), "x = str object"),
    "coverage-k": (M.coverage, (GOOD[:5], OTHER, 5), "k = 5: must be smaller"),
    "coverage-dims": (M.coverage, (GOOD, OTHER[:, :1]), "fake = array of shape"),
    "density-nan": (M.density, (GOOD, WITH_NAN), "fake = array with 1 non-finite"),
    "density-k": (M.density, (GOOD, OTHER, 0), "k = 0"),
    "boundary-nan": (M.boundary_coverage, (WITH_NAN, OTHER), "real = array with 1 non-finite"),
    "corner-constant": (M.corner_coverage, (np.column_stack([GOOD[:, 0], np.zeros(200)]), OTHER),
                        "positive width"),
    "mse-shape": (M.mse, (GOOD, OTHER), "recon = array of shape"),
    "knn-labels": (M.knn_label_accuracy, (GOOD, LABELS[:20]), "labels = array of shape"),
    "knn-float-labels": (M.knn_label_accuracy, (GOOD, LABELS + 0.5), "labels = array of dtype"),
    "trust-lengths": (M.trustworthiness, (GOOD, OTHER), "latent = array of 150 points"),
    "active-few": (M.active_units, (GOOD[:1],), "mu = array of 1 points"),
    "kl-shape": (M.kl_per_dimension, (GOOD, GOOD[:, :1]), "logvar = array of shape"),
    "likelihood-model": (M.likelihood_bounds, (object(), GOOD), "model = object object"),
    "energy-nan": (M.energy_distance, (WITH_NAN,), "z = array with 1 non-finite"),
    "moment-kl-few": (M.moment_kl, (GOOD[:1],), "z = array of 1 points"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_arrays_raise_a_value_error_naming_the_argument(case):
    fn, args, match = CASES[case]
    with pytest.raises(ValueError) as err:
        fn(*args)
    assert match in str(err.value)


def test_bad_keyword_values_are_named():
    with pytest.raises(ValueError, match="cells = 0"):
        M.grid_occupancy(GOOD, OTHER, cells=0)
    with pytest.raises(ValueError, match="p = 0.5"):
        M.sliced_wasserstein(GOOD, OTHER, p=0.5)
    with pytest.raises(ValueError, match="n_projections = 0"):
        M.sliced_wasserstein(GOOD, OTHER, n_projections=0)
    with pytest.raises(ValueError, match="recon_var = -1"):
        M.likelihood_bounds(types.SimpleNamespace(encode=None, decode=None), GOOD, recon_var=-1)
    with pytest.raises(ValueError, match="seed = -1"):
        M.shapiro_wilk(GOOD[:, 0], seed=-1)
    with pytest.raises(ValueError, match="k = True"):
        M.knn_label_accuracy(GOOD, LABELS, k=True)


def test_a_constant_latent_gives_nan_with_a_stated_reason_not_an_error():
    res = M.gaussianity(np.full((100, 2), 0.5))
    assert res["singular"] == 1.0 and math.isnan(res["hz_pvalue"]) and math.isnan(res["moment_kl"])
    assert res["rejected"] == 1.0
    assert M.active_units(np.full((100, 2), 0.5)) == 0
    assert 0.0 <= M.knn_label_accuracy(np.zeros((200, 2)), LABELS) <= 1.0
    assert 0.0 <= M.trustworthiness(GOOD, np.zeros((200, 2))) <= 1.0


def test_tensors_and_lists_are_accepted():
    t = torch.from_numpy(GOOD).float().requires_grad_()
    assert M.coverage(t, GOOD.tolist()) == M.coverage(GOOD.astype(np.float32), GOOD)
