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
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from vaebench import integrity
from vaebench.artifacts import (  # noqa: F401  (the store's interface: a run's artifacts)
    check_run,
    load_artifacts,
    load_config,
    load_history,
    load_model,
    read_points,
    write_points,
    write_run,
)
from vaebench.config import RunConfig, config_fields
from vaebench.files import TMP_PREFIX, StudyError, StudyLock, atomic_write, clean_temp, prepare_dir  # noqa: F401

BASE_COLUMNS = ["run_id", "status", "diverged_step", "reason"]
RUN_COLUMNS = ["engine"]  # which engine path trained the run (optional: older parts lack it)
TIMING_COLUMNS = ["train_seconds", "eval_seconds"]
JSON_FIELDS = ("hidden", "params")  # config fields stored as canonical JSON strings
PART_PREFIX, PART_SUFFIX = "part-", ".parquet"


def write_study(out_dir: str | Path, meta: dict[str, Any], source: str | None) -> None:
    """Record the resolved grid (``study.json``) and the grid file's text (``grid.toml``)."""
    out = Path(out_dir)
    if source is not None:
        atomic_write(out / "grid.toml", source.encode())
    atomic_write(out / "study.json", json.dumps(meta, indent=1).encode())


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

def broken_runs(out_dir: str | Path, scan: PartScan, latent_dims: dict[str, int],
                n_eval: int | None) -> list[tuple[str, str]]:
    """(run_id, why) of every run of ``latent_dims`` (run id → its latent size) stored ``ok`` in ``scan``
    whose artifacts are broken (:func:`check_run`); runs stored with another status have no arrays to
    check."""
    stored = results_from_scan(scan)
    ok = stored.loc[stored["status"] == "ok", "run_id"]
    out = []
    for rid in ok:
        if rid in latent_dims:
            why = check_run(out_dir, rid, latent_dims[rid], n_eval)
            if why:
                out.append((rid, why))
    return out


@dataclasses.dataclass
class StudyContents:
    """What a study directory holds, read without the lock and without changing anything
    (:func:`study_contents`): ``meta`` (study.json, {} where there is none), ``grid_ids`` (its grid's run
    ids, None without a record), ``results`` (stored rows of the grid's runs in grid order; every stored
    row without a record), ``stored`` (every stored row), ``corrupt`` (path, why) and ``foreign`` (path,
    the run ids of that part that no grid run has)."""

    meta: dict[str, Any]
    grid_ids: list[str] | None
    results: pd.DataFrame
    stored: pd.DataFrame
    corrupt: list[tuple[Path, str]]
    foreign: list[tuple[Path, list[str]]]

    @property
    def pending(self) -> list[str]:
        """The grid's runs not stored."""
        done = set(self.stored["run_id"])
        return [r for r in self.grid_ids or [] if r not in done]


def study_contents(out_dir: str | Path) -> StudyContents:
    """Read a study directory (that has results/): its record, its parts, which runs are stored."""
    out = Path(out_dir)
    meta = read_study(out) or {}
    scan = scan_parts(out)
    grid_ids = [r["run_id"] for r in meta.get("runs", [])] or None
    known = set(grid_ids or [])
    foreign = [(path, sorted(set(df["run_id"]) - known)) for path, df in scan.good] if grid_ids else []
    return StudyContents(meta, grid_ids, results_from_scan(scan, grid_ids), results_from_scan(scan),
                         scan.corrupt, [(p, ids) for p, ids in foreign if ids])


@dataclasses.dataclass
class RunRecord:
    """What the store commits per run: its table row, evaluation arrays, history and weights."""

    run_id: str
    row: dict[str, Any]
    arrays: dict[str, np.ndarray]
    history: pd.DataFrame
    state_dict: dict[str, Any]


class OpenStudy:
    """A study directory opened for writing by :func:`open_study`, its lock held until :meth:`close`.

    ``pending``: the run ids to train, in the order given (not stored, or stored with broken
    artifacts); ``broken``: (run id, why) of the latter; ``corrupt``: (path, why, where it was moved) of
    the parts moved aside. :meth:`commit` stores finished runs: artifacts, then one part."""

    def __init__(self, out: Path, run_ids: list[str], meta: dict[str, Any], source: str | None,
                 points: dict[str, np.ndarray] | None = None):
        self.out, self.run_ids = out, list(run_ids)
        self.configs = {r["run_id"]: r["config"] for r in meta.get("runs", [])}
        self.lock = StudyLock(out).__enter__()
        try:
            n_eval = meta.get("n_eval")
            before = read_study(out)
            scan = scan_parts(out)
            if before is not None and before.get("n_eval") != n_eval and scan.good:
                raise StudyError(f"n_eval = {n_eval}: the runs stored in {str(out)!r} were evaluated with "
                                 f"n_eval = {before.get('n_eval')}; use that or another output directory")
            clean_temp(out)
            done = {rid for _, df in scan.good for rid in df["run_id"]}
            dims = {rid: c.get("latent_dim") for rid, c in self.configs.items()}
            self.broken = broken_runs(out, scan, dims, n_eval)
            done -= {rid for rid, _ in self.broken}  # artifacts damaged since: train the run again
            self.pending = [rid for rid in self.run_ids if rid not in done]
            self.corrupt = [(path, why, quarantine(path)) for path, why in scan.corrupt]
            write_study(out, meta, source)
            write_points(out, points or {})
        except BaseException:
            self.close()
            raise

    def commit(self, records: list[RunRecord]) -> Path:
        """Store finished runs (one shard): each run's artifacts, then the part that commits them."""
        for rec in records:
            write_run(self.out, rec.run_id, self.configs[rec.run_id], rec.arrays, rec.history,
                      rec.state_dict)
        return write_part(self.out, [rec.row for rec in records])

    def results(self) -> pd.DataFrame:
        """The study's table: its runs' stored rows, in the order given (:func:`load_results`)."""
        return load_results(self.out, self.run_ids)

    def close(self) -> None:
        self.lock.__exit__(None, None, None)

    def __enter__(self) -> OpenStudy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_study(out_dir: str | Path, run_ids: list[str], meta: dict[str, Any],
               source: str | None = None, points: dict[str, np.ndarray] | None = None) -> OpenStudy:
    """Open a study directory for writing (created if needed) and hold its lock (a
    :class:`StudyError` names the holder when another process has it): find what is stored, move
    corrupted parts aside, find stored runs with broken artifacts, and record ``meta`` (the resolved grid:
    ``n_eval`` and ``runs``, each ``{"run_id", "config"}`` with the config as a dict) in ``study.json``
    and ``source`` in ``grid.toml``, and a copy of each file of ``points`` (content id -> [N, 2]) in
    ``data/``. Refuses (StudyError) another ``n_eval`` than the stored runs'.
    Plain data in: the store knows nothing of how runs are trained."""
    return OpenStudy(prepare_dir(out_dir), run_ids, meta, source, points)
