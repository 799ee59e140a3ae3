"""Seeded study grids: a whole study from one TOML file, or the same in Python (:class:`Grid`).

A grid file (TOML, read with the standard library's ``tomllib``) has up to three kinds of tables::

    [study]                  # one value for every run: any RunConfig field, plus the study settings
    name = "smoke"           #   name (default: the file's stem), n_eval (evaluation points per run,
    n_eval = 5000            #   default 5000) and description
    steps = 300
    hidden = [30, 30]        #   a list- or table-valued field (hidden, params) takes one value here

    [grid]                   # the main grid: every value is a non-empty list, an axis; its runs are
    beta = [0.01, 0.1]       #   the Cartesian product of the axes, each crossed with [study]
    seed = [0, 1]
    hidden = [[30, 30], [64]]      # an axis of hidden is a list of lists
    params.c_max = [1.0, 5.0]      # an axis of one variant parameter (or params = [{...}, {...}])

    [grids.annealed]         # a named sub-grid, for axes that depend on another axis: crossed with
    schedule = ["cyclical"]  #   [study] only (not with [grid]), and its axes may override [study]
    cycles = [2, 4]          #   values. E.g. cycle counts only for cyclical runs, variant parameters
                             #   only for that variant, a reference model at one seed.

The study's runs are the union of the main grid's and every sub-grid's, in file order, without
duplicates (equal run ids, see :func:`run_id`). Without a ``[grid]`` table the main grid is left out
when there are sub-grids, and is the single run ``[study]`` describes when there are none. A key may
not be both in ``[study]`` and in ``[grid]`` (say it once).

Everything is validated when the grid is built, before anything trains: every run's
:class:`~vaebench.config.RunConfig` is constructed. Errors are one line naming where, the key, the
value and what is allowed, e.g. ``grid.beta = -1.0: must be a finite number >= 0`` or
``study.foo: unknown key (allowed: ...)``. A study above :data:`MAX_RUNS` runs is refused with its
count before any run is built.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vaebench import version
from vaebench.config import RunConfig, check_int, config_fields, show, show_key
from vaebench.data import is_points_file, read_points, register_points
from vaebench.defaults import N_EVAL
from vaebench.grid_axes import COMPOUND, SETTINGS, _Axes, _unknown  # noqa: F401  (SETTINGS: the interface)

MAX_RUNS = 100_000
MAX_DEPTH = 8  # tables and lists nested deeper than this are refused (a grid needs 4: grid.params = [{...}])
MAX_KEY = 100  # characters of a key
DEFAULT_N_EVAL = N_EVAL
TABLES = ("study", "grid", "grids")


_show = show


def _check_nesting(where: str, value: Any) -> None:
    """Refuse tables or lists nested deeper than MAX_DEPTH and keys longer than MAX_KEY, naming where;
    iterative, so no input can exhaust the interpreter's stack."""
    stack = [(where, value, 0)]
    while stack:
        path, node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"{show_key(path)}: tables or lists nested more than {MAX_DEPTH} levels deep; "
                             f"a grid file needs at most 4")
        if isinstance(node, Mapping):
            for key, sub in node.items():
                if not isinstance(key, str) or len(key) > MAX_KEY:
                    raise ValueError(f"{show_key(path)}.{show_key(key, 40)}: a key of {len(str(key))} "
                                     f"characters; keys have at most {MAX_KEY}")
                stack.append((f"{path}.{key}", sub, depth + 1))
        elif isinstance(node, list | tuple):
            stack.extend((f"{path}[{i}]", sub, depth + 1) for i, sub in enumerate(node))


