"""The fused route: on the CPU, each step of every model is computed by the C kernel (``vb_fused_step``:
forward, sampling, the objective's statistics, terms and gradients, backward, Adam), model after model
while its activations sit in cache, the steps between two logged ones in one call (``vb_fused_steps``).
No PyTorch operator runs inside a step."""

from __future__ import annotations

import torch

from vaebench import cpu_kernel, objective
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
        self.specs = cpu_kernel.spec(state.wide.encoder), cpu_kernel.spec(state.wide.decoder)
        enc, dec = (s.data_ptr() for s in self.specs)
        self.scratch = torch.empty(self.lib.vb_fused_scratch_floats(enc, dec, state.batch, p))
        self.term_ids = torch.tensor([[objective.STATS.index(s) for s in tab.stats],
                                      [objective.SHAPES.index(f) for f in tab.shapes]], dtype=torch.int64)
        self.out = torch.zeros(len(objective.OUTPUTS), m)
        self.logged_names = (*tab.logged, "l2", "total")
        c = state.coefs
        n_terms, row = len(tab.stats), state.steps * m
        ids = self.term_ids.data_ptr()
        # the call's arguments before and after the per-step ones, as plain ints (no tensor op per step)
        self._head = (m, enc, dec, state.flat.data_ptr(), p, state.wide.n_weights)
        self._terms = (n_terms, ids, ids + 8 * n_terms)
        self._weights = tab.weight.data_ptr(), tab.at.data_ptr(), row
        self._tail = (c.recon_var.data_ptr(), state.exp1.data_ptr(), state.exp2.data_ptr(), c.lr.data_ptr(),
                      c.l2.data_ptr(), self.out.data_ptr())
        self._alive = state.alive.data_ptr(), state.died_at.data_ptr()
        self._chunk: tuple = ()

    def load(self, xs, noise, prior) -> None:
        """Take a chunk: ``xs`` [M, n, B, 2], ``noise`` and ``prior`` [M, n, B, d] (or None)."""
        st = self.state
        cpu_kernel.check_chunk(xs, st.m, st.batch, 2)
        for a in (noise, prior):
            if a is not None:
                cpu_kernel.check_chunk(a, st.m, st.batch, st.d)
        self._chunk = tuple((0, 0, 0) if a is None else (a.data_ptr(), 4 * a.stride(1), a.stride(0))
                            for a in (xs, noise, prior))
        self._keep = (xs, noise, prior)

    def run(self, t: int, j: int, n: int, log: bool) -> None:
        """Steps ``t`` .. ``t + n − 1`` (0-based) on steps ``j`` .. ``j + n − 1`` of the loaded chunk, in one
        call (the GIL is released once for n steps); ``log``: :meth:`logged` will be read after the
        last."""
        (xp, xj, xs), (np_, nj, ns), (pp, pj, ps) = self._chunk
        w, c, row = self._weights
        off = 4 * t * self.state.m
        noise = np_ + j * nj if np_ else None
        prior = pp + j * pj if pp else None
        self.lib.vb_fused_steps(n, xj, nj, pj, *self._head, xp + j * xj, xs, noise, ns, prior, ps,
                                *self._terms, w + off, c + off, row, *self._tail, log, *self._alive, t + 1,
                                ADAM_BETAS[0], ADAM_BETAS[1], ADAM_EPS, self.scratch.data_ptr(),
                                self.state.batch)

    def step(self, t: int, j: int, log: bool) -> None:
        """Step ``t`` on step ``j`` of the loaded chunk (:meth:`run` of one step)."""
        self.run(t, j, 1, log)

    def logged(self) -> dict[str, torch.Tensor]:
        return {k: self.out[objective.OUTPUTS.index(k)].clone() for k in self.logged_names}
