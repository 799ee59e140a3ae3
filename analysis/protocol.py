"""The findings' protocol as data: one TOML file per version (analysis/protocols/), frozen before the
confirmatory data exist, loaded and validated here into :class:`Claim` and :class:`Spec` objects.

A protocol holds, per claim of the seed report, the seed's words, its parts (cells, metric, estimand,
threshold, test, direction, guards) and the seeds per cell; the pilot seeds and the confirmatory seeds
(disjoint from each other and from the seeds earlier rounds looked at); the cells the pilot calibrated
(:mod:`analysis.calibrate`); its version, the date it was frozen and its deviations from the previous
version. A cell's ``beta`` and ``l2`` may name a calibrated value (``"beta_right"``, ``"lambda_g"``) and
its ``steps`` a training length (``"short"``, ``"long"``), so the claims read the pilot's cells.

Every bad field is a ValueError of one line naming the field, the value and what is allowed. The file's
sha256 (:attr:`Protocol.sha256`) identifies the version the report printed.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.document import Table
from analysis.stats import KINDS

PROTOCOL_DIR = Path(__file__).resolve().parent / "protocols"
DEFAULT_PROTOCOL = PROTOCOL_DIR / "v2.toml"
MODES = ("paired", "level", "rate", "trend", "closed_form")
SOURCES = ("seed", "project", "closed_form")
EVENTS = ("two_d", "bands", "one_direction", "lost")  # per-run events, defined in analysis.findings
CELL_KEYS = ("d", "beta", "l2", "steps", "schedule")
SCHEDULES = ("constant", "linear", "sigmoid", "cyclical")
META_KEYS = ("version", "frozen", "previous", "alpha", "min_seeds", "max_seeds", "batch_size", "pilot_seeds",
             "confirmatory_first", "looked_at")


@dataclass(frozen=True)
class Spec:
    """One part. ``mode``: "paired" (a − b per seed), "level" (a's values), "rate" (the share of a's seeds
    with ``event``), "trend" (``event`` against λ over the cells ``doses``) or "closed_form" (decided
    by β > β_c without data, :func:`analysis.findings.closed_form_part`). ``where``: a guard event;
    only runs with it enter the part. ``bounds``: the estimand's range."""

    label: str
    metric: str
    mode: str
    kind: str
    threshold: float
    a: dict
    b: dict | None = None
    bounds: tuple[float, float] = (-math.inf, math.inf)
    event: str | None = None
    where: str | None = None
    doses: tuple[dict, ...] = ()


@dataclass(frozen=True)
class Claim:
    """A claim: its ``words`` (the seed's, or the project's own where ``source`` says so), the ``parts``
    that must all hold, the figure panel, and the confirmatory ``seeds`` it reads in every cell."""

    key: str
    title: str
    words: str
    parts: tuple[Spec, ...]
    figure: str
    panel: str
    source: str = "seed"
    seeds: tuple[int, ...] = ()
    why: str = ""


@dataclass(frozen=True)
class Protocol:
    """A loaded protocol: its ``meta`` ([protocol] table), ``calibration``, ``steps``, ``claims``,
    ``deviations`` (from the previous version) and the file's ``sha256``."""

    meta: dict
    calibration: dict
    steps: dict
    claims: tuple[Claim, ...]
    deviations: tuple[str, ...]
    sha256: str
    path: str = ""
    found: dict = field(default_factory=dict)

    @property
    def pilot_seeds(self) -> tuple[int, ...]:
        lo, hi = self.meta["pilot_seeds"]
        return tuple(range(lo, hi + 1))

    @property
    def confirmatory_seeds(self) -> tuple[int, ...]:
        return tuple(sorted({s for c in self.claims for s in c.seeds}))

    @property
    def looked_at(self) -> tuple[int, ...]:
        lo, hi = self.meta["looked_at"]
        return tuple(range(lo, hi + 1))


def _bad(where: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"{where} = {value!r}: must be {allowed}")


