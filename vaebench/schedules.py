"""β schedules: pure functions of the training step.

A schedule maps the step numbers ``t`` (an integer array, 0-based) and the run's config to a factor in
[0, 1]; the KL weight at step t is ``β(t) = config.beta * factor(t)``. Schedules take arrays so the engine
tabulates β(t) for a whole run once, before training, and never calls Python inside a step.
Add one by decorating a function with :func:`register_schedule`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np


class ScheduleSettings(Protocol):
    """What a schedule reads of a run's config (a :class:`vaebench.config.RunConfig`), stated here so
    that this module, which the config validates against, does not import it."""

    beta: float
    schedule: str
    steps: int
    warmup: float
    cycles: int
    cycle_ratio: float


Schedule = Callable[[np.ndarray, ScheduleSettings], np.ndarray]
SCHEDULES: dict[str, Schedule] = {}


def register_schedule(fn: Schedule) -> Schedule:
    """Register ``fn`` under its function name so ``RunConfig(schedule=name)`` selects it."""
    SCHEDULES[fn.__name__] = fn
    return fn


def list_schedules() -> list[str]:
    """Names of the registered β schedules, sorted."""
    return sorted(SCHEDULES)


def _ramp_steps(cfg: ScheduleSettings) -> float:
    return max(cfg.warmup * cfg.steps, 1.0)


@register_schedule
def constant(t: np.ndarray, cfg: ScheduleSettings) -> np.ndarray:
    """β(t) = β: the report's fixed weight (Kingma & Welling 2014; Higgins et al. 2017 for β ≠ 1)."""
    return np.ones(np.shape(t), dtype=np.float64)


@register_schedule
def linear(t: np.ndarray, cfg: ScheduleSettings) -> np.ndarray:
    """Linear KL warm-up (Bowman et al. 2016): factor t / (warmup·steps), capped at 1."""
    return np.minimum(1.0, np.asarray(t, dtype=np.float64) / _ramp_steps(cfg))


@register_schedule
def sigmoid(t: np.ndarray, cfg: ScheduleSettings) -> np.ndarray:
    """Logistic warm-up (Bowman et al. 2016): centred at warmup·steps/2, 0.0067 at t=0 and 0.9933 at
    t = warmup·steps (slope 10 per ramp length)."""
    ramp = _ramp_steps(cfg)
    return 1.0 / (1.0 + np.exp(-10.0 * (np.asarray(t, dtype=np.float64) - ramp / 2) / ramp))


@register_schedule
def cyclical(t: np.ndarray, cfg: ScheduleSettings) -> np.ndarray:
    """Cyclical annealing (Fu et al. 2019): ``cycles`` periods of length steps/cycles; in each, the factor
    rises linearly from 0 to 1 over the first ``cycle_ratio`` of the period, then stays at 1."""
    period = cfg.steps / cfg.cycles
    tau = np.mod(np.asarray(t, dtype=np.float64), period)
    return np.minimum(1.0, tau / (period * cfg.cycle_ratio))


def beta_table(cfg: ScheduleSettings) -> np.ndarray:
    """β(t) for t = 0 … steps−1 of one run, as a float64 array of shape [steps]."""
    t = np.arange(cfg.steps)
    return cfg.beta * SCHEDULES[cfg.schedule](t, cfg)
