"""The phase diagram of posterior collapse: the critical β at which a latent direction collapses, per λ.

For each latent size d and weight decay λ, a β ladder of every seed is trained; each run's active
directions are counted on its held-out evaluation set with :func:`vaebench.metrics.active_units`
(Var_x μ_u(x) > 0.01; Burda et al. 2016), beside the KL per dimension
(:func:`vaebench.metrics.kl_per_dimension`). For each seed and level k = d, …, 1 the transition
"fewer than k active directions" is bracketed by the largest β tried that kept k and the next β above;
then new β values are trained inside the brackets (``rounds`` times, ``points`` each time), all seeds
again, so every bracket narrows. A seed's critical β is the geometric mid-point of its
final bracket; over seeds, the geometric mean with a Student-t 95% interval on log β (n = seeds whose
transition lies inside the ladder), widened by half the widest final bracket. The linear β-VAE's closed
form (:mod:`vaebench.closed_forms`) is ξ²/σ² for every direction, so a linear model has one transition
where all directions collapse at once.

Each round is a study (:func:`round_grid`, a sub-grid of β × seeds per (d, λ)) run by
:func:`vaebench.run_study` into ``OUT/round-<k>``; what the search decides reads only the stored results
and evaluation arrays (:func:`measure`). So a search resumes: the same search into the same ``OUT`` trains
only what is not stored yet (an interrupted one loses at most the shards in flight), and it runs on any
executor (``executor="dask"``, ``scheduler=...``) with the same numbers.

``python -m vaebench collapse --out DIR`` runs it (:func:`add_parser`); bad input is a ValueError naming
the option, which the CLI prints as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vaebench import store
from vaebench.config import RunConfig, check_float, check_int
from vaebench.files import atomic_write
from vaebench.grid import Grid
from vaebench.metrics import kl_per_dimension
from vaebench.runner import add_executor_arguments, run_study
from vaebench.statistics import t_half_width

MIN_SEEDS = 2  # an interval over seeds needs at least two


@dataclass(frozen=True)
class CollapseSearch:
    """What to search: latent sizes, λ values, the starting β ladder, seeds, refinement and the runs'
    shared settings (``run``: any :class:`RunConfig` field but beta, l2, latent_dim and seed)."""

    latent_dims: Sequence[int] = (2, 1)
    lambdas: Sequence[float] = (0.0, 1e-4, 3e-4, 1e-3)
    ladder: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0)
    seeds: Sequence[int] = (0, 1, 2, 3)
    rounds: int = 2
    points: int = 3
    n_eval: int = 2000
    run: dict = field(default_factory=lambda: {"steps": 3000, "batch_size": 128, "n_train": 2000})

    def __post_init__(self) -> None:
        put = object.__setattr__
        if len(self.ladder) == 0:
            raise ValueError("betas = []: the β ladder is empty; give at least one β > 0")
        put(self, "ladder", tuple(sorted({check_float("betas", b, 0.0, open_low=True) for b in self.ladder})))
        if len(self.lambdas) == 0:
            raise ValueError("l2 = []: give at least one λ >= 0")
        put(self, "lambdas", tuple(sorted({check_float("l2", v, 0.0) for v in self.lambdas})))
        if len(self.latent_dims) == 0:
            raise ValueError("latent_dims = []: give at least one latent size (1 or 2)")
        put(self, "latent_dims", tuple(dict.fromkeys(check_int("latent_dims", d, 1, 2)
                                                      for d in self.latent_dims)))
        seeds = tuple(dict.fromkeys(check_int("seeds", s, 0) for s in self.seeds))
        if len(seeds) < MIN_SEEDS:
            raise ValueError(f"seeds = {list(seeds)}: an interval over seeds needs at least {MIN_SEEDS} "
                             f"distinct seeds")
        put(self, "seeds", seeds)
        put(self, "rounds", check_int("rounds", self.rounds, 0, 10))
        put(self, "points", check_int("points", self.points, 1, 50))
        put(self, "n_eval", check_int("n_eval", self.n_eval, 20, 1_000_000))
        bad = {"beta", "l2", "latent_dim", "seed"} & set(self.run)
        if bad:
            raise ValueError(f"run = {sorted(bad)}: set by the search itself, not a shared setting")
        self.config(self.latent_dims[0], self.lambdas[0], self.ladder[0], self.seeds[0])  # validates run

    def config(self, latent_dim: int, l2: float, beta: float, seed: int) -> RunConfig:
        return RunConfig(**{**self.run, "latent_dim": latent_dim, "l2": l2, "beta": beta, "seed": seed})


def round_grid(spec: CollapseSearch, ladders: dict[tuple[int, float], list[float]], rnd: int) -> Grid:
    """Round ``rnd``'s study: per (latent_dim, λ) a sub-grid of its β × every seed, crossed with the
    shared settings ``spec.run`` (its runs in that order: β, then seed)."""
    subgrids = {f"d{d}_l2_{l2!r}": {"latent_dim": [d], "l2": [l2], "beta": list(betas),
                                    "seed": list(spec.seeds)} for (d, l2), betas in ladders.items() if betas}
    return Grid(study={**spec.run, "name": f"collapse-round-{rnd}", "n_eval": spec.n_eval}, subgrids=subgrids)


def measure(results: pd.DataFrame, study_dir: str | Path) -> pd.DataFrame:
    """One row per run of a stored study's results table (:func:`vaebench.store.load_results`): run_id,
    latent_dim, l2, beta, seed, status, hidden, recon_var, engine, ``active`` directions
    (``active_units``) and ``kl_total`` (nats) as stored, and from its stored evaluation arrays
    (:func:`vaebench.store.load_artifacts`) ``kl_dim_<u>`` (nats, :func:`kl_per_dimension` of μ and
    log σ²), ``error`` (mean total squared error of decode(z), z ~ q(z|x)) and its standard error
    ``error_se``. Nothing is evaluated again: the numbers are the study's, whichever executor stored them."""
    rows = []
    for r in results.to_dict("records"):
        row = {"run_id": r["run_id"], "latent_dim": int(r["latent_dim"]), "l2": float(r["l2"]),
               "beta": float(r["beta"]), "seed": int(r["seed"]), "status": r["status"],
               "hidden": "[" + ", ".join(map(str, json.loads(r["hidden"]))) + "]",
               "recon_var": float(r["recon_var"]), "engine": r["engine"], "active": math.nan,
               "kl_total": math.nan, "error": math.nan, "error_se": math.nan}
        if r["status"] == "ok":
            a = store.load_artifacts(study_dir, r["run_id"])
            kl = kl_per_dimension(a["mu"], a["logvar"])
            err = np.sum((a["x"].astype(np.float64) - a["recon"]) ** 2, axis=1)
            row.update(active=float(r["active_units"]), kl_total=float(r["kl_total"]),
                       error=float(err.mean()), error_se=float(err.std(ddof=1) / math.sqrt(len(err))),
                       **{f"kl_dim_{u}": float(v) for u, v in enumerate(kl)})
        rows.append(row)
    return pd.DataFrame(rows)


