"""The fused route: on the CPU, each step of every model is computed by the C kernel (``fused_step``:
forward, sampling, the objective's statistics, terms and gradients, backward, Adam), model after model
while its activations sit in cache, the steps between two logged ones in one call (``vb_fused_steps``,
given one ``Step`` struct: :mod:`vaebench.kernel`). No PyTorch operator runs inside a step."""

from __future__ import annotations

import ctypes

import torch

from vaebench import cpu_kernel, kernel, objective
from vaebench.group import GroupState
from vaebench.model import Layout

ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults


class FusedRoute:
    name = "fused"
    feature_major = False  # minibatches [M, steps, B, 2], noise and prior [M, steps, B, d]

    @staticmethod
    def train_layout(variant, cfg) -> Layout:
        # the public layout: the kernel pads inside its own buffers (padding the layout to 16 was no faster)
        return variant.layout(cfg)

    def __init__(self, state: GroupState):
        self.state, self.lib, self.steps = state, cpu_kernel.load(), state.steps
        tab, m, p = state.table, state.m, state.flat.shape[1]
        self.nets = cpu_kernel.net(state.wide.encoder), cpu_kernel.net(state.wide.decoder)
        self.scratch = torch.empty(self.lib.vb_fused_scratch_floats(*self.nets, state.batch, p))
        self.term_ids = torch.tensor([[objective.STATS.index(s) for s in tab.stats],
                                      [objective.SHAPES.index(f) for f in tab.shapes]], dtype=torch.int64)
        self.out = torch.zeros(len(objective.OUTPUTS), m)
        self.logged_names = (*tab.logged, "l2", "total")
        c = state.coefs
        ids = self.term_ids
        # one Step for the route's life; each call sets where its steps start (the draws, the terms' row, t)
        self.call = kernel.Step(
            enc=ctypes.addressof(self.nets[0]), dec=ctypes.addressof(self.nets[1]), B=state.batch,
            models=cpu_kernel.models(state.flat, state.exp1, state.exp2, c.lr, c.l2, state.alive,
                                     state.died_at, state.wide.n_weights),
            terms=kernel.Terms(len(tab.stats), ids[0].data_ptr(), ids[1].data_ptr(), 0, 0, state.steps * m),
            recon_var=c.recon_var.data_ptr(), out=self.out.data_ptr(), scratch=self.scratch.data_ptr())
        self._terms = tab.weight.data_ptr(), tab.at.data_ptr()
        self._chunk: tuple = ()

    def load(self, xs, noise, prior) -> None:
        """Take a chunk: ``xs`` [M, n, B, 2], ``noise`` and ``prior`` [M, n, B, d] (or None)."""
        st = self.state
        cpu_kernel.check_chunk(xs, st.m, st.batch, 2)
        for a in (noise, prior):
            if a is not None:
                cpu_kernel.check_chunk(a, st.m, st.batch, st.d)
        self._chunk = tuple((0, 0, 0) if a is None else (a.data_ptr(), a.stride(0), a.stride(1))
                            for a in (xs, noise, prior))
        self._keep = (xs, noise, prior)

    def run(self, t: int, j: int, n: int, log: bool) -> None:
        """Steps ``t`` .. ``t + n − 1`` (0-based) on steps ``j`` .. ``j + n − 1`` of the loaded chunk, in one
        call (the GIL is released once for n steps); ``log``: :meth:`logged` will be read after the
        last."""
        call, off = self.call, 4 * t * self.state.m
        for draws, (at, model, step) in zip((call.x, call.noise, call.prior), self._chunk, strict=True):
            draws.at, draws.model, draws.step = (at + 4 * j * step if at else None), model, step
        call.terms.weight, call.terms.at = self._terms[0] + off, self._terms[1] + off
        call.adam.beta1, call.adam.beta2 = ADAM_BETAS
        call.adam.eps, call.adam.t, call.values = ADAM_EPS, t + 1, log
        self.lib.vb_fused_steps(call, n)

    def step(self, t: int, j: int, log: bool) -> None:
        """Step ``t`` on step ``j`` of the loaded chunk (:meth:`run` of one step)."""
        self.run(t, j, 1, log)

    def logged(self) -> dict[str, torch.Tensor]:
        return {k: self.out[objective.OUTPUTS.index(k)].clone() for k in self.logged_names}
