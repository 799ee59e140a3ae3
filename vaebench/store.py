"""The study directory: results as Parquet parts, per-run artifacts, the resolved grid, a lock.

Layout of a study directory ``DIR``::

    DIR/study.json                       the resolved grid: settings, the grid tables, every run's id and
                                         config (rewritten by each `run`; the latest grid)
    DIR/grid.toml                        the grid file as given (when the study came from a file)
    DIR/data/<content id>.npy            a copy of each file of points the grid names (``points:`` ids,
                                         :mod:`vaebench.data`), so the study holds the data it trained on
    DIR/results/part-<sha256:16>.parquet one per finished shard, the commit record of its runs; named by
                                         the sha256 of its own bytes, so a changed byte is detected
    DIR/runs/<run_id>/arrays.npz         evaluation arrays (x, quadrant, mu, logvar, z, recon,
                                         recon_mean, generated), compressed, no pickles
    DIR/runs/<run_id>/history.parquet    training history (step, loss terms, beta, total)
    DIR/runs/<run_id>/weights.pt         ``torch.save(model.state_dict())``; load with weights_only=True
    DIR/runs/<run_id>/config.json        the run's resolved RunConfig
    DIR/.lock                            held (flock) by the one process writing the study

Every file is written atomically (a temporary file in the same directory, fsync, ``os.replace``), and a
shard's artifacts before its part: a run is stored iff a valid part lists it. A killed writer leaves at
most temporary files (removed by the next writer) and artifacts without a part (rewritten when the run
trains again). A part whose bytes do not match its name, or whose table has not the results schema and
dtypes (:func:`vaebench.integrity.check_part_table`), is *corrupted*: :func:`scan_parts` reports it by
name and the runner moves it aside (``.corrupt``) and trains its runs again. A stored ``ok`` run whose
artifacts fail :func:`check_run` is *broken*: the runner trains it again, the report lists it.
``study.json`` of the wrong shape is an error naming the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import io
import json
import os
import socket
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch
from torch import nn

from vaebench import integrity
from vaebench.config import RunConfig, config_fields
from vaebench.data import POINTS_PREFIX, points_id
from vaebench.data import read_points as read_points_file

BASE_COLUMNS = ["run_id", "status", "diverged_step", "reason"]
RUN_COLUMNS = ["engine"]  # which engine path trained the run (optional: older parts lack it)
TIMING_COLUMNS = ["train_seconds", "eval_seconds"]
JSON_FIELDS = ("hidden", "params")  # config fields stored as canonical JSON strings
PART_PREFIX, PART_SUFFIX = "part-", ".parquet"
TMP_PREFIX = ".tmp-"


class StudyError(ValueError):
    """A study directory that cannot be used as asked (busy, corrupted, not a study, mismatched)."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temporary file beside it, fsync, ``os.replace``. On any
    failure (disk full, permissions, interrupt) the temporary file is removed and ``path`` is untouched;
    OSErrors are re-raised with the path in the message."""
    tmp = path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}-{path.name}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(err.errno, f"could not write {path}: {err.strerror or err}; files stored "
                                 f"before are intact") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def prepare_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` (and results/, runs/) if needed and check it is writable; OSError naming it
    otherwise."""
    if not str(out_dir).strip():
        raise ValueError(f"out = {str(out_dir)!r}: an empty path (an unset shell variable?); give the study "
                         f"directory")
    out = Path(out_dir)
    try:
        for sub in (out, out / "results", out / "runs"):
            sub.mkdir(parents=True, exist_ok=True)
        probe = out / f"{TMP_PREFIX}probe-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise OSError(err.errno, f"out = {str(out)!r}: cannot write the study there "
                                 f"({err.strerror or err})") from None
    return out