def _number(where: str, value: Any, low: float = -math.inf, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _bad(where, value, f"a number in [{low:g}, {high:g}]")
    return float(value)


def _int(where: str, value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _bad(where, value, f"an integer >= {low}")
    return value


def _text(where: str, value: Any, allowed: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str) or (allowed is not None and value not in allowed):
        raise _bad(where, value, f"one of {list(allowed)}" if allowed else "a string")
    return value


def _range(where: str, value: Any) -> tuple[int, int]:
    if not (isinstance(value, list) and len(value) == 2):
        raise _bad(where, value, "[first, last], two integers")
    lo, hi = (_int(f"{where}[{i}]", v) for i, v in enumerate(value))
    if hi < lo:
        raise _bad(where, value, "[first, last] with first <= last")
    return lo, hi


def _cell(where: str, value: Any, calibration: dict, steps: dict) -> dict:
    if not isinstance(value, dict):
        raise _bad(where, value, f"a table with keys {list(CELL_KEYS)}")
    unknown = sorted(set(value) - set(CELL_KEYS))
    if unknown:
        raise _bad(f"{where}.{unknown[0]}", value[unknown[0]], f"absent (allowed keys: {list(CELL_KEYS)})")
    missing = [k for k in ("d", "beta", "l2") if k not in value]
    if missing:
        raise _bad(f"{where}.{missing[0]}", None, "given")
    out = {"variant": "vae", "latent_dim": _int(f"{where}.d", value["d"], 1)}
    for key, col in (("beta", "beta"), ("l2", "l2")):
        v = value[key]
        if isinstance(v, str):
            v = calibration.get(_text(f"{where}.{key}", v, tuple(calibration)))
        out[col] = _number(f"{where}.{key}", v, 0.0)
    out["schedule"] = _text(f"{where}.schedule", value.get("schedule", "constant"), SCHEDULES)
    out["steps"] = steps[_text(f"{where}.steps", value.get("steps", "short"), tuple(steps))]
    return out


def _part(where: str, raw: Any, calibration: dict, steps: dict) -> Spec:
    if not isinstance(raw, dict):
        raise _bad(where, raw, "a table ([[claim.part]])")
    mode = _text(f"{where}.mode", raw.get("mode"), MODES)
    kind = _text(f"{where}.kind", raw.get("kind"), (*KINDS, "closed_form"))
    a = _cell(f"{where}.a", raw.get("a"), calibration, steps)
    b = _cell(f"{where}.b", raw["b"], calibration, steps) if "b" in raw else None
    if mode == "paired" and b is None:
        raise _bad(f"{where}.b", None, "a cell (mode 'paired' compares a with b)")
    bounds = raw.get("bounds", [-math.inf, math.inf])
    if not (isinstance(bounds, list) and len(bounds) == 2):
        raise _bad(f"{where}.bounds", bounds, "[low, high]")
    event = raw.get("event")
    if mode in ("rate", "trend"):
        event = _text(f"{where}.event", event, EVENTS)
    where_event = raw.get("where")
    if where_event is not None:
        _text(f"{where}.where", where_event, EVENTS)
    doses = tuple(_cell(f"{where}.doses[{i}]", c, calibration, steps)
                  for i, c in enumerate(raw.get("doses", [])))
    if mode == "trend" and len(doses) < 2:
        raise _bad(f"{where}.doses", raw.get("doses"), "at least two cells")
    threshold = raw.get("threshold")
    if isinstance(threshold, str):  # a calibrated value, e.g. "schedule_margin"
        threshold = calibration.get(_text(f"{where}.threshold", threshold, tuple(calibration)))
    return Spec(_text(f"{where}.label", raw.get("label")), _text(f"{where}.metric", raw.get("metric")), mode,
                kind, _number(f"{where}.threshold", threshold), a, b,
                (_number(f"{where}.bounds[0]", bounds[0]), _number(f"{where}.bounds[1]", bounds[1])), event,
                where_event, doses)


def parse(data: dict, sha256: str = "", path: str = "") -> Protocol:
    """A :class:`Protocol` from the parsed TOML ``data`` (validated: one-line errors)."""
    meta = data.get("protocol")
    if not isinstance(meta, dict):
        raise _bad("protocol", meta, "a [protocol] table")
    for key in META_KEYS:
        if key not in meta:
            raise _bad(f"protocol.{key}", None, "given")
    _int("protocol.version", meta["version"], 1)
    _text("protocol.frozen", meta["frozen"])
    _number("protocol.alpha", meta["alpha"], 1e-6, 0.5)
    lo_n = _int("protocol.min_seeds", meta["min_seeds"], 2)
    hi_n = _int("protocol.max_seeds", meta["max_seeds"], 2)
    meta = {**meta, "pilot_seeds": _range("protocol.pilot_seeds", meta["pilot_seeds"]),
            "looked_at": _range("protocol.looked_at", meta["looked_at"])}
    first = _int("protocol.confirmatory_first", meta["confirmatory_first"])
    calibration = {k: v for k, v in data.get("calibration", {}).items() if not isinstance(v, str | dict)}
    steps = {k: _int(f"steps.{k}", v, 1) for k, v in data.get("steps", {}).items()}
    claims = []
    for i, raw in enumerate(data.get("claim", [])):
        where = f"claim[{i}]"
        n = _int(f"{where}.seeds", raw.get("seeds"), 0)
        source = _text(f"{where}.source", raw.get("source", "seed"), SOURCES)
        if source != "closed_form" and not lo_n <= n <= hi_n:
            raise _bad(f"{where}.seeds", n, f"between protocol.min_seeds = {lo_n} and max_seeds = {hi_n}")
        parts = tuple(_part(f"{where}.part[{j}]", p, calibration, steps)
                      for j, p in enumerate(raw.get("part", [])))
        if not parts:
            raise _bad(f"{where}.part", None, "at least one [[claim.part]]")
        text = {k: _text(f"{where}.{k}", raw.get(k)) for k in ("key", "title", "words", "figure", "panel")}
        claims.append(Claim(text["key"], text["title"], text["words"], parts, text["figure"], text["panel"],
                            source, tuple(range(first, first + n)), raw.get("why", "")))
    keys = [c.key for c in claims]
    if len(set(keys)) != len(keys):
        raise _bad("claim.key", keys, "unique")
    deviations = tuple(_text(f"deviation[{i}]", d) for i, d in enumerate(data.get("deviation", [])))
    proto = Protocol(meta, calibration, steps, tuple(claims), deviations, sha256, path,
                     data.get("calibration", {}).get("found", {}))
    clash = (set(proto.confirmatory_seeds) & (set(proto.pilot_seeds) | set(proto.looked_at)))
    if clash or set(proto.pilot_seeds) & set(proto.looked_at):
        raise _bad("protocol.confirmatory_first", first, "such that confirmatory, pilot and looked-at seeds "
                   "are disjoint")
    return proto


def load(path: str | Path = DEFAULT_PROTOCOL) -> Protocol:
    """The protocol in ``path`` (default: the current version), validated, with its file's sha256."""
    raw = Path(path).read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"protocol {path}: not a TOML file ({err})") from None
    return parse(data, hashlib.sha256(raw).hexdigest(), str(path))


def seed_rows_of(proto: Protocol, ok: Any) -> dict[int, tuple[list[float], float]] | None:
    """The rows of the seed-style figures as the protocol calibrated them, (λ values, left-column β) by
    latent size: λ = 0, λ_c, λ_e, λ_g at β (panels a, c, e, g) and 10β (b, d, f, h). Only the latent sizes
    whose fixed-β vae runs have every one of those cells in ``ok`` (a results table); None if none has."""
    cal = proto.calibration
    lambdas = [0.0, cal["lambda_c"], cal["lambda_e"], cal["lambda_g"]]
    rows = {}
    if ok is None or ok.empty or not {"latent_dim", "l2", "beta", "variant", "schedule"} <= set(ok):
        return None
    for d in sorted(set(ok["latent_dim"])):
        runs = ok[(ok["latent_dim"] == d) & (ok["variant"] == "vae") & (ok["schedule"] == "constant")]
        have = {(round(float(a), 12), round(float(b), 12))
                for a, b in zip(runs["l2"], runs["beta"], strict=True)}
        need = {(round(lam, 12), round(b, 12)) for lam in lambdas for b in (cal["beta"], cal["beta_right"])}
        if need <= have:
            rows[int(d)] = (lambdas, float(cal["beta"]))
    return rows or None


def protocol_header(proto: Protocol, batch: int | None = None) -> Table:
    """The protocol as the report's Findings section opens with it: version, sha256, date frozen, pilot
    and confirmatory seeds, the calibrated cells (λ and λ·B at ``batch``), the deviations from the
    previous version."""
    from analysis.document import Cell

    def seeds(s: tuple[int, ...]) -> str:
        return f"{s[0]}–{s[-1]} ({len(s)})" if s else "none"

    lb = (lambda v: f" (λ·B = {v * batch:g})") if batch else (lambda v: "")
    cal = proto.calibration
    cells = ", ".join([f"β = {cal['beta']:g}", f"10β = {cal['beta_right']:g}"]
                      + [f"λ_{k[-1]} = {cal[k]:g}{lb(cal[k])}" for k in ("lambda_c", "lambda_e", "lambda_g")]
                      + [f"{k} steps = {v}" for k, v in proto.steps.items()])
    rows = [("version", str(proto.meta["version"])), ("sha256", proto.sha256),
            ("frozen", proto.meta["frozen"]), ("file", Path(proto.path).name if proto.path else ""),
            ("pilot seeds", seeds(proto.pilot_seeds)),
            ("confirmatory seeds", seeds(proto.confirmatory_seeds)),
            ("seeds never used", seeds(proto.looked_at) + ": looked at by earlier rounds"),
            ("calibrated cells", cells), ("previous version", proto.meta["previous"]),
            *((f"deviation {i}", d) for i, d in enumerate(proto.deviations, 1))]
    return Table(["protocol", "value"], [[Cell(k, k), Cell(v, v)] for k, v in rows],
                 "The findings' protocol (analysis/protocols/), frozen before the confirmatory study ran.")
