"""The explorer's data (no browser): quantisation error, subsampling, what is embedded and its size."""

import base64
import json

import numpy as np
import pandas as pd
import pytest

from analysis.explorer import dequantise, explorer_data, explorer_html, quantise


def _study(n_runs: int, n: int = 2000):
    rng = np.random.default_rng(0)
    rows, arrays = [], {}
    for i in range(n_runs):
        rid = f"run{i:03d}"
        x = rng.random((n, 2)).astype(np.float32)
        quadrant = (x[:, 0] >= 0.5) + 2 * (x[:, 1] >= 0.5)
        # recon and mu carry the row's own x, so a mismatch of rows between arrays shows
        arrays[rid] = {"x": x, "quadrant": quadrant, "mu": 3 * (x - 0.5), "recon": x,
                       "generated": rng.random((n, 2)).astype(np.float32)}
        rows.append({"run_id": rid, "status": "ok", "variant": "vae", "schedule": "constant", "latent_dim": 2,
                     "beta": [0.01, 0.1][i % 2], "l2": [0.0, 1e-3][(i // 2) % 2], "seed": i // 4, "mse": 0.01,
                     "recon_coverage": 0.9})
    return pd.DataFrame(rows), arrays


def test_quantise_round_trip_within_half_a_step():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(1000, 2)) * [1.0, 50.0]
    back = dequantise(quantise(v))
    step = (v.max(0) - v.min(0)) / 65535
    assert np.all(np.abs(back - v) <= step / 2 + 1e-12)
    assert np.allclose(back.min(0), v.min(0)) and np.allclose(back.max(0), v.max(0))
    const = dequantise(quantise(np.full((5, 1), 2.5)))  # a constant column: no division by zero
    np.testing.assert_array_equal(const, 2.5)
    bad = v.copy()
    bad[0, 0], bad[1, 1] = np.nan, np.inf  # non-finite values become their column's lo
    back, finite = dequantise(quantise(bad)), np.isfinite(bad)
    lo, hi = np.nanmin(np.where(finite, bad, np.nan), 0), np.nanmax(np.where(finite, bad, np.nan), 0)
    assert back[0, 0] == pytest.approx(lo[0]) and back[1, 1] == pytest.approx(lo[1])
    err = np.abs(back - bad)[finite] <= np.broadcast_to((hi - lo) / 65535 / 2 + 1e-12, bad.shape)[finite]
    assert err.all()


def test_explorer_data_subsamples_the_same_rows_for_every_array():
    results, arrays = _study(4)
    data = explorer_data(results, arrays.__getitem__, n_points=300)
    assert len(data["runs"]) == 4 and data["n_points"] == 300
    for run in data["runs"]:
        mu, recon = dequantise(run["mu"]), dequantise(run["recon"])
        assert mu.shape == (300, 2) and recon.shape == (300, 2)
        np.testing.assert_allclose(mu, 3 * (recon - 0.5), atol=1e-3)  # same rows
        quadrant = np.array([int(c) for c in run["quadrant"]])
        np.testing.assert_array_equal(quadrant, (recon[:, 0] >= 0.5) + 2 * (recon[:, 1] >= 0.5))
        x = arrays[run["id"]]["x"]  # rows drawn without replacement
        assert len({tuple(r) for r in np.round(recon, 3)}) == 300 and len(x) == 2000
    every = explorer_data(results, arrays.__getitem__, n_points=5000)  # more than a run has: all its rows
    assert all(dequantise(run["mu"]).shape == (2000, 2) for run in every["runs"])


def test_explorer_leaves_out_runs_that_are_not_ok():
    results, arrays = _study(4)
    results.loc[1, "status"] = "diverged"
    data = explorer_data(results, arrays.__getitem__)
    assert {r["id"] for r in data["runs"]} == {"run000", "run002", "run003"}
    with pytest.raises(ValueError, match="n_points"):
        explorer_data(results, arrays.__getitem__, n_points=0)


def test_explorer_html_embeds_inert_json_and_stays_small():
    results, arrays = _study(264)
    results.loc[0, "variant"] = "</script><b>x</b>"
    page = explorer_html(explorer_data(results, arrays.__getitem__))
    blob = page.split('id="explorer-data">', 1)[1].split("</script>", 1)[0]
    data = json.loads(blob)  # the markup in a name does not close the script element
    assert any(r["config"].startswith("</script>") for r in data["runs"])
    # 264 runs (the default study): 3 arrays × 500 points × 2 coordinates × 2 bytes, base64, per run
    assert len(page.encode()) < 3.2e6
    q = base64.b64decode(data["runs"][0]["mu"]["q"])
    assert len(q) == 500 * 2 * 2
