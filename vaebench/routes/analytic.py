"""The analytic route: a model with no parameters (a reference such as ``probit``) has nothing to train.
It owns no buffers and takes no steps; its module comes from the variant (:meth:`Variant.module`)."""

from __future__ import annotations

import torch

from vaebench.group import GroupState
from vaebench.model import Layout


class AnalyticRoute:
    name = "analytic"
    feature_major = False

    @staticmethod
    def train_layout(variant, cfg) -> Layout:
        return variant.layout(cfg)

    def __init__(self, state: GroupState):
        self.state, self.steps = state, 0

    def load(self, xs, noise, prior) -> None:
        raise AssertionError("an analytic route takes no steps")

    def run(self, t: int, j: int, n: int, log: bool) -> None:
        raise AssertionError("an analytic route takes no steps")

    step = load

    def logged(self) -> dict[str, torch.Tensor]:
        return {}
