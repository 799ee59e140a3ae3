"""Evaluate one trained run on its held-out evaluation set: the arrays the metrics and figures need.

The evaluation set is ``n_eval`` fresh points of the run's data set from the run's own "eval" stream
(never the training points). From it: encoder means μ(x) and log-variances, one latent sample
z ~ q(z|x) per point (z = μ for deterministic encoders), the reconstruction decode(z), the mean
reconstruction decode(μ), and ``generated`` = decode(z') for z' ~ N(0, I), as many as the evaluation set.
Figures show μ(x) as "the latent" and decode(z) as "the reconstruction".
"""

from __future__ import annotations

import numpy as np
import torch

from vaebench.data import centre, evaluation_points, quadrant
from vaebench.defaults import N_EVAL
from vaebench.engine import TrainResult
from vaebench.metrics import evaluate, nan_metrics
from vaebench.seeding import stream_rng, stream_seed
from vaebench.threads import evaluating
from vaebench.variants import get_variant


@torch.no_grad()
def eval_arrays(result: TrainResult, n_eval: int = N_EVAL) -> dict[str, np.ndarray]:
    """Arrays of one run on its evaluation set: ``x`` [n, 2], ``quadrant`` [n] (int), ``mu``, ``logvar``,
    ``z`` [n, d], ``recon``, ``recon_mean``, ``generated`` [n, 2]; float32 except ``quadrant``. Computed
    in the evaluation's floating-point environment (:func:`vaebench.threads.evaluating`), whatever the
    calling thread's."""
    with evaluating():
        return _eval_arrays(result, n_eval)


def _eval_arrays(result: TrainResult, n_eval: int) -> dict[str, np.ndarray]:
    cfg, model = result.config, result.model.cpu()
    x = evaluation_points(cfg.dataset, cfg.n_train, n_eval, cfg.seed)
    rng = stream_rng(cfg.seed, "metrics")
    xt = torch.from_numpy(x)
    mu, logvar = model.encode(xt)
    eps = torch.from_numpy(rng.standard_normal(mu.shape, dtype=np.float32))
    z = mu + torch.exp(0.5 * logvar) * eps if torch.isfinite(logvar).all() else mu
    prior = torch.from_numpy(rng.standard_normal(mu.shape, dtype=np.float32))
    out = {"x": x, "quadrant": quadrant(x, centre(cfg.dataset)), "mu": mu, "logvar": logvar, "z": z,
           "recon": model.decode(z), "recon_mean": model.decode(mu), "generated": model.decode(prior)}
    return {k: np.asarray(v, dtype=np.int64 if k == "quadrant" else np.float32) for k, v in out.items()}


def evaluate_run(result: TrainResult, n_eval: int = N_EVAL) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Metrics (name → float) and evaluation arrays of one run.

    The metrics are ``n_eval``, the last logged training terms ``train_recon``, ``train_kl``,
    ``train_mmd``, ``train_total`` (NaN where the variant has no such term) and every column of
    :func:`vaebench.metrics.evaluate` (see :mod:`vaebench.metrics.suite`), computed on the held-out
    evaluation set with the run's model, its ``recon_var`` (the fitted one where the variant's class sets
    ``fits_recon_var``), its data set and its own "metrics" random stream. Diverged runs get NaN for every
    suite metric. The numbers do not depend on the calling thread's floating-point state
    (:func:`vaebench.threads.evaluating`).
    """
    with evaluating():
        return _evaluate_run(result, n_eval)


def _evaluate_run(result: TrainResult, n_eval: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    arrays = eval_arrays(result, n_eval)
    metrics: dict[str, float] = {"n_eval": float(n_eval)}
    last = result.history.iloc[-1] if len(result.history) else None
    for col in ("recon", "kl", "mmd", "total"):
        metrics[f"train_{col}"] = float(last[col]) if last is not None and col in last else float("nan")
    if result.status != "ok":
        metrics.update(nan_metrics())
        return metrics, arrays
    cfg = result.config
    # a variant that fits the decoder variance (σ-VAE) is scored with the fitted one (recon_var_fitted)
    fit = bool(getattr(get_variant(cfg.variant), "fits_recon_var", False))
    metrics.update(evaluate(arrays, model=result.model, recon_var=cfg.recon_var,
                            seed=stream_seed(cfg.seed, "metrics"), fit_recon_var=fit, dataset=cfg.dataset))
    return metrics, arrays