class StudyLock:
    """Exclusive lock of a study directory (``flock`` on ``DIR/.lock``), so one process writes a study
    at a time; a second one stops with a :class:`StudyError` naming the holder. The kernel releases it
    when the holder exits, killed or not. Local file systems only (flock is not reliable on NFS)."""

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / ".lock"
        self.fh: Any = None

    def __enter__(self) -> StudyLock:
        try:
            import fcntl
        except ImportError:
            raise OSError("study directories are locked with POSIX flock, which this system lacks") from None

        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise StudyError(f"out = {str(self.path.parent)!r}: the study is in use by {holder}; wait for it "
                             f"to finish or stop it, then run again") from None
        fh.seek(0)
        fh.truncate()
        now = datetime.datetime.now().isoformat(timespec="seconds")
        fh.write(f"vaebench pid {os.getpid()} on {socket.gethostname()} since {now}\n")
        fh.flush()
        self.fh = fh
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fh is not None:
            self.fh.close()  # closing the descriptor releases the flock
            self.fh = None


def clean_temp(out_dir: str | Path) -> int:
    """Remove temporary files left by a killed writer (call only while holding the lock)."""
    out = Path(out_dir)
    stale = list((out / "results").glob(f"{TMP_PREFIX}*")) + list((out / "runs").glob(f"*/{TMP_PREFIX}*"))
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


def write_study(out_dir: str | Path, meta: dict[str, Any], source: str | None) -> None:
    """Record the resolved grid (``study.json``) and the grid file's text (``grid.toml``)."""
    out = Path(out_dir)
    if source is not None:
        atomic_write(out / "grid.toml", source.encode())
    atomic_write(out / "study.json", json.dumps(meta, indent=1).encode())


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


def read_study(out_dir: str | Path) -> dict[str, Any] | None:
    """The study's ``study.json`` as a dict, or None where there is none yet."""
    path = Path(out_dir) / "study.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        integrity.check_study_record(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        why = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise StudyError(f"{path}: not a valid study record ({why}); move it away and run again") from None
    except OSError as err:
        raise StudyError(f"{path}: cannot read it ({err.strerror or err})") from None
    return data


def config_row(cfg: RunConfig) -> dict[str, Any]:
    """A config as table columns: every field by name, ``hidden``/``params`` as canonical JSON."""
    row = cfg.to_dict()
    for f in JSON_FIELDS:
        row[f] = json.dumps(row[f], sort_keys=True)
    return row


def config_from_row(row: dict[str, Any]) -> RunConfig:
    """Inverse of :func:`config_row`."""
    kw = {f: row[f] for f in config_fields()}
    for f in JSON_FIELDS:
        kw[f] = json.loads(kw[f])
    return RunConfig(**kw)


@dataclasses.dataclass
class PartScan:
    """Result of :func:`scan_parts`: readable parts (path, table) and corrupted ones (path, why)."""

    good: list[tuple[Path, pd.DataFrame]]
    corrupt: list[tuple[Path, str]]


