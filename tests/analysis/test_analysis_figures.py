"""Figures: each returns a Figure with the expected axes, draws headless, and refuses empty input."""

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from analysis.document import png_bytes
from analysis.figures import (
    generation_figure,
    heatmap_figure,
    latent_grid_figure,
    rate_distortion_figure,
    throughput_figure,
    training_curves_figure,
)
from analysis.style import QUADRANT_COLORS
from analysis.tables import METRICS, seed_summary

N = 600


def _arrays(d, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((N, 2))
    mu = stats.norm.ppf(x)[:, :d]
    return {"x": x, "quadrant": (x[:, 0] >= 0.5) + 2 * (x[:, 1] >= 0.5), "mu": mu, "z": mu,
            "recon": np.clip(x + 0.05 * rng.standard_normal((N, 2)), 0, 1), "generated": rng.random((N, 2))}


def _cells(d):
    rows, arrays = [], {}
    for lam in (0.0, 0.01):
        for beta in (0.01, 0.1):
            rid = f"d{d}-{lam}-{beta}"
            rows.append({"run_id": rid, "l2": lam, "beta": beta, "seed": 0, "latent_dim": d,
                         METRICS["gauss_effect"]: 0.25, METRICS["coverage"]: 0.9, METRICS["boundary"]: 0.75})
            arrays[rid] = _arrays(d, len(rows))
    return pd.DataFrame(rows), arrays


@pytest.mark.parametrize("d", [2, 1])
def test_latent_grid_figure_pairs_of_panels(d):
    cells, arrays = _cells(d)
    fig = latent_grid_figure(cells, arrays, title="<b>t</b>")
    assert isinstance(fig, Figure)
    axes = [ax for sub in fig.subfigs for ax in sub.axes]
    assert len(axes) == 2 * len(cells)
    titles = [sub._suptitle.get_text() for sub in fig.subfigs]
    assert any("λ = 0.01, β = 0.1" in t and "cov 0.9" in t and "bnd 0.75" in t for t in titles)
    # the latent panel colours each point by its input quadrant, with the shared palette
    first = arrays[cells.iloc[0]["run_id"]]
    colours = axes[0].collections[0].get_facecolors()
    expected = np.array([mcolors.to_rgba(QUADRANT_COLORS[q]) for q in first["quadrant"]])
    np.testing.assert_allclose(colours, expected)
    assert png_bytes(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_latent_grid_figure_zooms_a_collapsed_latent():
    cells, arrays = _cells(2)
    arrays[cells.iloc[-1]["run_id"]]["mu"] = 1e-7 * arrays[cells.iloc[-1]["run_id"]]["mu"] + 3.0
    fig = latent_grid_figure(cells, arrays)
    texts = [t.get_text() for ax in fig.subfigs[-1].axes for t in ax.texts]
    assert any(t.startswith("zoomed") for t in texts)


def test_generation_figure_one_axis_per_cell():
    cells, arrays = _cells(2)
    fig = generation_figure(cells.iloc[:3], arrays)
    assert len(fig.axes) == 3
    with pytest.raises(ValueError, match="empty"):
        generation_figure(cells.iloc[0:0], arrays)


def _runs():
    rng = np.random.default_rng(0)
    rows = [{"run_id": f"r{i}", "status": "ok", "latent_dim": d, "l2": lam, "beta": b, "seed": s,
             "mse": rng.random(), "recon_coverage": rng.random()}
            for i, (d, lam, b, s) in enumerate((d, lam, b, s) for d in (2, 1) for lam in (0.0, 1e-3, 1e-2)
                                               for b in (0.01, 0.1) for s in range(3))]
    return pd.DataFrame(rows)


def test_heatmap_figure_axes_and_annotations():
    summary = seed_summary(_runs(), ["mse", "recon_coverage"], by=["latent_dim", "l2", "beta"])
    fig = heatmap_figure(summary, ["mse", "recon_coverage", "absent"])
    assert len(fig.axes) == 2 * 2 + 2  # heatmaps + one colour bar per metric
    row = summary[(summary.metric == "mse") & (summary.latent_dim == 2) & (summary.l2 == 0.0)
                  & (summary.beta == 0.01)].iloc[0]
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert f"{row['mean']:.2g}\n±{(row['hi'] - row['lo']) / 2:.1g}" in texts  # 2 digits, then 1


LAMBDAS = (0, 2e-4, 3e-4, 4e-4, 6e-4, 1e-3, 2e-3, 1e-2)  # unevenly spaced, as the default study's


def test_heatmap_annotations_and_ticks_do_not_overlap():
    rng = np.random.default_rng(3)
    rows = [{"run_id": f"r{i}", "status": "ok", "latent_dim": 2, "l2": lam, "beta": b, "seed": s,
             "mse": 1e-4 * rng.random() + 1.23e-4}
            for i, (lam, b, s) in enumerate((lam, b, s) for lam in LAMBDAS for b in (0.003, 0.01, 0.03, 0.1)
                                            for s in range(3))]
    summary = seed_summary(pd.DataFrame(rows), ["mse"], by=["latent_dim", "l2", "beta"])
    fig = heatmap_figure(summary, ["mse"])
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.canvas.draw()
    ax = fig.axes[0]
    for group in (ax.texts, ax.get_yticklabels(), ax.get_xticklabels()):
        boxes = [t.get_window_extent(renderer) for t in group if t.get_text()]
        assert len(boxes) > 3
        for i, a in enumerate(boxes):
            assert not any(a.overlaps(b) for b in boxes[i + 1:]), [t.get_text() for t in group]
    ticks = ax.get_yticks()  # categorical: evenly spaced, whatever the λ values
    np.testing.assert_allclose(np.diff(ticks), 1.0)
    with pytest.raises(ValueError, match="none of them"):
        heatmap_figure(summary, ["absent"])


def test_rate_distortion_figure_marks_reference_and_infinite_rate():
    points = pd.DataFrame([
        {"panel": "a", "hue": "vae", "style": "constant", "mse": 0.01, "kl": 2.0, "mse_min": 0.008,
         "mse_max": 0.012, "kl_min": 1.9, "kl_max": 2.1},
        {"panel": "a", "hue": "vae", "style": "linear", "mse": 0.02, "kl": 1.0, "hollow": True},
        {"panel": "b", "hue": "ae", "style": "constant", "mse": 0.001, "kl": np.nan},
        {"panel": "b", "hue": "probit", "style": "constant", "mse": 1e-14, "kl": np.nan, "reference": True,
         "text": "probit reference"}])
    points.loc[len(points)] = {"panel": "b", "hue": "vae", "style": "constant", "mse": 0.01, "kl": 3.0}
    fig = rate_distortion_figure(points)
    assert len(fig.axes) == 2
    ax_b = fig.axes[1]
    assert any("KL = ∞" in t.get_text() for t in ax_b.texts)
    assert ax_b.get_xscale() == "log"
    # the deterministic encoders sit on the "KL = ∞" line, above every finite rate
    strip = [ln.get_ydata()[0] for ln in ax_b.lines if ln.get_linestyle() == "--"]
    heights = [c.get_offsets()[0][1] for c in ax_b.collections if len(c.get_offsets()) == 1]
    assert len(strip) == 1 and sorted(heights)[-2:] == [strip[0], strip[0]] and sorted(heights)[0] == 3.0
    assert ax_b.get_ylim()[1] > strip[0]
    # the reference's label lies inside the axes; a legend entry for every distinction drawn, none other
    FigureCanvasAgg(fig).draw()
    label = next(t for t in ax_b.texts if t.get_text() == "probit reference")
    assert ax_b.get_window_extent().contains(*label.get_window_extent().p0)
    assert ax_b.get_window_extent().contains(*label.get_window_extent().p1)
    names = [t.get_text() for t in ax_b.get_legend().get_texts()]
    assert "constant" not in names and {"ae", "vae"} <= set(names)  # one style in panel b: no entry
    names_a = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert {"constant", "linear"} <= set(names_a)
    png_bytes(fig)


def test_training_curves_figure_grid():
    rows = [{"step": st, "recon": 1.0 / (st + 1) + 0.01 * s, "kl": 0.1 + 0.001 * st, "panel": p, "l2": lam,
             "schedule": sch, "seed": s}
            for p in ("d = 2", "d = 1") for lam in (0.0, 0.01) for sch in ("constant", "linear")
            for s in range(2) for st in range(0, 300, 3)]
    fig = training_curves_figure(pd.DataFrame(rows), terms=("recon", "kl"))
    assert len(fig.axes) == 4
    assert all(ax.get_yscale() == "log" for ax in fig.axes)
    with pytest.raises(ValueError, match="columns"):
        training_curves_figure(pd.DataFrame(rows).drop(columns="kl"))


def test_throughput_figure_bars():
    bench = pd.DataFrame({"name": ["engine", "loop", "vmap"], "group": ["t", "t", "t"],
                          "model_steps_per_s": [25000.0, 800.0, np.nan]})
    fig = throughput_figure(bench)
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) == 2
    with pytest.raises(ValueError, match="no finite"):
        throughput_figure(bench.assign(model_steps_per_s=np.nan))
