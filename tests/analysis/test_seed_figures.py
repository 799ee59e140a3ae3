"""The seed-layout figures: rows, columns and panel letters as the seed's Fig. 2, the run drawn in each
panel, the study's default rows, wrapped layouts with no empty position, the prior measure in titles."""

import numpy as np
import pandas as pd
import pytest

from analysis.figures import (
    PRIOR_MEASURES,
    Skip,
    generation_figure,
    overview_figure,
    prior_measure,
    seed_figure,
)
from analysis.scatter_figures import wrap_columns
from analysis.seed_figures import default_rows, seed_cells

N = 300


def _study(lambdas=(0.0, 3e-4, 1e-3, 2e-3, 1e-2), betas=(0.01, 0.1), seeds=(1, 0), d=2):
    rng = np.random.default_rng(0)
    rows, arrays = [], {}
    for lam in lambdas:
        for beta in betas:
            for seed in seeds:
                rid = f"{lam}-{beta}-{seed}"
                x = rng.random((N, 2))
                # each run's latent is marked by its seed: a shift of 0.1 per seed
                mu = (x - 0.5)[:, :d] * 3 + 0.1 * seed
                arrays[rid] = {"x": x, "quadrant": (x[:, 0] >= 0.5) + 2 * (x[:, 1] >= 0.5), "mu": mu,
                               "recon": x, "generated": rng.random((N, 2))}
                rows.append({"run_id": rid, "l2": lam, "beta": beta, "seed": seed, "latent_dim": d,
                             "z_energy_distance": 0.01, "recon_coverage": 0.9})
    return pd.DataFrame(rows), arrays


def _titles(fig):
    return [sub._suptitle.get_text() if sub._suptitle else "" for sub in fig.subfigs]


def test_seed_figure_letters_rows_and_columns_as_the_seed():
    runs, arrays = _study()
    fig = seed_figure(runs, arrays, lambdas=[1e-3, 0.0, 3e-4, 2e-3], beta=0.01,
                      numbers=[("z_energy_distance", "ℰ")])
    titles = _titles(fig)
    assert len(titles) == 8
    # row by row: a) b) on the first row (λ ascending), left column β, right column 10β
    expected = [("a", 0.0, 0.01), ("b", 0.0, 0.1), ("c", 3e-4, 0.01), ("d", 3e-4, 0.1),
                ("e", 1e-3, 0.01), ("f", 1e-3, 0.1), ("g", 2e-3, 0.01), ("h", 2e-3, 0.1)]
    for title, (letter, lam, beta) in zip(titles, expected, strict=True):
        assert title.startswith(f"{letter}) λ = {lam:g}, β = {beta:g}, seed 0"), title
        assert "ℰ 0.01" in title
    assert len(fig.axes) == 16
    # each panel draws the smallest seed's latent (seed 0: no shift)
    first = arrays["0.0-0.01-0"]["mu"]
    np.testing.assert_allclose(fig.subfigs[0].axes[0].collections[0].get_offsets(), first)


def test_seed_figure_says_when_a_panel_is_not_in_the_study():
    runs, arrays = _study()
    runs = runs[~((runs["l2"] == 2e-3) & (runs["beta"] == 0.1))]
    fig = seed_figure(runs, arrays, lambdas=[0.0, 2e-3], beta=0.01)
    titles = _titles(fig)
    assert titles[3].startswith("d) λ = 0.002, β = 0.1") and "not in the study" in titles[3]
    assert len(fig.axes) == 6
    with pytest.raises(ValueError, match="no run"):
        seed_figure(runs, arrays, lambdas=[0.5], beta=0.01)


def test_default_rows_take_a_beta_with_its_tenfold_and_at_most_four_lambdas():
    runs, _ = _study(betas=(0.003, 0.01, 0.1))
    assert default_rows(runs) == ([0.0, 3e-4, 1e-3, 2e-3], 0.01)  # 0.003 has no 0.03
    runs, _ = _study(lambdas=(0.0, 1e-3), betas=(0.003, 0.03, 0.3))
    assert default_rows(runs) == ([0.0, 1e-3], 0.003)  # 10 × 0.003 ≠ 0.03 exactly in floating point
    with pytest.raises(ValueError, match="10β"):
        default_rows(_study(betas=(0.01, 0.03))[0])
    cells = seed_cells(_study()[0], [0.0], 0.01)
    assert list(cells["panel"]) == ["a", "b"] and list(cells["seed"]) == [0, 0]


@pytest.mark.parametrize(("n", "cols"), [(3, 3), (7, 7), (8, 4), (20, 5), (21, 7), (11, 6), (13, 7)])
def test_wrap_columns_leaves_no_empty_position_where_the_count_allows(n, cols):
    assert wrap_columns(n) == cols
    if n > 7:  # the fewest empty positions any width from 3 to 7 leaves
        assert -n % cols == min(-n % c for c in range(3, 8))


def test_overview_and_generation_fill_every_position():
    runs, arrays = _study()
    cells = runs[runs["seed"] == 0].head(8).assign(label=lambda f: [f"cell {i}" for i in range(len(f))])
    fig = overview_figure(cells, arrays, numbers=[("z_energy_distance", "ℰ")])
    assert len(fig.subfigs) == 8 and len(fig.axes) == 16 and all(sub.axes for sub in fig.subfigs)
    gen = generation_figure(runs[runs["seed"] == 0], arrays)  # 10 cells -> 5 columns, 2 rows
    assert len(gen.axes) == 10
    assert {ax.get_subplotspec().colspan.start for ax in gen.axes} == set(range(5))


def test_prior_measure_prefers_the_exact_kl_and_never_the_moment_matched_one():
    frame = pd.DataFrame({"mu_moment_kl": [0.1], "z_energy_distance": [0.02]})
    assert prior_measure(frame)[0] == "z_energy_distance"
    assert prior_measure(frame.assign(exact_marginal_kl=[0.3]))[0] == "exact_marginal_kl"
    assert prior_measure(frame.assign(exact_marginal_kl=[np.nan]))[0] == "z_energy_distance"
    with pytest.raises(Skip):
        prior_measure(frame[["mu_moment_kl"]])
    assert all("moment" not in c for c, _, _ in PRIOR_MEASURES)


def test_figure_builders_take_the_rows_they_are_given():
    from analysis.figures import Inputs, fig_overview, fig_seed

    runs, arrays = _study()
    runs = runs.assign(status="ok", variant="vae", schedule="constant", batch_size=128)
    inp = Inputs(runs, runs, arrays.__getitem__, None, None)
    default = fig_seed(inp, 2)
    assert [r[1].text for r in default.table.rows] == ["0", "0", "0.0003", "0.0003", "0.001", "0.001",
                                                       "0.002", "0.002"]  # the study's four smallest λ
    inp.seed_rows = {2: ([1e-2, 3e-4], 0.01)}  # e.g. a protocol's calibrated panels
    given = fig_seed(inp, 2)
    assert [(r[0].text, r[1].text, r[2].text) for r in given.table.rows] == [
        ("a", "0.0003", "0.01"), ("b", "0.0003", "0.1"), ("c", "0.01", "0.01"), ("d", "0.01", "0.1")]
    # the overview draws exactly the cells the seed figure does not
    other = fig_overview(inp)
    assert sorted((r[1].text, r[2].text) for r in other.table.rows) == sorted(
        [(lam, b) for lam in ("0", "0.001", "0.002") for b in ("0.01", "0.1")])
