"""The report's "where this study's time went": the study's own timings, so the report shows the throughput
its study really reached (training, evaluation and storing included), with or without a benchmark JSON.

Inputs are data the runner stored: the results table's ``engine``, ``train_seconds`` and ``eval_seconds``
per run, the run's ``steps`` and ``variant``, and the last ``run_study`` call's ``timings.json``
(:mod:`vaebench.timings`), read by the caller. Nothing here reads files.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.document import Cell, Table, value_cell

UNTRAINED = ("probit",)  # closed-form references: no training steps


def _model_steps(runs: pd.DataFrame) -> pd.Series:
    steps = pd.to_numeric(runs.get("steps", pd.Series(0, index=runs.index)), errors="coerce").fillna(0)
    return steps.where(~runs.get("variant", pd.Series("", index=runs.index)).isin(UNTRAINED), 0)


def route_table(results: pd.DataFrame) -> Table:
    """Per variant, latent size and engine route: runs, model-steps, training seconds (sum over runs of
    their training call's wall time per run), model-steps/s while training, evaluation ms per run."""
    runs = results.copy()
    runs["model_steps"] = _model_steps(runs)
    for col in ("train_seconds", "eval_seconds"):
        runs[col] = pd.to_numeric(runs.get(col, pd.Series(np.nan, index=runs.index)), errors="coerce")
    keys = [k for k in ("variant", "latent_dim", "engine") if k in runs]
    rows = []
    for key, grp in runs.groupby(keys, sort=True, dropna=False):
        train = float(grp["train_seconds"].sum())
        steps = float(grp["model_steps"].sum())
        rows.append([*(Cell(str(v), str(v)) for v in (key if isinstance(key, tuple) else (key,))),
                     value_cell(len(grp)), value_cell(steps), value_cell(train),
                     value_cell(steps / train if train > 0 else float("nan")),
                     value_cell(1000.0 * float(grp["eval_seconds"].mean()))])
    return Table([*keys, "runs", "model-steps", "training (s)", "model-steps/s training",
                  "evaluation (ms per run)"], rows,
                 "Where the training time went, per variant, latent size and engine route (all stored runs; "
                 "training seconds are each training call's wall time shared among its runs; runs of "
                 "other groups trained in the same call, so a route's rate is a lower bound).")


def study_table(results: pd.DataFrame, timings: dict[str, Any] | None) -> Table:
    """The whole study: wall time, training, evaluation and storing, model-steps/s and the share of wall
    time spent training, from ``timings`` (the last ``run_study`` call); without it, the sums over the
    stored runs only (no wall time: the study was run before timings were recorded)."""
    steps = float(_model_steps(results).sum())
    train = float(pd.to_numeric(results.get("train_seconds"), errors="coerce").sum())
    evaluate = float(pd.to_numeric(results.get("eval_seconds"), errors="coerce").sum())
    if timings:
        wall = float(timings["wall_seconds"])
        items = [("runs trained in the last call", timings["runs"]), ("model-steps", timings["model_steps"]),
                 ("wall time (s)", wall), ("training (s)", timings["train_seconds"]),
                 ("evaluation (s)", timings["eval_seconds"]), ("storing (s)", timings["store_seconds"]),
                 ("model-steps/s, whole study", timings["model_steps_per_s"]),
                 ("training share of wall time", timings["train_share"]),
                 ("executor", timings.get("executor", "n/a"))]
        caption = ("Where this study's time went, in its last `python -m vaebench run` (or report) call: "
                   "model-steps/s over the wall time, evaluation and storing included. Training and "
                   "evaluation overlap (a wave is evaluated while the next trains), so their sum can "
                   "exceed the wall time.")
    else:
        items = [("runs", len(results)), ("model-steps", steps), ("training (s)", train),
                 ("evaluation (s)", evaluate),
                 ("model-steps/s while training", steps / train if train > 0 else float("nan"))]
        caption = ("Where this study's time went, summed over its stored runs (no timings.json: wall time "
                   "and storing were not recorded).")
    rows = [[Cell(name, name), value_cell(value)]
            for name, value in items]
    return Table(["", "value"], rows, caption)
