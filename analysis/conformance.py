"""``python -m analysis.conformance``: vaebench checked against closed forms, and the phase diagram of
posterior collapse, as a second report (``reports/conformance/``; the default report stays fast).

It trains what it needs itself (the linear VAE at several β, and the adaptive collapse search of
:mod:`vaebench.collapse` for a linear and a ReLU VAE), as studies run by :func:`vaebench.run_study`
under ``OUT/studies/`` (``linear-vae``, ``collapse-linear/round-<k>``, ``collapse-relu/round-<k>``):
run again, it trains only what is not stored yet, and ``--executor dask`` (``--scheduler``,
``--workers``) trains on Dask with the same numbers. Then it writes ``report.md``, a self-contained
``report.html``, the two figures and every table as CSV. ``--study DIR`` (repeatable) adds the runs of
studies already run (e.g. ``reports/seed-figures/study``) to the rate–distortion check; ``--quick``
shrinks everything to seconds (for tests). User errors: one line ``error: ...``, exit status 2.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.conformance_checks import (
    coverage_check,
    linear_vae_check,
    probit_pvalues,
    probit_rejections,
    rate_distortion_check,
)
from analysis.conformance_exact import exact_checks
from analysis.conformance_render import rd_curves, write
from analysis.conformance_table import conformance_table
from vaebench import closed_forms
from vaebench.collapse import CollapseSearch, measure, search, summarise, transitions
from vaebench.grid import Grid
from vaebench.runner import add_executor_arguments, run_study
from vaebench.shell import guarded

__all__ = ["FULL", "QUICK", "compute", "conformance_table", "main", "rd_curves", "study_points", "write"]

LINEAR_RUN = {"hidden": [], "lr": 2e-2, "steps": 3000, "batch_size": 256, "n_train": 20_000}
FULL = {
    "linear_betas": (0.05, 0.1, 0.125, 0.25, 0.5),
    "seeds": (0, 1, 2, 3),
    "probit_seeds": 400,
    "probit_n": 1000,
    "coverage_repeats": 100,
    "ba_slopes": 20,
    "n_eval": 5000,
    "exact": {"n": 1000, "iwae_seeds": 5, "mc_draws": 1_000_000},
    "relu": CollapseSearch(seeds=(0, 1, 2, 3), rounds=2, points=2),
    "linear": CollapseSearch(
        lambdas=(0.0,),
        ladder=(0.04, 0.12, 0.36),
        seeds=(0, 1, 2, 3),
        rounds=2,
        points=2,
        run={**LINEAR_RUN, "n_train": 5000},
    ),
}
QUICK = {
    "linear_betas": (0.05, 0.5),
    "seeds": (0, 1),
    "probit_seeds": 40,
    "probit_n": 200,
    "coverage_repeats": 10,
    "ba_slopes": 4,
    "n_eval": 500,
    "exact": {"n": 200, "iwae_seeds": 3, "mc_draws": 20_000},
    "relu": CollapseSearch(
        latent_dims=(2, 1),
        lambdas=(0.0, 1e-3),
        ladder=(0.03, 0.3, 3.0),
        seeds=(0, 1),
        rounds=1,
        points=1,
        n_eval=500,
        run={"steps": 150, "batch_size": 64, "n_train": 500, "hidden": [8]},
    ),
    "linear": CollapseSearch(
        lambdas=(0.0,),
        ladder=(0.04, 0.36),
        seeds=(0, 1),
        rounds=1,
        points=1,
        n_eval=500,
        run={**LINEAR_RUN, "steps": 300, "n_train": 1000},
    ),
}


def _log(message: str) -> None:
    print(f"conformance: {message}", file=sys.stderr, flush=True)


def study_points(study_dir: Path) -> pd.DataFrame:
    """(distortion, rate, group) of every ok, stochastic run of a stored study: D from its evaluation
    arrays (x against decode(z), z ~ q(z|x)), the rate its ``kl_total``."""
    from vaebench import store

    results = store.load_results(study_dir)
    ok = results[(results["status"] == "ok") & np.isfinite(results["kl_total"])]
    rows = []
    for r in ok.itertuples():
        a = store.load_artifacts(study_dir, r.run_id)
        err = np.sum((a["x"].astype(np.float64) - a["recon"]) ** 2, axis=1)
        d, d_se = float(err.mean()), float(err.std(ddof=1) / np.sqrt(len(err)))
        rows.append(
            {
                "distortion": d,
                "distortion_se": d_se,
                "rate": float(r.kl_total),
                "group": f"study {study_dir.parent.name}"
                if study_dir.name == "study"
                else f"study {study_dir.name}",
                "variant": r.variant,
            }
        )
    return pd.DataFrame(rows, columns=["distortion", "distortion_se", "rate", "group", "variant"])


def linear_grid(settings: dict) -> Grid:
    """The linear VAE's runs: d = 2, 1 × the settings' β × seeds, λ = 0, the rest :data:`LINEAR_RUN`."""
    return Grid(
        study={**LINEAR_RUN, "l2": 0.0, "name": "conformance-linear-vae", "n_eval": settings["n_eval"]},
        axes={"latent_dim": [2, 1], "beta": list(settings["linear_betas"]), "seed": list(settings["seeds"])},
    )


def compute(settings: dict, studies: list[Path], store_dir: str | Path, **study) -> dict[str, pd.DataFrame]:
    """Train and measure everything the report shows; returns its tidy tables by name. Every run is
    trained by :func:`vaebench.run_study` into a study under ``store_dir`` (runs stored there already are
    not trained again); ``study``: its executor, scheduler, workers, threads."""
    out: dict[str, pd.DataFrame] = {}
    t0 = time.monotonic()
    store_dir = Path(store_dir)
    where = store_dir / "linear-vae"
    linear_runs = measure(run_study(linear_grid(settings), where, progress=False, **study), where)
    out["linear_vae"] = linear_vae_check(linear_runs)
    _log(f"linear VAE trained ({len(linear_runs)} runs, {time.monotonic() - t0:.0f} s)")
    linear_search = search(settings["linear"], store_dir / "collapse-linear", **study)
    relu_search = search(settings["relu"], store_dir / "collapse-relu", **study)
    out["linear_transitions"] = summarise(transitions(linear_search))
    out["phase"] = summarise(transitions(relu_search))
    _log(
        f"collapse searches done ({len(linear_search) + len(relu_search)} runs, "
        f"{time.monotonic() - t0:.0f} s)"
    )
    curve = closed_forms.uniform_rd_curve(-np.geomspace(7.0, 3000.0, settings["ba_slopes"]))
    out["ba_curve"] = pd.DataFrame([vars(p) for p in curve])
    points = [
        linear_runs.assign(group=lambda f: "linear VAE, d = " + f["latent_dim"].astype(str)),
        relu_search.assign(group=lambda f: "ReLU VAE, d = " + f["latent_dim"].astype(str)),
    ]
    points = [
        p[p["status"] == "ok"].rename(
            columns={"error": "distortion", "error_se": "distortion_se", "kl_total": "rate"}
        )[["distortion", "distortion_se", "rate", "group"]]
        for p in points
    ]
    points += [study_points(s) for s in studies]
    out["rate_distortion"] = rate_distortion_check(pd.concat(points, ignore_index=True), curve)
    _log(f"rate–distortion curve and checks ({time.monotonic() - t0:.0f} s)")
    out["coverage"] = coverage_check(repeats=settings["coverage_repeats"])
    out["probit"] = probit_rejections(probit_pvalues(settings["probit_seeds"], settings["probit_n"]))
    _log(f"coverage and Gaussianity checks ({time.monotonic() - t0:.0f} s)")
    out["exact"] = exact_checks(**settings["exact"])
    _log(f"exact inference checks ({time.monotonic() - t0:.0f} s)")
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m analysis.conformance", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="reports/conformance", metavar="DIR", help="report directory")
    p.add_argument(
        "--study",
        action="append",
        default=[],
        metavar="DIR",
        help="a study directory whose runs join the rate–distortion check (repeatable)",
    )
    p.add_argument("--quick", action="store_true", help="small settings, seconds (for tests)")
    add_executor_arguments(p, "the runs")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 user error, 130 interrupted, 1 a bug: one line, the
    traceback logged; :func:`vaebench.shell.guarded`)."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)

    def body() -> None:
        studies = [Path(s) for s in args.study]
        for s in studies:
            if not (s / "results").is_dir():
                raise ValueError(f"--study = {str(s)!r}: not a vaebench study directory (no results/ inside)")
        start = time.monotonic()
        tables = compute(QUICK if args.quick else FULL, studies, Path(args.out) / "studies",
                         executor=args.executor, scheduler=args.scheduler, workers=args.workers)
        meta = [
            ("settings", "quick" if args.quick else "full"),
            ("studies added", ", ".join(map(str, studies)) or "none"),
            ("time", f"{time.monotonic() - start:.0f} s on {os.cpu_count()} cores"),
            ("generated", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ]
        write(Path(args.out), tables, meta)
        _log(f"written to {args.out}/")

    def interrupted() -> str:
        return (f"interrupted: no report written; the runs stored in {Path(args.out) / 'studies'} are kept "
                f"(run again to resume)")

    return guarded(body, "python -m analysis.conformance", interrupted=interrupted,
                   log_dir=lambda: args.out if Path(args.out).is_dir() else None)


if __name__ == "__main__":
    sys.exit(main())
