"""The routes a group of models can train on, each a small class that owns its buffers and layouts over a
shared :class:`~vaebench.group.GroupState`:

- :class:`~vaebench.routes.fused.FusedRoute` ("fused"): on the CPU, the whole step of every model in one
  call into the C kernel, for an objective stated as terms (:mod:`vaebench.objective`);
- :class:`~vaebench.routes.operators.OperatorsRoute` ("operators"): PyTorch operators and autograd on
  the objective only: CUDA, a CPU without a C compiler (or ``VAEBENCH_CPU_KERNEL=torch``), and any
  variant that states its own PyTorch loss;
- :class:`~vaebench.routes.analytic.AnalyticRoute` ("analytic"): a model with no parameters (a
  reference), nothing to train.

A route is chosen from the device, the machine and the variant, never from the runs beside it. Every route
has ``name``, ``feature_major`` (the layout of the minibatches and noise its step takes), the static method
``train_layout(variant, cfg)`` (the layout the parameters are trained in), ``steps`` (how many it takes),
``step(t, j, log)`` on the chunk given to ``load(xs, noise, prior)``, and ``logged()`` (the last step's
logged numbers, [M] each).
"""

from __future__ import annotations

from vaebench import cpu_kernel, objective
from vaebench.config import RunConfig
from vaebench.routes.analytic import AnalyticRoute
from vaebench.routes.fused import FusedRoute
from vaebench.routes.operators import OperatorsRoute


def select(variant, cfg: RunConfig) -> type[AnalyticRoute] | type[FusedRoute] | type[OperatorsRoute]:
    """The route class that trains ``cfg``'s group: none for a model with nothing to train, fused where
    the CPU kernel can run its objective, else PyTorch operators."""
    if variant.layout(cfg).n_params == 0:
        return AnalyticRoute
    if (cfg.device == "cpu" and objective.stated_by_terms(type(variant))
            and len(cfg.hidden) + 1 <= cpu_kernel.MAX_LAYERS and cpu_kernel.load() is not None):
        return FusedRoute
    return OperatorsRoute


__all__ = ["AnalyticRoute", "FusedRoute", "OperatorsRoute", "select"]
