"""What a stored file must look like before the study uses it: a part's schema and dtypes, the shape of
``study.json``, a run's artifacts.

A file is untrusted until it passes these checks, the way a part is untrusted until its bytes match the
checksum in its name (:mod:`vaebench.store`). Each check returns or raises one short reason, which the
store puts after the file's path: a part that fails is *corrupted* (set aside, its runs trained again), a
run whose artifacts fail is *broken* (the report lists it and draws the others; ``vaebench run`` trains
it again). The checks read headers and columns only, never a pickle.
"""

from __future__ import annotations

import dataclasses
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from vaebench.config import RunConfig, show

RUN_ID = re.compile(r"[0-9a-f]{16}")  # a run id is also a directory name: nothing else may pass
STATUSES = ("ok", "diverged", "eval_failed")
# the evaluation arrays of a run (vaebench.evaluation.eval_arrays): name -> columns ("D" = the data's
# dimension, "d" = the latent's, None = a vector)
ARRAYS = {"x": "D", "quadrant": None, "mu": "d", "logvar": "d", "z": "d", "recon": "D", "recon_mean": "D",
          "generated": "D"}
TEXT_COLUMNS = ("reason", "engine")


def _kind(annotation: str) -> str:
    return {"str": "text", "int": "integer", "float": "number"}.get(annotation, "json")


CONFIG_KINDS = {f.name: _kind(str(f.type)) for f in dataclasses.fields(RunConfig)}


def _values(series: pd.Series) -> pd.Series:
    return series[series.notna()]


def _column_problem(name: str, series: pd.Series, kind: str) -> str | None:
    """Why the column ``name`` does not hold values of ``kind`` (None when it does)."""
    values = _values(series)
    if values.empty:
        return None
    first_bad = None
    if kind in ("text", "json"):
        bad = values[[not isinstance(v, str) for v in values]]
        if bad.empty and kind == "json":
            for v in values:
                try:
                    json.loads(v)
                except ValueError:
                    first_bad = v
                    break
        elif not bad.empty:
            first_bad = bad.iloc[0]
    elif not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        first_bad = values.iloc[0]
    elif kind == "integer":
        as_float = values.astype("float64")
        bad = values[~np.isfinite(as_float) | (as_float != np.round(as_float))]
        first_bad = None if bad.empty else bad.iloc[0]
    if first_bad is None:
        return None
    if isinstance(first_bad, np.generic):
        first_bad = first_bad.item()
    expected = {"text": "text", "json": "JSON text", "integer": "integers", "number": "numbers"}[kind]
    return f"column {name!r} holds {show(first_bad, 40)}, expected {expected}"


def check_part_table(df: pd.DataFrame, required: list[str]) -> None:
    """Raise ValueError when a part's table has not the results schema: the ``required`` columns, run ids
    of 16 hex digits, a known status, an integer ``diverged_step``, text ``reason`` and ``engine``, each
    config column of its RunConfig type, and numbers in every other column (metrics, timings)."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are missing")
    if len(set(df.columns)) != len(df.columns):
        raise ValueError("a column name is repeated")
    ids = df["run_id"]
    bad_ids = [v for v in ids if not (isinstance(v, str) and RUN_ID.fullmatch(v))]
    if bad_ids:
        raise ValueError(f"run_id {show(bad_ids[0], 40)} is not 16 hex digits")
    bad_status = [v for v in df["status"] if v not in STATUSES]
    if bad_status:
        raise ValueError(f"status {show(bad_status[0], 40)} is not one of {list(STATUSES)}")
    kinds = {"diverged_step": "integer", **dict.fromkeys(TEXT_COLUMNS, "text"), **CONFIG_KINDS}
    for name in df.columns:
        if name in ("run_id", "status"):
            continue
        why = _column_problem(str(name), df[name], kinds.get(name, "number"))
        if why:
            raise ValueError(why)


def check_study_record(data: Any) -> None:
    """Raise ValueError when parsed ``study.json`` is not a study record: an object whose ``name`` is
    text, ``n_eval`` an integer, ``grid`` an object and ``runs`` a list of {"run_id", "config"} objects."""
    if not isinstance(data, dict):
        raise ValueError(f"holds {show(data, 40)}, not a JSON object")
    expected = {"name": str, "n_eval": int, "grid": dict, "runs": list, "results_version": int,
                "vaebench_version": str}
    for key, kind in expected.items():
        if key in data and (not isinstance(data[key], kind) or isinstance(data[key], bool)):
            raise ValueError(f"{key} = {show(data[key], 40)}: must be a JSON {kind.__name__}")
    for i, run in enumerate(data.get("runs", [])):
        rid = run.get("run_id") if isinstance(run, dict) else None
        if not (isinstance(rid, str) and RUN_ID.fullmatch(rid) and isinstance(run.get("config"), dict)):
            raise ValueError(f"runs[{i}] = {show(run, 40)}: must be an object with a run_id of 16 hex "
                             f"digits and a config object")


def _check_shapes(shapes: dict[str, tuple[tuple[int, ...], np.dtype]], latent_dim: int | None,
                  n_eval: int | None) -> None:
    missing = [k for k in ARRAYS if k not in shapes]
    if missing:
        raise ValueError(f"arrays {missing} are missing")
    for name, (_, dtype) in shapes.items():
        if dtype.kind not in "fiu":
            raise ValueError(f"array {name!r} has dtype {dtype}, not numbers")
    x_shape, mu_shape = shapes["x"][0], shapes["mu"][0]
    n = x_shape[0] if x_shape else -1
    dims = {"D": x_shape[1] if len(x_shape) == 2 else -1,
            "d": latent_dim if latent_dim is not None else mu_shape[1] if len(mu_shape) == 2 else -1}
    for name, cols in ARRAYS.items():
        shape = shapes[name][0]
        want = (n,) if cols is None else (n, dims[cols])
        if shape != want or n < 1 or min(want) < 1:
            raise ValueError(f"array {name!r} has shape {shape}, expected {want if n >= 1 else '[n, ...]'}")
    if n_eval is not None and n != n_eval:
        raise ValueError(f"holds {n} evaluation points, the study's n_eval is {n_eval}")


def check_arrays_file(path: Path, latent_dim: int | None = None, n_eval: int | None = None) -> None:
    """Raise ValueError when ``arrays.npz`` is not the evaluation arrays of a run (every array of
    :data:`ARRAYS`, numbers, consistent shapes; ``latent_dim`` and ``n_eval`` checked when given). Reads
    the zip directory and the .npy headers only, so it is cheap; a damaged compressed body is found on
    loading."""
    if not zipfile.is_zipfile(path):
        raise ValueError("not a zip archive of .npy arrays (empty, truncated or another format)")
    shapes = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    raise ValueError(f"member {show(info.filename, 40)} is not a .npy array")
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(fh)
                shapes[info.filename[:-4]] = (tuple(shape), np.dtype(dtype))
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ValueError(f"unreadable zip archive ({type(err).__name__}: {err})") from None
    _check_shapes(shapes, latent_dim, n_eval)


def check_arrays(arrays: dict[str, np.ndarray]) -> None:
    """The checks of :func:`check_arrays_file` on loaded arrays."""
    _check_shapes({k: (v.shape, v.dtype) for k, v in arrays.items()}, None, None)


def check_history_file(path: Path) -> None:
    """Raise ValueError when ``history.parquet`` is not a readable table with a ``step`` column (its
    schema only is read)."""
    try:
        names = pq.read_schema(path).names
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise ValueError(f"not a readable Parquet table ({type(err).__name__})") from None
    if "step" not in names:
        raise ValueError("has no 'step' column")
