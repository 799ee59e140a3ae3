"""The operators route: PyTorch operators for M models at once (CUDA, a CPU without the C kernel, and any
variant that states its own loss). Hand-written batched matrix products (:class:`StackedMLP`) on
feature-major activations [M, features, B], in a layout whose hidden widths are padded by zero units that
stay zero; only the objective, a few small [M, B, d] tensors, goes through autograd; PyTorch's fused
Adam."""

from __future__ import annotations

import torch

from vaebench import objective
from vaebench.group import GroupState
from vaebench.model import Layout, StackedMLP, padded_hidden
from vaebench.routes.fused import ADAM_BETAS, ADAM_EPS
from vaebench.variants import LossInputs


class OperatorsRoute:
    name = "operators"
    feature_major = True  # minibatches [steps, M, 2, B], noise [steps, M, d, B], prior [steps, M, B, d]

    @staticmethod
    def train_layout(variant, cfg) -> Layout:
        return Layout.build(2, cfg.latent_dim, padded_hidden(cfg.hidden), variant.stochastic)

    def __init__(self, state: GroupState):
        self.state, self.steps = state, state.steps
        wide, m = state.wide, state.m
        self.encoder = StackedMLP(state.flat, wide.encoder)
        self.decoder = StackedMLP(state.flat, wide.decoder)
        self.weights = state.flat[:, :wide.n_weights]
        self.two_l2 = (2 * state.coefs.l2).unsqueeze(-1)
        self.grad = torch.zeros_like(state.flat)
        self.tail = torch.zeros(m, state.flat.shape[1] - wide.n_params, device=state.device)
        self.delta = torch.zeros_like(state.flat)
        self.step_count = torch.zeros((), device=state.device)
        self._chunk: tuple = ()
        self._terms: dict[str, torch.Tensor] = {}

    def load(self, xs, noise, prior) -> None:
        self._chunk = (xs, noise, prior)

    def _objective(self, t: int, x, recon, mu, logvar, z, prior) -> dict[str, torch.Tensor]:
        st = self.state
        if st.table is None:  # a variant's own PyTorch loss
            c = st.coefs
            return st.variant.loss(LossInputs(x, recon, mu, logvar, z, prior, c.betas[t], c.recon_var,
                                              c.params, t, st.steps))
        stats = objective.statistics(st.table, x, recon, mu, logvar, z, prior, st.coefs.recon_var)
        return objective.evaluate(st.table, stats, t)

    def step(self, t: int, j: int, log: bool) -> None:
        st, d = self.state, self.state.d
        xs, noise, prior = (None if a is None else a[j] for a in self._chunk)
        enc, enc_inputs = self.encoder.forward(xs)
        if st.variant.stochastic:  # μ and log σ² as two leaves: their gradients need no slicing back
            mu_t, logvar_t = enc[:, :d].requires_grad_(True), enc[:, d:].requires_grad_(True)
            mu, logvar = mu_t.transpose(1, 2), logvar_t.transpose(1, 2)
            spread = torch.exp(0.5 * logvar) * noise.transpose(1, 2)
            z = mu + spread
            leaves = (mu_t, logvar_t)
        else:
            enc.requires_grad_(True)
            mu, logvar, z = enc.transpose(1, 2), None, enc.transpose(1, 2)
            leaves = (enc,)
        recon, dec_inputs = self.decoder.forward(z.detach().transpose(1, 2))
        recon.requires_grad_(True)
        terms = self._objective(t, xs.transpose(1, 2), recon.transpose(1, 2), mu, logvar, z, prior)
        alive_total = torch.where(st.alive, terms["total"], 0.0).sum()
        *g_enc, g_recon = torch.autograd.grad(alive_total, (*leaves, recon), allow_unused=True,
                                              materialize_grads=True)
        with torch.no_grad():
            g_z, dec_w, dec_b = self.decoder.backward(dec_inputs, g_recon, input_grad=True)
            if st.variant.stochastic:  # through z = μ + exp(½ log σ²)·ε
                g_enc = torch.cat([g_enc[0] + g_z, g_enc[1] + 0.5 * g_z * spread.transpose(1, 2)], 1)
            else:
                g_enc = g_enc[0] + g_z
            _, enc_w, enc_b = self.encoder.backward(enc_inputs, g_enc, input_grad=False)
            torch.cat([w.view(st.m, -1) for w in enc_w + dec_w] + enc_b + dec_b + [self.tail], 1,
                      out=self.grad)
            self.grad[:, :self.weights.shape[1]].addcmul_(self.weights, self.two_l2)  # ∂(λ·Σw²)/∂w
            terms = {k: v.detach() for k, v in terms.items()}
            terms["l2"] = st.coefs.l2 * torch.linalg.vecdot(self.weights, self.weights)
            terms["total"] = terms.pop("total") + terms["l2"]
            ok = torch.isfinite(terms["total"]) & torch.isfinite((self.grad * 0).sum(-1))  # finite·0 = 0
            st.died_at.copy_(torch.where(st.alive & ~ok, t, st.died_at))
            st.alive.logical_and_(ok)
            self.grad.nan_to_num_(0.0, 0.0, 0.0)  # a dead model's update is multiplied by lr = 0 below
            _adam(st.flat, self.grad, st.exp1, st.exp2, self.delta, self.step_count, st.coefs.lr * st.alive,
                  t + 1)
        self._terms = terms

    def run(self, t: int, j: int, n: int, log: bool) -> None:
        """Steps ``t`` .. ``t + n − 1`` on steps ``j`` .. of the loaded chunk, one after another."""
        for s in range(n):
            self.step(t + s, j + s, log and s == n - 1)

    def logged(self) -> dict[str, torch.Tensor]:
        return dict(self._terms)


def _adam(p, g, exp1, exp2, delta, step_count, lr, t: int) -> None:
    """One Adam step (Kingma & Ba 2015) on [M, P] parameters with a per-model learning rate ``lr`` [M]:
    PyTorch's fused Adam kernel computes the unit-rate update into ``delta``, then p += lr·delta."""
    b1, b2 = ADAM_BETAS
    delta.zero_()
    step_count.fill_(t)
    torch._fused_adam_([delta], [g], [exp1], [exp2], [], [step_count], lr=1.0, beta1=b1, beta2=b2,
                       weight_decay=0.0, eps=ADAM_EPS, amsgrad=False, maximize=False)
    p.addcmul_(delta, lr.unsqueeze(-1))
