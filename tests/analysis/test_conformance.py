"""The conformance report: its checks against closed forms, its figures, `python -m analysis.conformance`."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis import conformance
from analysis.conformance_checks import (
    linear_vae_check,
    probit_pvalues,
    probit_rejections,
    rate_distortion_check,
)
from analysis.conformance_figures import phase_diagram_figure, rd_conformance_figure
from vaebench import store
from vaebench.closed_forms import blahut_arimoto_uniform, linear_vae_optimum


def test_gaussianity_tests_reject_the_probit_latent_at_their_nominal_rate():
    # the probit latent is exactly N(0, I): each test's rejections are Binomial(seeds, α) (per-dimension
    # tests' smallest p over 2 independent dimensions: 1 − (1 − α)²); the exact interval, simultaneous over
    # the 8 tests, must contain it
    rates = probit_rejections(probit_pvalues(400, 200))
    assert len(rates) == 8 and (rates["seeds"] == 400).all()
    assert rates["consistent"].all(), rates
    per_dim = rates[rates["test"].isin(["shapiro", "dagostino", "anderson", "ks"])]
    assert (per_dim["null_rate"] == f"{1 - 0.95 ** 2:.4f}").all()


def test_a_miscalibrated_test_is_flagged():
    rng = np.random.default_rng(0)
    pvalues = pd.DataFrame({"calibrated_pvalue": rng.random(2000), "liberal_pvalue": rng.random(2000) ** 1.5,
                            "rejected": (rng.random(2000) < 0.2).astype(float)})
    rates = probit_rejections(pvalues).set_index("test")
    assert rates.loc["calibrated", "consistent"]
    assert not rates.loc["liberal", "consistent"]  # P(U^1.5 < 0.05) = 0.136
    assert not rates.loc["rejected", "consistent"]  # a family-wise rate of 0.2 is not ≤ α
    ci = rates.loc["liberal"]
    assert ci["rate_lo"] < ci["rate"] < ci["rate_hi"]


@pytest.fixture(scope="module")
def curve():
    return [blahut_arimoto_uniform(s, n=400, tol=1e-3)[0] for s in (-10.0, -100.0, -1000.0)]


def test_rate_distortion_check_counts_impossible_runs(curve):
    opt = linear_vae_optimum(0.1)
    points = pd.DataFrame({"distortion": [opt["error"], 0.01, 0.01], "rate": [opt["kl"], 3.0, 1.0],
                           "group": "x"})
    rd = rate_distortion_check(points, curve)
    # the linear VAE's optimum lies exactly on the Gaussian upper bound
    assert rd.loc[0, "below_gaussian"] == pytest.approx(0.0, abs=1e-12)
    # 2·(−½ ln(2πe·0.005)) = 2.4 nats: a run with 1 nat at D = 0.01 is impossible, one with 3 is not
    assert rd.loc[2, "shannon_bound"] == pytest.approx(-math.log(2 * math.pi * math.e * 0.005))
    assert list(rd["below_lower"]) == [False, False, True]
    assert (rd["shannon_bound"] <= rd["exact_rate"]).all()
    assert (rd["exact_rate_at_2se"] == rd["exact_rate"]).all()  # no standard error given
    with_se = rate_distortion_check(points.assign(distortion_se=0.001), curve)
    assert (with_se["exact_rate_at_2se"] < with_se["exact_rate"]).all()  # R decreases in D
    assert (rd["exact_rate"] <= rd["gaussian_bound"]).all()


def test_linear_vae_check_compares_with_the_closed_form():
    opt = linear_vae_optimum(0.1)
    runs = pd.DataFrame({"latent_dim": 2, "beta": 0.1, "recon_var": 0.5, "status": "ok", "active": 2.0,
                         "seed": [0, 1], "error": [opt["error"] * 0.98, opt["error"] * 1.02],
                         "kl_total": [opt["kl"], opt["kl"]]})
    (row,) = linear_vae_check(runs).itertuples()
    assert row.error == pytest.approx(opt["error"]) and row.error_rel_dev == pytest.approx(0.0, abs=1e-12)
    assert row.error_lo < opt["error"] < row.error_hi and row.kl_dev == pytest.approx(0.0, abs=1e-12)


def _summary() -> pd.DataFrame:
    rows = []
    for d in (2, 1):
        for l2, shift in ((0.0, 1.0), (1e-3, 0.3)):
            for k in range(1, d + 1):
                bc = 0.2 * shift * (0.5 if k == 2 else 1.0)
                rows.append({"latent_dim": d, "l2": l2, "level": k, "n": 3, "n_below": 0, "n_above": 0,
                             "beta_c": bc, "beta_c_lo": bc / 1.2, "beta_c_hi": bc * 1.2,
                             "bracket_ratio": 1.1})
    rows.append({"latent_dim": 1, "l2": 3e-4, "level": 1, "n": 0, "n_below": 3, "n_above": 0,
                 "beta_c": math.nan, "beta_c_lo": math.nan, "beta_c_hi": math.nan, "bracket_ratio": math.nan})
    return pd.DataFrame(rows)


def test_figures_take_tidy_frames_and_return_figures(curve):
    linear = pd.DataFrame({"label": ["closed form", "trained"], "beta_c": [1 / 6, 0.17],
                           "beta_c_lo": [math.nan, 0.15], "beta_c_hi": [math.nan, 0.19]})
    fig = phase_diagram_figure(_summary(), linear)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    curves = conformance.rd_curves(pd.DataFrame([vars(p) for p in curve]))
    assert set(curves["curve"]) == {"exact R(D) (Blahut–Arimoto)", "Shannon lower bound",
                                    "Gaussian upper bound = linear VAE, d = 2", "linear VAE, d = 1"}
    fig = rd_conformance_figure(curves, pd.DataFrame({"distortion": [0.1, 0.05], "rate": [0.6, 1.0],
                                                      "group": ["a", "b"]}))
    assert isinstance(fig, Figure) and len(fig.axes[0].collections) == 2


def test_quick_report_writes_every_file_and_resumes_from_its_studies(tmp_path, monkeypatch):
    import vaebench.execution.tasks as tasks

    trained, real = [], tasks.train
    monkeypatch.setattr(tasks, "train", lambda cfgs, **kw: trained.append(len(cfgs)) or real(cfgs, **kw))
    out = tmp_path / "conf"
    assert conformance.main(["--quick", "--out", str(out)]) == 0
    # every run is stored in a study under OUT/studies: the linear VAE's, and each search round's
    root = out / "studies"
    studies = {p.parent.relative_to(root).as_posix() for p in root.rglob("study.json")}
    assert studies == {"linear-vae", "collapse-linear/round-0", "collapse-linear/round-1",
                       "collapse-relu/round-0", "collapse-relu/round-1"}
    stored = sum(len(store.load_results(out / "studies" / s)) for s in studies)
    assert stored == sum(trained) and len(store.load_results(out / "studies" / "linear-vae")) == 2 * 2 * 2
    before = {n: (out / n).read_bytes() for n in ("conformance.csv", "linear_vae.csv", "phase.csv",
                                                  "linear_transitions.csv", "rate_distortion.csv")}
    trained.clear()
    assert conformance.main(["--quick", "--out", str(out)]) == 0
    assert trained == [] and {n: (out / n).read_bytes() for n in before} == before  # resumed: nothing new
    for name in ("report.md", "report.html", "fig1_rate_distortion.png", "fig2_phase_diagram.png",
                 "conformance.csv", "rate_distortion.csv", "probit.csv", "phase.csv"):
        assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "conformance.csv")
    shannon = table[table["check"].str.contains("Shannon lower bound")]
    assert shannon["measured (95% CI)"].iloc[0].startswith("0 of ")
    assert "Checked against closed forms" in (out / "report.md").read_text()
    assert table["check"].str.startswith("exact inference").sum() == 15 and "band" in table.columns


def test_bad_study_is_one_line_and_exit_2(tmp_path, capsys):
    assert conformance.main(["--study", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --study") and err.count("\n") == 1


def _tables(error_lo: float, error_hi: float) -> dict[str, pd.DataFrame]:
    opt = linear_vae_optimum(0.1)
    linear = pd.DataFrame([{"latent_dim": 2, "beta": 0.1, "n": 4, "error_closed_form": opt["error"],
                            "error": opt["error"], "error_lo": error_lo, "error_hi": error_hi,
                            "kl_closed_form": opt["kl"], "kl": opt["kl"], "kl_lo": opt["kl"] * 0.99,
                            "kl_hi": opt["kl"] * 1.01}])
    transitions = pd.DataFrame([{"latent_dim": 2, "level": 1, "n": 4, "beta_c": 1 / 6, "beta_c_lo": 0.01,
                                 "beta_c_hi": 10.0}])
    rd = pd.DataFrame({"below_lower": [False], "rate": [1.0], "exact_rate_at_2se": [0.5],
                       "exact_rate": [0.5]})
    cov = pd.DataFrame([{"n_real": 2000, "n_fake": 2000, "k": 5, "repeats": 100, "closed_form": 0.969,
                         "coverage": 0.969, "coverage_lo": 0.968, "coverage_hi": 0.970}])
    probit = pd.DataFrame([{"test": "hz", "null_rate": "0.0500", "rate": 0.05, "seeds": 400,
                            "simultaneous_lo": 0.03, "simultaneous_hi": 0.075},
                           {"test": "rejected", "null_rate": "≤ 0.0500", "rate": 0.2, "seeds": 400,
                            "simultaneous_lo": 0.15, "simultaneous_hi": 0.25}])
    return {"linear_vae": linear, "linear_transitions": transitions, "rate_distortion": rd, "coverage": cov,
            "probit": probit}


def test_agreement_is_an_equivalence_not_containment():
    opt = linear_vae_optimum(0.1)
    table = conformance.conformance_table
    narrow = table(_tables(opt["error"] * 0.98, opt["error"] * 1.02)).set_index("check")
    wide = table(_tables(opt["error"] * 0.5, opt["error"] * 1.5)).set_index("check")
    error_row = "linear VAE d = 2, β = 0.1: E‖x − decode(z)‖²"
    assert narrow.loc[error_row, "agrees"] and narrow.loc[error_row, "band"] == "±5%"
    assert not wide.loc[error_row, "agrees"]  # contains the closed form, but is no evidence of equality
    assert wide.loc[error_row, "verdict"] == "inconclusive"
    assert narrow.loc[error_row, "verdict"] == "equivalent"
    off = table(_tables(opt["error"] * 1.2, opt["error"] * 1.3)).set_index("check")
    assert off.loc[error_row, "verdict"] == "differs"
    # a critical-β interval of [0.01, 10] contains 1/6 and says nothing: not "agrees"
    assert not narrow.filter(like="directions are active", axis=0)["agrees"].any()
    assert narrow.filter(like="coverage", axis=0)["agrees"].all()
    rates = narrow.filter(like="Gaussianity", axis=0)
    assert list(rates["agrees"]) == [True, False]  # the verdict's rate 0.2 is not ≤ α + 0.03


def test_exact_inference_rows_agree_on_the_linear_gaussian_vae():
    from analysis.conformance_exact import exact_checks

    rows = exact_checks(n=200, iwae_seeds=3, mc_draws=20_000).set_index("check")
    quadrature = rows[rows["band"].isin(["±0.0001", "±1e-06"])]
    assert len(quadrature) == 8 and quadrature["agrees"].all()
    assert (quadrature["hi"] - quadrature["lo"] < 1e-3).all()
    iwae = rows.filter(like="IWAE_", axis=0)
    assert len(iwae) == 5 and iwae.iloc[-1]["agrees"]  # rising with k
    assert (iwae["value"].iloc[:4] < iwae["reference"].iloc[:4]).all()
    surgery = rows.filter(like="ELBO surgery", axis=0)
    assert ((surgery["value"] - surgery["reference"]).abs() < 0.05).all()
    # 20 000 draws leave the d = 2 Monte Carlo interval wider than its ±0.01 band: not yet evidence
    wide = surgery.iloc[1]
    assert wide["hi"] - wide["lo"] > 0.02 and not wide["agrees"] and wide["verdict"] == "inconclusive"


@pytest.mark.slow
def test_the_trained_tables_are_the_same_on_dask(tmp_path):
    quick = {**conformance.QUICK, "coverage_repeats": 2, "probit_seeds": 4, "ba_slopes": 2,
             "exact": {"n": 50, "iwae_seeds": 2, "mc_draws": 2000}}
    local = conformance.compute(quick, [], tmp_path / "local")
    on_dask = conformance.compute(quick, [], tmp_path / "dask", executor="dask", workers=2)
    for name in ("linear_vae", "linear_transitions", "phase", "rate_distortion"):
        assert len(local[name]) > 0
        pd.testing.assert_frame_equal(on_dask[name], local[name], obj=name)
    timings = sorted((tmp_path / "dask").rglob("timings.json"))
    assert len(timings) == 5  # the linear VAE's study and two rounds of each search, all on Dask
    assert all(json.loads(t.read_text())["executor"] == "dask" for t in timings)
