"""Findings on constructed results tables whose truth is known."""

import numpy as np
import pandas as pd
import pytest

from analysis.findings import (
    annealed_vs_fixed,
    beta_tenfold,
    compute_findings,
    findings_frame,
    lambda_shape_then_direction,
    one_d_vs_two_d,
)
from analysis.stats import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED
from analysis.tables import METRICS

SEEDS = range(5)
LOW = (2, 0.0, 0.01, "constant")  # (latent_dim, l2, beta, schedule)
HIGH = (2, 0.0, 0.1, "constant")
ONE_D = (1, 0.0, 0.01, "constant")
LINEAR = (2, 0.0, 0.01, "linear")


def _runs(cells, seeds=SEEDS, noise=0.01, seed=0):
    """One row per (cell, seed): ``cells`` maps a config tuple (latent_dim, l2, beta, schedule) to the
    metric means (role -> value); each run adds Gaussian noise of sd ``noise``."""
    rng = np.random.default_rng(seed)
    rows = []
    for (d, lam, beta, schedule), means in cells.items():
        for s in seeds:
            row = {"run_id": f"r{len(rows)}", "status": "ok", "variant": "vae", "latent_dim": d, "l2": lam,
                   "beta": beta, "schedule": schedule, "steps": 3000, "seed": s}
            for role, value in means.items():
                jitter = 0.0 if role == "directions" else rng.normal(0, noise)
                row[METRICS[role]] = value + jitter
            rows.append(row)
    return pd.DataFrame(rows)


def _verdict(draft_fn, df):
    found = {f.key: f for f in compute_findings(df)}
    return found[draft_fn(df).key]


def test_beta_tenfold_supported_when_boundary_coverage_drops():
    df = _runs({LOW: {"boundary": 0.90}, HIGH: {"boundary": 0.30}})
    f = _verdict(beta_tenfold, df)
    assert f.verdict == SUPPORTED
    c = f.comparisons[0]
    assert c.diff.mean == pytest.approx(0.6, abs=0.03) and c.diff.n == 5 and c.p_holm < 0.05
    assert "0.6" in f.sentence and "n = 5 seed pairs" in f.sentence and "Holm-adjusted p" in f.sentence


def test_beta_tenfold_not_supported_without_a_difference():
    df = _runs({LOW: {"boundary": 0.90}, HIGH: {"boundary": 0.90}},
               noise=0.002)
    assert _verdict(beta_tenfold, df).verdict == NOT_SUPPORTED


def test_beta_tenfold_inconclusive_when_noisy_or_untestable():
    df = _runs({LOW: {"boundary": 0.5}, HIGH: {"boundary": 0.45}},
               seeds=range(3), noise=0.0)
    df[METRICS["boundary"]] = [0.9, 0.1, 0.8, 0.2, 0.5, 0.3]  # differences 0.7, −0.4, 0.5: too noisy
    assert _verdict(beta_tenfold, df).verdict == INCONCLUSIVE
    no_pair = _runs({LOW: {"boundary": 0.9}, (2, 0.0, 0.05, "constant"): {"boundary": 0.1}})
    f = _verdict(beta_tenfold, no_pair)
    assert f.verdict == INCONCLUSIVE and "factor 10" in f.sentence and not f.comparisons


def test_diverged_runs_are_ignored():
    df = _runs({LOW: {"boundary": 0.90}, HIGH: {"boundary": 0.30}})
    bad = df.iloc[:3].assign(status="diverged", recon_boundary_coverage=-100.0, run_id=["d1", "d2", "d3"])
    f = _verdict(beta_tenfold, pd.concat([df, bad]))
    assert f.verdict == SUPPORTED and f.comparisons[0].diff.n == 5


def _lambda_grid(kurt_mid):
    cells = {}
    for lam, dirs, minor, kurt in [(0.0, 2, 0.97, 0.70), (1e-4, 2, 0.95, kurt_mid), (1e-3, 1, 0.02, 0.9),
                                   (1e-2, 0, 0.0, 1.0)]:
        cells[(2, lam, 0.01, "constant")] = {"directions": dirs, "explained_minor": minor, "kurtosis": kurt}
    return _runs(cells)


def test_lambda_shape_then_direction_supported():
    f = _verdict(lambda_shape_then_direction, _lambda_grid(kurt_mid=1.05))
    assert f.verdict == SUPPORTED
    shape, loss = f.comparisons
    assert shape.metric == METRICS["kurtosis"] and shape.a_label == "λ = 0.0001"
    assert loss.metric == METRICS["explained_minor"] and loss.b_label == "λ = 0.001"


def test_lambda_direction_without_shape_change_is_mixed():
    f = _verdict(lambda_shape_then_direction, _lambda_grid(kurt_mid=0.70))
    assert [c.verdict for c in f.comparisons] == [NOT_SUPPORTED, SUPPORTED]
    assert f.verdict == INCONCLUSIVE


def test_lambda_never_losing_a_direction_is_not_supported():
    cells = {(2, lam, 0.01, "constant"): {"directions": 2, "explained_minor": 0.96, "kurtosis": 0.7}
             for lam in (0.0, 1e-4, 1e-3)}
    f = _verdict(lambda_shape_then_direction, _runs(cells))
    assert f.verdict == NOT_SUPPORTED and "no λ of the grid loses" in f.sentence


def test_one_d_vs_two_d():
    df = _runs({LOW: {"coverage": 0.95}, ONE_D: {"coverage": 0.55}})
    assert _verdict(one_d_vs_two_d, df).verdict == SUPPORTED
    only_2d = _runs({LOW: {"coverage": 0.95}})
    f = _verdict(one_d_vs_two_d, only_2d)
    assert f.verdict == INCONCLUSIVE and "1-D" in f.sentence


def test_annealed_vs_fixed():
    same = _runs({LOW: {"coverage": 0.9}, LINEAR: {"coverage": 0.9}},
                 noise=0.005)
    assert _verdict(annealed_vs_fixed, same).verdict == SUPPORTED  # annealing does not improve coverage
    better = _runs({LOW: {"coverage": 0.6}, LINEAR: {"coverage": 0.9}})
    assert _verdict(annealed_vs_fixed, better).verdict == NOT_SUPPORTED


def test_all_findings_share_one_holm_family():
    df = pd.concat([_runs({LOW: {"boundary": 0.9, "coverage": 0.95},
                           HIGH: {"boundary": 0.3, "coverage": 0.9},
                           ONE_D: {"coverage": 0.5}})], ignore_index=True)
    frame = findings_frame(compute_findings(df))
    assert set(frame["finding"]) == {"beta_tenfold", "one_d"}
    m = frame["p"].notna().sum()
    smallest = frame.loc[frame["p"].idxmin()]
    assert smallest["p_holm"] == pytest.approx(min(1.0, m * smallest["p"]))
    with pytest.raises(ValueError, match="alpha = 2"):
        compute_findings(df, alpha=2)
