"""The axes of one grid table of a study (:mod:`vaebench.grid`): checked and flattened, then crossed."""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Mapping
from typing import Any

from vaebench.config import config_fields, show, show_key

# [study]-only settings that are not RunConfig fields
SETTINGS = ("name", "n_eval", "description")
# fields whose single value is itself a list or a table, so an axis of them is a list of those
COMPOUND = {"hidden": list, "params": dict}
ELEMENT_TYPES = {list: (list, tuple), dict: Mapping}
ELEMENT_HINTS = {list: "a list of lists, e.g. [[30, 30], [64, 64]]",
                 dict: "a list of tables, e.g. [{c_max = 5.0}], or a table of lists, "
                       "e.g. params.c_max = [5.0]"}
_show = show


def _unknown(where: str, key: str, allowed: list[str]) -> ValueError:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValueError(f"{where}{show_key(key)}: unknown key (allowed: {', '.join(allowed)}){hint}")


class _Axes:
    """One grid's axes, checked and flattened to (path, values): path is a field name, or
    ("params", key) for an axis of one variant parameter."""

    def __init__(self, where: str, axes: Any, study: Mapping[str, Any], is_main: bool):
        self.where = where
        if not isinstance(axes, Mapping):
            raise ValueError(f"{where} = {_show(axes)}: must be a table of axes (lists of values)")
        fields = config_fields()
        self.paths: list[tuple[Any, list]] = []
        for key, values in axes.items():
            if key in SETTINGS:
                raise ValueError(f"{where}.{key}: a study setting, not an axis; set it in [study]")
            if key not in fields:
                raise _unknown(f"{where}.", key, fields)
            if is_main and key in study:
                raise ValueError(f"{where}.{key}: also set in [study]; set it in one of them")
            if key == "params" and isinstance(values, Mapping):
                for pkey, pvalues in values.items():
                    self.paths.append((("params", pkey), self._axis(f"params.{pkey}", pvalues, None)))
            else:
                self.paths.append((key, self._axis(key, values, COMPOUND.get(key))))
        self.fields = {p if isinstance(p, str) else p[0] for p, _ in self.paths}

    def _axis(self, key: str, values: Any, element: type | None) -> list:
        name = f"{self.where}.{key}"
        if not isinstance(values, list | tuple):
            example = "[[30, 30]]" if element is list else "[{...}]" if element is dict else "[0.1]"
            raise ValueError(f"{name} = {_show(values)}: an axis must be a list of values, e.g. {example}")
        if len(values) == 0:
            raise ValueError(f"{name} = []: an axis needs at least one value")
        if element is not None and not all(isinstance(v, ELEMENT_TYPES[element]) for v in values):
            raise ValueError(f"{name} = {_show(list(values))}: an axis of {key} must be "
                             f"{ELEMENT_HINTS[element]}; one value for every run goes in [study]")
        return list(values)

    def size(self) -> int:
        return math.prod(len(v) for _, v in self.paths)

    def describe(self) -> str:
        if len(self.paths) <= 1:
            return f"{self.where}: {self.size()}"
        sizes = " × ".join(str(len(v)) for _, v in self.paths)
        return f"{self.where}: {sizes} = {self.size()}"

    def combinations(self, study: Mapping[str, Any]):
        """Yield the RunConfig keyword arguments of every run of this grid, crossed with ``study``."""
        paths = [p for p, _ in self.paths]
        for combo in itertools.product(*(v for _, v in self.paths)):
            kwargs = dict(study)
            params = dict(study.get("params", {}))
            has_params = "params" in study
            for path, value in zip(paths, combo, strict=True):
                if path == "params":
                    params.update(value)
                    has_params = True
                elif isinstance(path, tuple):
                    params[path[1]] = value
                    has_params = True
                else:
                    kwargs[path] = value
            if has_params:
                kwargs["params"] = params
            yield kwargs