def _read_part(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    if path.name != f"{PART_PREFIX}{digest}{PART_SUFFIX}":
        raise ValueError("its bytes do not match the checksum in its name (truncated or changed)")
    df = pq.read_table(io.BytesIO(data)).to_pandas()
    integrity.check_part_table(df, BASE_COLUMNS)
    return df


def scan_parts(out_dir: str | Path) -> PartScan:
    """Read and verify every part file of a study, oldest first. Nothing is changed on disk."""
    results = Path(out_dir) / "results"
    stamped = []
    for path in results.glob(f"{PART_PREFIX}*{PART_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):  # moved aside meanwhile by a running study
            stamped.append((path.stat().st_mtime_ns, path.name, path))
    scan = PartScan([], [])
    for *_, path in sorted(stamped):
        try:
            scan.good.append((path, _read_part(path)))
        except Exception as err:  # noqa: BLE001 - any failure to read a part means it is corrupted
            scan.corrupt.append((path, str(err).splitlines()[0] if str(err) else type(err).__name__))
    return scan


def quarantine(path: Path) -> Path:
    """Move a corrupted part aside (``<name>.corrupt``) so its runs count as pending."""
    target = path.with_name(path.name + ".corrupt")
    os.replace(path, target)
    return target


def write_run(out_dir: str | Path, rid: str, cfg: RunConfig, arrays: dict[str, np.ndarray],
              history: pd.DataFrame, state_dict: dict[str, torch.Tensor]) -> None:
    """Store one run's artifacts (before the part that commits it)."""
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
    atomic_write(run_dir / "config.json", json.dumps(cfg.to_dict(), indent=1).encode())


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    fields = config_fields()
    first = BASE_COLUMNS + fields
    rest = [c for c in df.columns if c not in first and c not in RUN_COLUMNS + TIMING_COLUMNS]
    cols = first + rest + RUN_COLUMNS + TIMING_COLUMNS
    df = df.reindex(columns=cols)
    df["diverged_step"] = df["diverged_step"].astype("Int64")
    return df


def write_part(out_dir: str | Path, rows: list[dict[str, Any]]) -> Path:
    """Commit finished runs: one Parquet part, named by the sha256 of its bytes, written atomically."""
    df = _ordered(pd.DataFrame(rows))
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    data = buf.getvalue()
    path = Path(out_dir) / "results" / f"{PART_PREFIX}{hashlib.sha256(data).hexdigest()[:16]}{PART_SUFFIX}"
    atomic_write(path, data)
    return path


def empty_results() -> pd.DataFrame:
    """The results table with no rows."""
    return _ordered(pd.DataFrame(columns=BASE_COLUMNS + config_fields() + RUN_COLUMNS + TIMING_COLUMNS))


def results_from_scan(scan: PartScan, run_ids: list[str] | None = None) -> pd.DataFrame:
    """One row per run from the good parts of ``scan`` (first stored wins), in ``run_ids`` order."""
    frames = [df for _, df in scan.good if len(df)]
    if not frames:
        df = empty_results()
    else:
        df = _ordered(pd.concat(frames, ignore_index=True)).drop_duplicates("run_id", keep="first")
    if run_ids is not None:
        stored = set(df["run_id"])
        df = df.set_index("run_id").reindex([r for r in run_ids if r in stored]).reset_index()
    return df.reset_index(drop=True)


def load_results(out_dir: str | Path, run_ids: list[str] | None = None, *,
                 on_corrupt: str = "raise") -> pd.DataFrame:
    """The study's results as one tidy DataFrame: one row per stored run with ``run_id``, ``status``,
    ``diverged_step``, ``reason``, every RunConfig field (``hidden``/``params`` as JSON strings), every
    metric, ``train_seconds`` and ``eval_seconds``. ``run_ids`` keeps only (and orders by) those runs.
    A corrupted part raises a :class:`StudyError` naming it (``on_corrupt="skip"`` leaves it out)."""
    out = Path(out_dir)
    if not (out / "results").is_dir():
        raise StudyError(f"{str(out)!r}: not a vaebench study directory (no results/)")
    if on_corrupt not in ("raise", "skip"):
        raise ValueError(f"on_corrupt = {on_corrupt!r}: must be 'raise' or 'skip'")
    scan = scan_parts(out)
    if scan.corrupt and on_corrupt == "raise":
        path, why = scan.corrupt[0]
        raise StudyError(f"{path}: corrupted part file ({why}); run the study again to train its runs "
                         f"again, or pass on_corrupt='skip'")
    return results_from_scan(scan, run_ids)


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


def broken_runs(out_dir: str | Path, scan: PartScan, configs: dict[str, RunConfig],
                n_eval: int | None) -> list[tuple[str, str]]:
    """(run_id, why) of every run of ``configs`` stored ``ok`` in ``scan`` whose artifacts are broken
    (:func:`check_run`); runs stored with another status have no arrays to check."""
    stored = results_from_scan(scan)
    ok = stored.loc[stored["status"] == "ok", "run_id"]
    out = []
    for rid in ok:
        if rid in configs:
            why = check_run(out_dir, rid, configs[rid].latent_dim, n_eval)
            if why:
                out.append((rid, why))
    return out


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