def transitions(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (latent_dim, l2, seed, level k): the bracket [beta_below, beta_above] of "fewer than k active
    directions": beta_below is the largest β tried with at least k active, beta_above the next β tried
    above it (NaN when every β has fewer than k, or none: the transition lies below or above the β
    tried), and ``beta_c`` their geometric mean. A run below beta_below that kept fewer than k active
    (still on the collapsed saddle when training stopped: escaping it slows down near the transition)
    does not move the bracket; ``inversions`` counts them."""
    rows = []
    ok = runs[runs["status"] == "ok"]
    for (d, l2, seed), g in ok.groupby(["latent_dim", "l2", "seed"]):
        g = g.sort_values("beta")
        betas, active = g["beta"].to_numpy(), g["active"].to_numpy()
        for k in range(int(d), 0, -1):
            kept = np.flatnonzero(active >= k)
            if not len(kept):
                below, above, inversions = math.nan, betas[0], 0
            else:
                i = kept[-1]
                below = betas[i]
                above = betas[i + 1] if i + 1 < len(betas) else math.nan
                inversions = int(np.sum(active[:i] < k))
            rows.append({"latent_dim": int(d), "l2": float(l2), "seed": int(seed), "level": k,
                         "beta_below": below, "beta_above": above, "inversions": inversions,
                         "beta_c": math.sqrt(below * above) if below > 0 and above > 0 else math.nan})
    return pd.DataFrame(rows, columns=["latent_dim", "l2", "seed", "level", "beta_below", "beta_above",
                                       "inversions", "beta_c"])


def refinement(trans: pd.DataFrame, points: int) -> dict[tuple[int, float], list[float]]:
    """New β per (latent_dim, l2): ``points`` values spaced evenly in log β inside the span of every
    seed's bracket of each level (both ends known), the geometric mid-point of any seed's bracket that none
    of them falls inside (so every bracket narrows, also when the seeds' brackets differ), and a β three
    times beyond the ladder's end for a transition that lies outside it."""
    new: dict[tuple[int, float], set[float]] = {}
    for r in trans[trans["beta_c"].isna()].itertuples():  # outside the ladder: one step of ×3 beyond
        beyond = r.beta_above / 3 if math.isnan(r.beta_below) else r.beta_below * 3
        new.setdefault((int(r.latent_dim), float(r.l2)), set()).add(float(f"{beyond:.6g}"))
    inside = trans.dropna(subset=["beta_c"])
    for (d, l2, _), g in inside.groupby(["latent_dim", "l2", "level"]):
        lo, hi = g["beta_below"].min(), g["beta_above"].max()
        betas = [float(f"{b:.6g}") for b in np.geomspace(lo, hi, points + 2)[1:-1]]
        for below, above in zip(g["beta_below"], g["beta_above"], strict=True):
            if not any(below < b < above for b in betas):
                betas.append(float(f"{math.sqrt(below * above):.6g}"))
        new.setdefault((int(d), float(l2)), set()).update(betas)
    return {key: sorted(v) for key, v in new.items()}


def search(spec: CollapseSearch, out: str | Path, *,
           on_round: Callable[[int, pd.DataFrame], None] | None = None, **study: Any) -> pd.DataFrame:
    """Run the adaptive search into ``out``; returns every run's row (:func:`measure`) with its ``round``.
    Round k's runs (:func:`round_grid`) are one study, ``out/round-<k>``, run by
    :func:`vaebench.run_study` with the keyword arguments ``study`` (executor, scheduler, workers,
    threads, device, shard_size, progress; progress off unless given): runs stored there already are
    not trained again. ``on_round`` is called with the round and the rows so far after each."""
    study = {"progress": False, **study}
    out = Path(out)
    ladders = {(d, l2): list(spec.ladder) for d in spec.latent_dims for l2 in spec.lambdas}
    runs = pd.DataFrame()
    for rnd in range(spec.rounds + 1):
        done = set() if runs.empty else set(zip(runs["latent_dim"], runs["l2"], runs["beta"], strict=True))
        ladders = {key: [b for b in betas if (*key, b) not in done] for key, betas in ladders.items()}
        if not any(ladders.values()):
            break
        grid, where = round_grid(spec, ladders, rnd), out / f"round-{rnd}"
        results = run_study(grid, where, **study)
        if len(results) != grid.size:  # the brackets would be decided on part of the round
            raise RuntimeError(f"{where}: {len(results)} of the round's {grid.size} runs stored after its "
                               f"study")
        rows = measure(results, where).assign(round=rnd)
        runs = pd.concat([runs, rows], ignore_index=True)
        if on_round is not None:
            on_round(rnd, runs)
        ladders = refinement(transitions(runs), spec.points)
    return runs


def summarise(trans: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per (latent_dim, l2, level): ``n`` seeds with the transition inside the ladder, ``n_below`` and
    ``n_above`` with it below or above every β tried, ``inversions`` (runs that stayed collapsed below
    their seed's bracket, see :func:`transitions`),
    ``beta_c`` (geometric mean over seeds), ``bracket_ratio`` (the widest seed's beta_above/beta_below)
    and ``beta_c_lo``/``beta_c_hi``: the Student-t interval of the mean of log β_c over seeds, widened by
    half the widest bracket's log ratio (a seed's β_c is only known within its bracket), exponentiated;
    NaN for n < 2."""
    rows = []
    for (d, l2, k), g in trans.groupby(["latent_dim", "l2", "level"]):
        logs = np.log(g["beta_c"].dropna().to_numpy())
        n = len(logs)
        mean = float(np.mean(logs)) if n else math.nan
        inside = g.dropna(subset=["beta_c"])
        ratio = float((inside["beta_above"] / inside["beta_below"]).max()) if n else math.nan
        # each seed's β_c is known only within its bracket: widen by half the widest one (in log β)
        half = t_half_width(logs, confidence) + 0.5 * math.log(ratio) if n >= 2 else math.nan
        rows.append({"latent_dim": int(d), "l2": float(l2), "level": int(k), "n": n,
                     "n_below": int(g["beta_below"].isna().sum()),
                     "n_above": int(g["beta_above"].isna().sum()), "inversions": int(g["inversions"].sum()),
                     "beta_c": math.exp(mean), "beta_c_lo": math.exp(mean - half),
                     "beta_c_hi": math.exp(mean + half), "bracket_ratio": ratio})
    return pd.DataFrame(rows)


# ---- command line: python -m vaebench collapse ----

def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``collapse`` subcommand to the vaebench CLI's subparsers."""
    p = sub.add_parser("collapse", help="phase diagram of posterior collapse: the critical β per λ",
                       description=__doc__.split("\n\n")[1])
    d = CollapseSearch()
    p.add_argument("--out", required=True, metavar="DIR",
                   help="where runs.csv, summary.csv and each round's study (round-<k>/) go; the same "
                        "search into the same DIR trains only what is not stored yet")
    p.add_argument("--latent-dims", type=int, nargs="*", default=list(d.latent_dims), metavar="D")
    p.add_argument("--l2", type=float, nargs="*", default=list(d.lambdas), metavar="LAMBDA")
    p.add_argument("--betas", type=float, nargs="*", default=list(d.ladder), metavar="BETA",
                   help="the starting β ladder")
    p.add_argument("--seeds", type=int, default=len(d.seeds), metavar="N", help="seeds 0..N-1 (N >= 2)")
    p.add_argument("--rounds", type=int, default=d.rounds, help="refinement rounds")
    p.add_argument("--points", type=int, default=d.points, help="new β per bracket and round")
    p.add_argument("--steps", type=int, default=d.run["steps"])
    p.add_argument("--n-eval", type=int, default=d.n_eval, metavar="N")
    p.add_argument("--hidden", type=int, nargs="*", default=[30, 30], metavar="W",
                   help="hidden widths (none: a linear VAE)")
    p.add_argument("--lr", type=float, default=1e-3)
    add_executor_arguments(p, "the rounds")
    p.add_argument("--threads", type=int, metavar="N",
                   help="local: training workers and evaluation threads; dask: torch threads per worker")
    p.add_argument("--quiet", action="store_true", help="no progress bar or log lines of each round's study")


def main(args: argparse.Namespace) -> int:
    """The ``collapse`` subcommand: validate, search (each round a study in DIR/round-<k>), write
    DIR/runs.csv and DIR/summary.csv, print the summary."""
    spec = CollapseSearch(latent_dims=args.latent_dims, lambdas=args.l2, ladder=args.betas,
                          seeds=range(max(args.seeds, 0)),
                          rounds=args.rounds, points=args.points, n_eval=args.n_eval,
                          run={**CollapseSearch().run, "steps": args.steps, "hidden": args.hidden,
                               "lr": args.lr})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def save(rnd: int, runs: pd.DataFrame) -> None:
        _write_csv(runs, out / "runs.csv")
        print(f"round {rnd}: {len(runs)} runs", flush=True)

    study = {"executor": args.executor, "scheduler": args.scheduler, "workers": args.workers,
             "threads": args.threads, "progress": not args.quiet}
    summary = summarise(transitions(search(spec, out, on_round=save, **study)))
    _write_csv(summary, out / "summary.csv")
    for r in summary.itertuples():
        where = (f"{r.beta_c:.4g} [{r.beta_c_lo:.4g}, {r.beta_c_hi:.4g}]" if r.n else "outside the ladder")
        print(f"d = {r.latent_dim}, λ = {r.l2:g}: fewer than {r.level} active at β ≈ {where} "
              f"(n = {r.n} seeds; {r.n_below} below, {r.n_above} above the β tried)")
    return 0


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    atomic_write(path, frame.to_csv(index=False).encode())
