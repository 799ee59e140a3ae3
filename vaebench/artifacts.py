"""A stored run's artifacts (``DIR/runs/<run_id>/``): writing them, checking them cheaply, loading them;
and the study's copies of its files of points (``DIR/data/<id>.npy``). See :mod:`vaebench.store` for the
layout."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from vaebench import integrity
from vaebench.config import RunConfig
from vaebench.data import POINTS_PREFIX, points_id
from vaebench.data import read_points as read_points_file
from vaebench.files import StudyError, atomic_write


def write_run(out_dir: str | Path, rid: str, cfg: RunConfig | dict[str, Any], arrays: dict[str, np.ndarray],
              history: pd.DataFrame, state_dict: dict[str, torch.Tensor]) -> None:
    """Store one run's artifacts (before the part that commits it); ``cfg``: its RunConfig or
    ``RunConfig.to_dict()``."""
    config = cfg if isinstance(cfg, dict) else cfg.to_dict()
    run_dir = Path(out_dir) / "runs" / rid
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(err.errno, f"could not create {run_dir}: {err.strerror}") from None
    buf = io.BytesIO()
    # uncompressed: float samples compress to ~80 % at ten times the time (3 ms a run at n_eval = 2 000)
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    atomic_write(run_dir / "arrays.npz", buf.getvalue())
    buf = io.BytesIO()
    history.to_parquet(buf, index=False)
    atomic_write(run_dir / "history.parquet", buf.getvalue())
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().clone() for k, v in state_dict.items()}, buf)
    atomic_write(run_dir / "weights.pt", buf.getvalue())
    atomic_write(run_dir / "config.json", json.dumps(config, indent=1).encode())


def _run_file(out_dir: str | Path, rid: str, name: str) -> Path:
    path = Path(out_dir) / "runs" / str(rid) / name
    if not path.is_file():
        raise StudyError(f"run_id = {rid!r}: no {name} in {Path(out_dir) / 'runs'} (not stored yet?)")
    return path


def load_artifacts(out_dir: str | Path, rid: str) -> dict[str, np.ndarray]:
    """A run's evaluation arrays: ``x``, ``quadrant``, ``mu``, ``logvar``, ``z``, ``recon``,
    ``recon_mean``, ``generated`` (see :func:`vaebench.evaluation.eval_arrays`); no pickles. A file that
    is not such arrays (empty, a pickle, missing keys, wrong shapes or dtypes, damaged) raises a
    :class:`StudyError` naming its path and the reason."""
    path = _run_file(out_dir, rid, "arrays.npz")
    try:
        integrity.check_arrays_file(path)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        integrity.check_arrays(arrays)
    except Exception as err:  # noqa: BLE001 - whatever a damaged file raises, name the file
        why = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise StudyError(f"{path}: broken artifacts ({why}); `vaebench run` trains the run again") from None
    return arrays


def check_run(out_dir: str | Path, rid: str, latent_dim: int | None = None,
              n_eval: int | None = None) -> str | None:
    """Why a stored run's artifacts are broken ("<path>: <reason>"), or None when arrays.npz (headers
    only), history.parquet (schema only), weights.pt and config.json look whole. Cheap: reads no arrays."""
    run_dir = Path(out_dir) / "runs" / str(rid)
    checks = {"arrays.npz": lambda p: integrity.check_arrays_file(p, latent_dim, n_eval),
              "history.parquet": integrity.check_history_file,
              "weights.pt": _check_weights,
              "config.json": lambda p: None}
    for name, check in checks.items():
        path = run_dir / name
        try:
            if not path.is_file():
                raise ValueError("missing")
            check(path)
        except (ValueError, OSError) as err:
            return f"{path}: {err}"
    return None


def _check_weights(path: Path) -> None:
    if not zipfile.is_zipfile(path):
        raise ValueError("not a torch.save archive (empty, truncated or another format)")


def load_history(out_dir: str | Path, rid: str) -> pd.DataFrame:
    """A run's training history: one row per logged step (step, loss terms, l2, beta, total); a file
    that is not such a table raises a :class:`StudyError` naming its path and the reason."""
    path = _run_file(out_dir, rid, "history.parquet")
    try:
        integrity.check_history_file(path)
        return pd.read_parquet(path)
    except Exception as err:  # noqa: BLE001 - whatever a damaged file raises, name the file
        why = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise StudyError(f"{path}: broken artifacts ({why}); `vaebench run` trains the run again") from None


def load_config(out_dir: str | Path, rid: str) -> RunConfig:
    """A run's resolved RunConfig."""
    return RunConfig(**json.loads(_run_file(out_dir, rid, "config.json").read_text()))


def load_model(out_dir: str | Path, rid: str) -> nn.Module:
    """A run's trained model, rebuilt from its config and ``weights.pt`` (loaded with weights_only=True)."""
    from vaebench.variants import get_variant

    cfg = load_config(out_dir, rid)
    model = get_variant(cfg.variant).module(cfg, None)
    state = torch.load(_run_file(out_dir, rid, "weights.pt"), weights_only=True, map_location="cpu")
    model.load_state_dict(state)
    return model.eval()


def write_points(out_dir: str | Path, points: dict[str, np.ndarray]) -> None:
    """Keep a copy of each file of points the study trains on, under its content id (written once)."""
    for pid, arr in points.items():
        path = Path(out_dir) / "data" / f"{pid.removeprefix(POINTS_PREFIX)}.npy"
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(arr, dtype=np.float32), allow_pickle=False)
            atomic_write(path, buf.getvalue())


def read_points(out_dir: str | Path, dataset: str) -> np.ndarray:
    """The study's copy of the points of content id ``dataset``, checked against its id."""
    path = Path(out_dir) / "data" / f"{dataset.removeprefix(POINTS_PREFIX)}.npy"
    arr = read_points_file(path)
    if points_id(arr) != dataset:
        raise StudyError(f"{path}: its points do not match their content id {dataset!r} (edited or damaged)")
    return arr
