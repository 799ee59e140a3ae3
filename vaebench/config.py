"""`RunConfig`: everything that defines one training run, validated on construction.

Invalid values raise ``ValueError`` whose message names the field, the value and what is allowed, e.g.
``beta = -1.0: must be a number >= 0``. Numbers from TOML are accepted as their natural types (an integer
where a float is expected); booleans are never numbers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vaebench.defaults import RECON_VAR

DEVICES = ("cpu", "cuda", "auto")
SHOW_WIDTH = 80  # an echoed value or key is cut to this many characters, so an error stays one short line


def show(value: Any, width: int = SHOW_WIDTH) -> str:
    """``repr(value)`` cut to ``width`` characters (``...`` marks the cut), for echoing user input in an
    error message; a value nested too deeply to print is named by its type."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"<{type(value).__name__} nested too deeply to show>"
    return text if len(text) <= width else text[:width - 3] + "..."


def show_key(key: Any, width: int = SHOW_WIDTH) -> str:
    """A key as given (not quoted), cut like :func:`show`."""
    text = str(key)
    return text if len(text) <= width else text[:width - 3] + "..."


def _fail(name: str, value: Any, allowed: str) -> None:
    raise ValueError(f"{show_key(name)} = {show(value)}: {allowed}")


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer in [low, high], else raise a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            _fail(name, value, f"must be an integer >= {low}" + (f" and <= {high}" if high else ""))
    if value < low or (high is not None and value > high):
        _fail(name, value, f"must be an integer >= {low}" + (f" and <= {high}" if high else ""))
    return int(value)


def check_float(name: str, value: Any, low: float, high: float = math.inf, *,
                open_low: bool = False) -> float:
    """Return ``value`` as a finite float in [low, high] (or (low, high] with ``open_low``), else raise."""
    op = ">" if open_low else ">="
    allowed = f"must be a finite number {op} {low:g}" + (f" and <= {high:g}" if high < math.inf else "")
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(name, value, allowed)
    value = float(value)
    if not math.isfinite(value) or value < low or (open_low and value == low) or value > high:
        _fail(name, value, allowed)
    return value


def check_choice(name: str, value: Any, choices: list[str] | tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming the allowed values."""
    if not isinstance(value, str) or value not in choices:
        _fail(name, value, f"must be one of {list(choices)}")
    return value


@dataclass(frozen=True)
class RunConfig:
    """One run: data, variant, architecture, objective, optimiser and seed.

    Defaults follow the seed report: U[0,1]² data with 10 000 training points, a (30, 30) ReLU MLP encoder
    and decoder, Adam with lr 1e-3, batch 256. The objective per model and step is
    ``recon + β(t)·regulariser + l2·Σ w²`` with the terms averaged over the batch, or summed over it with
    ``reduction = "sum"`` (then ``l2`` trains as ``l2 / batch_size`` does at the mean; see
    :mod:`vaebench.losses` for the exact scaling). ``params`` holds the variant's own parameters (see
    ``vaebench.variants``); missing ones take the variant's defaults, so the resolved config is complete
    and hashable into a run id.
    """

    dataset: str = "uniform"
    n_train: int = 10_000
    variant: str = "vae"
    latent_dim: int = 2
    hidden: tuple[int, ...] = (30, 30)
    beta: float = 1.0
    l2: float = 0.0
    reduction: str = "mean"
    schedule: str = "constant"
    warmup: float = 0.5
    cycles: int = 4
    cycle_ratio: float = 0.5
    recon_var: float = RECON_VAR
    lr: float = 1e-3
    steps: int = 3000
    batch_size: int = 256
    seed: int = 0
    device: str = "cpu"
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from vaebench.data import is_dataset, list_datasets
        from vaebench.losses import REDUCTIONS
        from vaebench.schedules import list_schedules
        from vaebench.variants import get_variant, list_variants

        put = object.__setattr__
        if not is_dataset(self.dataset):
            _fail("dataset", self.dataset, f"must be one of {list_datasets()} or a .npy or .csv "
                                           f"file")
        put(self, "n_train", check_int("n_train", self.n_train, 1, 10_000_000))
        put(self, "variant", check_choice("variant", self.variant, list_variants()))
        put(self, "latent_dim", check_int("latent_dim", self.latent_dim, 1, 64))
        hidden = self.hidden
        if isinstance(hidden, int | str | Mapping) or not hasattr(hidden, "__iter__"):
            _fail("hidden", hidden, "must be a list of integers >= 1, e.g. [30, 30] ([]: linear maps)")
        put(self, "hidden", tuple(check_int("hidden", h, 1, 4096) for h in hidden))
        put(self, "beta", check_float("beta", self.beta, 0.0))
        put(self, "l2", check_float("l2", self.l2, 0.0))
        put(self, "reduction", check_choice("reduction", self.reduction, REDUCTIONS))
        put(self, "schedule", check_choice("schedule", self.schedule, list_schedules()))
        put(self, "warmup", check_float("warmup", self.warmup, 0.0, 1.0, open_low=True))
        put(self, "cycles", check_int("cycles", self.cycles, 1))
        put(self, "cycle_ratio", check_float("cycle_ratio", self.cycle_ratio, 0.0, 1.0, open_low=True))
        put(self, "recon_var", check_float("recon_var", self.recon_var, 0.0, open_low=True))
        put(self, "lr", check_float("lr", self.lr, 0.0, open_low=True))
        put(self, "steps", check_int("steps", self.steps, 1, 100_000_000))
        put(self, "batch_size", check_int("batch_size", self.batch_size, 1, 1_000_000))
        put(self, "seed", check_int("seed", self.seed, 0, 2**63 - 1))
        put(self, "device", check_choice("device", self.device, DEVICES))
        if not isinstance(self.params, Mapping):
            _fail("params", self.params, "must be a table of the variant's parameters")
        variant = get_variant(self.variant)
        put(self, "params", variant.resolve_params(dict(self.params)))
        variant.check_config(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict of every field (``hidden`` as a list, ``params`` as a dict)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["hidden"] = list(self.hidden)
        d["params"] = dict(self.params)
        return d

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    def __hash__(self) -> int:
        return hash(tuple(sorted((k, str(v)) for k, v in self.to_dict().items())))


def config_fields() -> list[str]:
    """Names of every RunConfig field, in declaration order."""
    return [f.name for f in dataclasses.fields(RunConfig)]
