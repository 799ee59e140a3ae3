"""The pilot's calibration: panels located by phenomena, tilt convergence, seeds per claim."""

import math

import numpy as np
import pandas as pd

from analysis.calibrate import locate_panels, seeds_per_claim, tilt_converged
from analysis.findings import PROTOCOL

LADDER = [0.0, 1e-4, 2e-4, 3e-4, 5e-4, 7e-4, 1e-3]


def _ladder(two_d_shares, n=8):
    rows = []
    for lam, share in zip(LADDER, two_d_shares, strict=True):
        k = round(share * n)
        for s in range(n):
            rows.append({"latent_dim": 2, "beta": 0.01, "steps": 3000, "schedule": "constant", "l2": lam,
                         "seed": 1000 + s, "active_units": 2.0 if s < k else 1.0})
    return pd.DataFrame(rows)


def test_panel_g_is_the_largest_lambda_with_three_quarters_two_d():
    got = locate_panels(_ladder([1, 1, 1, 1, 0.75, 0.625, 0]), 0.01, 3000)
    assert got["lambda_g"] == 5e-4  # 6/8 counts (at least 3/4), 5/8 does not
    assert got["lambda_e"] == 3e-4 and got["lambda_c"] == 1e-4  # nearest λ_g/2, λ_g/4 on a log scale
    got = locate_panels(_ladder([1, 0.5, 0.5, 0, 0, 0, 0]), 0.01, 3000)
    assert math.isnan(got["lambda_g"])


def test_tilt_converges_when_three_quarters_align():
    rows = pd.DataFrame({"latent_dim": 2, "beta": 0.01, "l2": 0.0, "steps": 30000,
                         "mu_orientation_deg": [1.0, -3.0, 8.0, 2.0, 0.5, -9.0, 30.0, -40.0]})
    assert tilt_converged(rows, 0.01, 30000) == (True, 0.75)
    rows.loc[0, "mu_orientation_deg"] = 20.0
    assert tilt_converged(rows, 0.01, 30000)[0] is False


def test_seeds_per_claim_stay_within_the_protocols_bounds_and_grow_with_noise():
    from tests.analysis.test_analysis_findings import table, true_cells

    pilot = PROTOCOL.pilot_seeds
    clean = seeds_per_claim(table(true_cells(), seeds=pilot, noise=0.005))
    noisy_cells = true_cells()
    noisy_cells[(2, 0.01, 0.0, "constant", 3000)]["continuity"] = list(
        0.92 + np.random.default_rng(0).normal(0, 0.1, len(pilot)))
    noisy = seeds_per_claim(table(noisy_cells, seeds=pilot, noise=0.005))
    lo, hi = PROTOCOL.meta["min_seeds"], PROTOCOL.meta["max_seeds"]
    assert all(lo <= n <= hi for n in clean.values()) and "anneal_to_one" not in clean
    assert clean["continuity"] == lo and noisy["continuity"] > lo
