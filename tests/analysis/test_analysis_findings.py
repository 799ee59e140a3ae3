"""The pre-registered findings on constructed results tables whose truth is known."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.findings import CLAIMS, FINDING_COLUMNS, compute_findings, findings_frame
from analysis.stats import INCONCLUSIVE, REFUTED, SUPPORTED

SEEDS = range(16)


def _shares(kept):
    """Per-seed explained shares of the best and worst input direction for a number of kept directions
    (β = 0.1 values: an active direction explains about 0.4)."""
    return {"z_explained_major": [0.4 if k >= 1 else 0.01 for k in kept],
            "z_explained_minor": [0.4 if k == 2 else -0.01 for k in kept]}


def _world(edge_drop=0.3, diamond_at=3e-4, noise=0.02, seed=0):
    """Per-cell means of a study in which every claim of the seed report holds (by default):
    (d, β, λ, schedule) -> {metric: mean, or a list of per-seed values}."""
    edge = {b: 0.95 - edge_drop * math.log10(b / 0.003) for b in (0.003, 0.01, 0.03, 0.1)}  # drop per decade
    cells = {}
    for b, e in edge.items():
        cells[(2, b, 0.0, "constant")] = {"recon_edge_low": e, "recon_edge_high": e, "recon_coverage": 0.95,
                                         "mu_kurtosis_contrast": -0.2, **_shares([2] * 16)}
    cells[(2, 0.01, 3e-4, "constant")] = {"mu_kurtosis_contrast": 0.4 if diamond_at == 3e-4 else -0.2}
    cells[(2, 0.01, 6e-4, "constant")] = {"mu_kurtosis_contrast": 0.4 if diamond_at == 6e-4 else -0.2}
    cells[(2, 0.01, 2e-3, "constant")] = {"recon_edge_low": 0.05}
    kept = {2e-4: [2] * 12 + [1] * 4, 4e-4: [1] * 14 + [2] * 2, 6e-4: [1] * 15 + [0]}
    for lam, k in kept.items():
        cells[(2, 0.1, lam, "constant")] = _shares(k)
    cells[(1, 0.003, 0.0, "constant")] = {"curve_length": 3.0}
    cells[(1, 0.1, 0.0, "constant")] = {"curve_length": 1.2}
    cells[(2, 1.0, 0.0, "linear")] = {"recon_coverage": 0.6}
    for s in ("linear", "sigmoid", "cyclical"):
        cells[(2, 0.01, 0.0, s)] = {"recon_coverage": 0.94}
    rng = np.random.default_rng(seed)
    rows = []
    for (d, b, lam, sched), means in cells.items():
        for s in SEEDS:
            row = {"run_id": f"r{len(rows)}", "status": "ok", "variant": "vae", "latent_dim": d, "beta": b,
                   "l2": lam, "schedule": sched, "steps": 3000, "batch_size": 128, "seed": s}
            for metric, value in means.items():
                row[metric] = float(value[s]) if isinstance(value, list) else value + rng.normal(0, noise)
            rows.append(row)
    return pd.DataFrame(rows)


def _verdicts(results):
    return {f.key: f.verdict for f in compute_findings(results)}


def test_a_world_where_every_claim_holds_supports_every_claim():
    found = compute_findings(_world())
    assert {f.key: f.verdict for f in found} == {c.key: SUPPORTED for c in CLAIMS}
    edges = next(f for f in found if f.key == "beta_edges")
    assert len(edges.parts) == 4 and edges.parts[0][1].estimate == pytest.approx(0.3, abs=0.03)


def test_the_diamond_is_looked_for_at_the_preregistered_lambda_only():
    # the same diamond at λ = 6·10⁻⁴ instead: a finding that picked the λ with the largest contrast from
    # the data would call it supported; the pre-registered comparison (3·10⁻⁴ against 0) sees no change
    assert _verdicts(_world(diamond_at=6e-4))["diamond"] == REFUTED


@pytest.mark.parametrize(("drop", "verdict"), [(0.2, SUPPORTED), (0.05, REFUTED)])
def test_edges_margin_decides_not_significance(drop, verdict):
    # a drop of 0.05 per tenfold β is far from 0 (p < 1e-4 as "δ > 0") but below the 0.10 margin
    assert _verdicts(_world(edge_drop=drop, noise=0.01))["beta_edges"] == verdict


def test_noisy_effect_is_inconclusive_with_the_seeds_that_would_decide_it():
    found = {f.key: f for f in compute_findings(_world(edge_drop=0.2, noise=0.4))}
    f = found["beta_edges"]
    assert f.verdict == INCONCLUSIVE and f.seeds_needed is not None and f.seeds_needed > 16
    assert f"about {f.seeds_needed} seeds" in f.sentence


def test_missing_cells_are_not_testable_and_diverged_runs_are_ignored():
    world = _world()
    no_snake = world[world["latent_dim"] == 2]
    f = {f.key: f for f in compute_findings(no_snake)}["snake"]
    assert f.verdict == INCONCLUSIVE and "Not testable" in f.sentence
    broken = world.copy()
    one_d = broken["latent_dim"] == 1
    broken.loc[one_d, "status"] = "diverged"
    broken.loc[one_d, "curve_length"] = 100.0
    assert {f.key: f for f in compute_findings(broken)}["snake"].verdict == INCONCLUSIVE


def test_tables_show_each_part_with_lambda_times_batch():
    found = compute_findings(_world())
    f = next(f for f in found if f.key == "no_zero")
    assert f.table.columns == FINDING_COLUMNS and len(f.table.rows) == 2
    assert "λ·B = 0.256" in f.table.rows[0][1].text
    frame = findings_frame(found)
    assert len(frame) == sum(len(c.parts) for c in CLAIMS)
    assert set(frame["verdict"]) == {SUPPORTED}
    assert all(0 <= p <= 1 for p in frame["claim_p_holm"]) and not math.isnan(frame["p_for"].iloc[0])
