import numpy as np
import pytest
from scipy import stats

from vaebench.data import list_datasets, quadrant, sample


@pytest.mark.parametrize("name", ["uniform", "gaussian_mixture", "ring", "checkerboard", "moons"])
def test_every_dataset_is_a_function_of_name_n_seed(name):
    a, b, c = sample(name, 500, 7), sample(name, 500, 7), sample(name, 500, 8)
    assert a.shape == (500, 2) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert name in list_datasets()


def test_uniform_is_uniform_on_the_unit_square():
    x = sample("uniform", 20_000, 0)
    for j in range(2):  # KS against U[0, 1] per coordinate, and independence of the coordinates
        assert stats.kstest(x[:, j], "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(x.T)[0, 1]) < 0.03
    assert x.min() >= 0 and x.max() < 1


def test_checkerboard_occupies_only_dark_cells():
    x = sample("checkerboard", 4000, 1)
    cells = np.floor(x * 4).astype(int)
    assert np.all((cells[:, 0] - cells[:, 1]) % 2 == 0)  # column parity equals row parity
    assert len({tuple(c) for c in cells}) == 8


def test_quadrant_labels():
    x = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9], [0.5, 0.5]])
    assert quadrant(x).tolist() == [0, 1, 2, 3, 3]


def test_bad_names_and_sizes_are_rejected():
    with pytest.raises(ValueError, match=r"dataset = 'square': must be one of"):
        sample("square", 10, 0)
    with pytest.raises(ValueError, match=r"n = 0"):
        sample("uniform", 0, 0)