def _check_name(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 200 or not value.isprintable():
        raise ValueError(f"study.name = {_show(value)}: must be a string of 1 to 200 printable characters")
    return value


def _check_description(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"study.description = {_show(value)}: must be a string")
    return value


def _check_n_eval(value: Any) -> int:
    return check_int("study.n_eval", value, 10, 1_000_000)


SETTING_CHECKS = {"name": _check_name, "n_eval": _check_n_eval, "description": _check_description}


def run_id(cfg: RunConfig) -> str:
    """Content address of a run: the first 16 hex digits of the sha256 of the canonical JSON of the
    resolved ``cfg.to_dict()`` together with ``vaebench.version.RESULTS_VERSION`` (so a library change
    that alters numbers gives new ids and stale results are never reused)."""
    text = json.dumps({"config": cfg.to_dict(), "results_version": version.RESULTS_VERSION},
                      sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Grid:
    """A study: ``study`` (one value per RunConfig field and the settings name, n_eval, description),
    ``axes`` (the main grid: field -> non-empty list; None for none) and ``subgrids`` (name -> axes,
    each crossed with ``study`` only). Validated on construction; :meth:`configs` gives the runs.

    >>> Grid(study={"name": "s", "steps": 300}, axes={"beta": [0.01, 0.1], "seed": [0, 1]}).size
    4
    """

    def __init__(self, study: Mapping[str, Any] | None = None, axes: Mapping[str, Any] | None = None,
                 subgrids: Mapping[str, Any] | None = None, *, source: str | None = None,
                 default_name: str = "study", base_dir: str | Path | None = None):
        study = {} if study is None else study
        subgrids = {} if subgrids is None else subgrids
        for where, table in (("study", study), ("grid", axes), ("grids", subgrids)):
            _check_nesting(where, table)
        if not isinstance(study, Mapping):
            raise ValueError(f"study = {_show(study)}: must be a table ([study])")
        if not isinstance(subgrids, Mapping):
            raise ValueError(f"grids = {_show(subgrids)}: must be a table of sub-grids ([grids.NAME])")
        self.source = source
        self.base_dir = Path(base_dir) if base_dir is not None else Path()
        self.points: dict[str, np.ndarray] = {}  # content id -> the points of a dataset file
        self._paths: dict[str, str] = {}  # content id -> the path as the grid gives it
        self.settings = {"name": default_name, "n_eval": DEFAULT_N_EVAL, "description": ""}
        fields = config_fields()
        run_values: dict[str, Any] = {}
        for key, value in study.items():
            if key in SETTING_CHECKS:
                self.settings[key] = SETTING_CHECKS[key](value)
            elif key not in fields:
                raise _unknown("study.", key, sorted(fields + list(SETTINGS)))
            elif isinstance(value, list | tuple) and key not in COMPOUND:
                raise ValueError(f"study.{key} = {_show(value)}: [study] takes one value; "
                                 f"put a list of values in [grid]")
            elif key == "params" and not isinstance(value, Mapping):
                raise ValueError(f"study.params = {_show(value)}: must be a table of the variant's "
                                 f"parameters, e.g. {{c_max = 5.0}}")
            else:
                run_values[key] = list(value) if isinstance(value, tuple) else value
        self.study = run_values
        grids: list[_Axes] = []
        if axes is not None or not subgrids:
            grids.append(_Axes("grid", {} if axes is None else axes, run_values, True))
        for name, sub in subgrids.items():
            if not isinstance(sub, Mapping):
                raise ValueError(f"grids.{name} = {_show(sub)}: a sub-grid must be a table ([grids.{name}])")
            grids.append(_Axes(f"grids.{name}", sub, run_values, False))
        self.axes = None if axes is None else dict(axes)
        self.subgrids = {k: dict(v) for k, v in subgrids.items()}
        total = sum(g.size() for g in grids)
        if total > MAX_RUNS:
            parts = "; ".join(g.describe() for g in grids)
            raise ValueError(f"grid size = {total} runs: more than the limit of {MAX_RUNS} ({parts}); "
                             f"split the study into several grid files")
        self._configs = self._build(grids)

    def _build(self, grids: list[_Axes]) -> list[RunConfig]:
        seen: dict[str, RunConfig] = {}
        for g in grids:
            for kwargs in g.combinations(self.study):
                if is_points_file(kwargs.get("dataset")):
                    kwargs = {**kwargs, "dataset": self._points_file(kwargs["dataset"], g)}
                try:
                    cfg = RunConfig(**kwargs)
                except (ValueError, TypeError) as err:
                    raise ValueError(self._locate(str(err), g, kwargs)) from None
                if cfg.dataset in self.points and cfg.n_train + self.n_eval > len(self.points[cfg.dataset]):
                    where = g.where if "dataset" in g.fields else "study"
                    raise ValueError(f"{where}.dataset = {self._paths[cfg.dataset]!r}: "
                                     f"{len(self.points[cfg.dataset])} rows, fewer than n_train + n_eval = "
                                     f"{cfg.n_train} + {self.n_eval} (each run draws its rows without "
                                     f"replacement)")
                seen.setdefault(run_id(cfg), cfg)
        return list(seen.values())

    def _points_file(self, value: str, g: _Axes) -> str:
        """A dataset file of the grid (relative to the grid file), read and checked once: its content id."""
        path = Path(value) if Path(value).is_absolute() else self.base_dir / value
        try:
            points = read_points(path)
        except ValueError as err:
            where = g.where if "dataset" in g.fields else "study"
            raise ValueError(f"{where}.{str(err).replace(repr(str(path)), repr(value), 1)}") from None
        pid = register_points(points)
        self.points[pid] = points
        self._paths[pid] = value
        return pid

    def _locate(self, message: str, g: _Axes, kwargs: dict) -> str:
        """Prefix a RunConfig message with where the offending key was set: the grid or [study]."""
        key = message.split(" = ", 1)[0] if " = " in message else ""
        top = key.split(".")[0]
        if top in g.fields:
            return f"{g.where}.{message}"
        if top in self.study:
            return f"study.{message}" + ("" if self._fails_alone(message) else f" (in a run of {g.where})")
        run = ", ".join(f"{k} = {_show(kwargs[k], 30)}" for k in sorted(g.fields) if k in kwargs)
        return f"{g.where}: {message}" + (f" (in the run with {run})" if run else "")

    def _fails_alone(self, message: str) -> bool:
        """Whether [study]'s values alone give ``message`` (else it comes from combining them with axes)."""
        try:
            RunConfig(**self.study)
        except (ValueError, TypeError) as err:
            return str(err) == message
        return False

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None, default_name: str = "study",
                  base_dir: str | Path | None = None) -> Grid:
        """A Grid from a parsed grid file: ``{"study": {...}, "grid": {...}, "grids": {NAME: {...}}}``."""
        if not isinstance(data, Mapping):
            raise ValueError(f"grid = {_show(data)}: must be a table with [study], [grid] or [grids.NAME]")
        for key in data:
            if key not in TABLES:
                close = difflib.get_close_matches(key, TABLES, n=1)
                hint = f"; did you mean [{close[0]}]?" if close else ""
                raise ValueError(f"{show_key(key)}: unknown table (allowed: study, grid, grids){hint}")
        if not data:
            raise ValueError("grid file is empty: expected a [study] table and a [grid] or "
                             "[grids.NAME] table")
        return cls(data.get("study"), data.get("grid"), data.get("grids"), source=source,
                   default_name=default_name, base_dir=base_dir)

    @classmethod
    def from_toml(cls, path: str | Path) -> Grid:
        """Read and validate a grid file. Errors are ValueErrors naming the file, key and value."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ValueError(f"grid file = {str(path)!r}: no such file") from None
        except IsADirectoryError:
            raise ValueError(f"grid file = {str(path)!r}: is a directory, not a TOML file") from None
        except OSError as err:
            raise ValueError(f"grid file = {str(path)!r}: cannot read it ({err.strerror})") from None
        try:
            text = raw.decode("utf-8")
            data = tomllib.loads(text)
        except UnicodeDecodeError:
            raise ValueError(f"grid file = {str(path)!r}: not UTF-8 text, so not a TOML file") from None
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"grid file = {str(path)!r}: invalid TOML: {err}") from None
        except RecursionError:  # tomllib parses nested inline tables and arrays recursively
            raise ValueError(f"grid file = {str(path)!r}: tables or lists nested too deeply (a grid file "
                             f"needs at most 4 levels)") from None
        return cls.from_dict(data, source=text, default_name=path.stem or "study", base_dir=path.parent)

    @property
    def name(self) -> str:
        """The study's name ([study] name, else the file's stem)."""
        return self.settings["name"]

    @property
    def n_eval(self) -> int:
        """Evaluation points per run ([study] n_eval, default 5000)."""
        return self.settings["n_eval"]

    @property
    def size(self) -> int:
        """Number of distinct runs."""
        return len(self._configs)

    def configs(self, device: str | None = None) -> list[RunConfig]:
        """Every run of the study, in file order, without duplicates; ``device`` overrides each run's."""
        if device is None:
            return list(self._configs)
        return [c.replace(device=device) for c in self._configs]

    def to_dict(self) -> dict[str, Any]:
        """The grid as plain JSON-able data, the shape of a grid file (settings inside ``study``)."""
        study = {**self.settings, **self.study}
        out: dict[str, Any] = {"study": study}
        if self.axes is not None:
            out["grid"] = self.axes
        if self.subgrids:
            out["grids"] = self.subgrids
        return json.loads(json.dumps(out))

    def __repr__(self) -> str:
        return f"Grid(name={self.name!r}, runs={self.size})"
