"""The seed architecture: MLP encoder and decoder, as stacked parameters of M models and as nn.Module.

Stacked parameters live in one flat buffer of shape [M, P] per group of same-shaped models: first every
weight matrix (so the L2 term is one reduction over ``flat[:, :n_weights]``), then every bias. A layer's
weight is viewed as [M, in, out] and applied with one batched matmul, ``baddbmm(b, h, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class Layer:
    """One dense layer inside the flat buffer: shapes and offsets."""

    n_in: int
    n_out: int
    w_at: int
    b_at: int


@dataclass(frozen=True)
class Layout:
    """Where each layer of the encoder and decoder sits in the flat parameter vector."""

    encoder: tuple[Layer, ...]
    decoder: tuple[Layer, ...]
    n_weights: int
    n_params: int

    @staticmethod
    def build(data_dim: int, latent_dim: int, hidden: tuple[int, ...], stochastic: bool) -> Layout:
        enc_sizes = [data_dim, *hidden, latent_dim * (2 if stochastic else 1)]
        dec_sizes = [latent_dim, *hidden, data_dim]
        pairs = list(zip(enc_sizes[:-1], enc_sizes[1:], strict=True))
        pairs += list(zip(dec_sizes[:-1], dec_sizes[1:], strict=True))
        n_weights = sum(i * o for i, o in pairs)
        layers, w_at, b_at = [], 0, n_weights
        for i, o in pairs:
            layers.append(Layer(i, o, w_at, b_at))
            w_at += i * o
            b_at += o
        n_enc = len(enc_sizes) - 1
        return Layout(tuple(layers[:n_enc]), tuple(layers[n_enc:]), n_weights, b_at)


def init_flat(layout: Layout, rng: np.random.Generator) -> np.ndarray:
    """One model's initial parameters, float32 [P]: W and b ~ U(−1/√in, 1/√in), as nn.Linear's default."""
    flat = np.empty(layout.n_params, dtype=np.float32)
    for layer in layout.encoder + layout.decoder:
        bound = 1.0 / np.sqrt(layer.n_in)
        nw = layer.n_in * layer.n_out
        flat[layer.w_at:layer.w_at + nw] = rng.uniform(-bound, bound, nw)
        flat[layer.b_at:layer.b_at + layer.n_out] = rng.uniform(-bound, bound, layer.n_out)
    return flat


def padded_hidden(hidden: tuple[int, ...], multiple: int = 8) -> tuple[int, ...]:
    """Hidden widths rounded up to a multiple of ``multiple``: the engine trains in this wider layout.

    The extra units start at zero and stay exactly zero (their weights and biases get zero gradient), so
    the function computed is the unpadded one, while every matrix product has widths the CPU kernels run
    fast (a 30×30 weight-gradient bmm takes 1.6× as long as a 32×32 one on AVX2; bench/RESULTS.md).
    """
    return tuple(-(-h // multiple) * multiple for h in hidden)


def pad_index(layout: Layout, padded: Layout) -> np.ndarray:
    """Positions, in a flat vector of ``padded``, of each of ``layout``'s parameters: int64 [P]."""
    index = np.empty(layout.n_params, dtype=np.int64)
    for small, big in zip(layout.encoder + layout.decoder, padded.encoder + padded.decoder, strict=True):
        rows = np.arange(small.n_in)[:, None] * big.n_out + np.arange(small.n_out)[None, :]
        index[small.w_at:small.w_at + small.n_in * small.n_out] = big.w_at + rows.ravel()
        index[small.b_at:small.b_at + small.n_out] = big.b_at + np.arange(small.n_out)
    return index


_threshold_backward = torch.ops.aten.threshold_backward.grad_input  # ReLU's backward, as autograd's


def _bmm(a: Tensor, b: Tensor, bias: Tensor | None = None) -> Tensor:
    """Batched ``a @ b`` (+ ``bias``), [M, n, k] × [M, k, m]. Where n, k or m is 1 (a 1-D latent), as a
    broadcast product and a sum: MKL's batched GEMM takes another route for such shapes at M = 1 than at
    M > 1, and a model trained alone would then differ from the same model trained beside others."""
    if min(a.shape[-2], a.shape[-1], b.shape[-1]) > 1:
        return torch.bmm(a, b) if bias is None else torch.baddbmm(bias, a, b)
    out = (a.unsqueeze(-1) * b.unsqueeze(-3)).sum(-2)
    return out if bias is None else out + bias


class StackedMLP:
    """Forward and hand-written backward of one MLP (ReLU between layers) for M models at once.

    Activations are kept feature-major, ``[M, features, B]``: every product then has the batch as its
    long last dimension, ``a = Wᵀ·h + b``, which the CPU's batched GEMM runs fast even where a layer is
    2 or 4 wide. ``flat`` [M, P] is held by view; the weights follow its in-place updates.
    """

    def __init__(self, flat: Tensor, layers: tuple[Layer, ...]):
        m = flat.shape[0]
        self.layers = layers
        self.weights = [flat[:, ly.w_at:ly.w_at + ly.n_in * ly.n_out].view(m, ly.n_in, ly.n_out)
                        for ly in layers]  # [M, in, out]
        self.weights_t = [w.transpose(1, 2) for w in self.weights]  # [M, out, in]
        self.biases = [flat[:, ly.b_at:ly.b_at + ly.n_out].unsqueeze(-1) for ly in layers]  # [M, out, 1]

    def forward(self, h: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``h`` [M, in, B] → output [M, out, B] and the input of every layer (kept for backward)."""
        inputs = []
        last = len(self.layers) - 1
        for i, (w_t, b) in enumerate(zip(self.weights_t, self.biases, strict=True)):
            inputs.append(h)
            h = _bmm(w_t, h, b)
            if i < last:
                h = h.relu_()
        return h, inputs

    def backward(self, inputs: list[Tensor], g: Tensor, input_grad: bool
                 ) -> tuple[Tensor | None, list[Tensor], list[Tensor]]:
        """Gradients from ``g`` = ∂L/∂output [M, out, B]: (∂L/∂input [M, in, B] if ``input_grad``,
        weight gradients [M, in, out] and bias gradients [M, out], both in layer order)."""
        n = len(self.layers)
        w_grads: list[Tensor] = [None] * n  # type: ignore[list-item]
        b_grads: list[Tensor] = [None] * n  # type: ignore[list-item]
        for i in range(n - 1, -1, -1):
            h = inputs[i]
            w_grads[i] = _bmm(h, g.transpose(1, 2))
            b_grads[i] = g.sum(-1)
            if i > 0:  # ReLU's derivative: pass where the layer's input (a ReLU output) is > 0
                g = _bmm(self.weights[i], g)
                g = _threshold_backward(g, h, 0, grad_input=g)  # in place: half the memory traffic
            elif input_grad:
                g = _bmm(self.weights[i], g)
        return (g if input_grad else None), w_grads, b_grads


def mlp(flat: Tensor, layers: tuple[Layer, ...], h: Tensor) -> Tensor:
    """Apply an MLP (ReLU between layers, none after the last) to ``h`` [M, B, in] for M models at once."""
    m = flat.shape[0]
    for i, layer in enumerate(layers):
        w = flat[:, layer.w_at:layer.w_at + layer.n_in * layer.n_out].view(m, layer.n_in, layer.n_out)
        b = flat[:, layer.b_at:layer.b_at + layer.n_out].unsqueeze(1)
        h = torch.baddbmm(b, h, w)
        if i < len(layers) - 1:
            h = torch.relu(h)
    return h


class MLPVAE(nn.Module):
    """A trained model as a plain ``nn.Module``, usable outside vaebench.

    ``encode(x)`` maps [n, 2] to ``(mu, logvar)``, each [n, d] (``logvar`` is −inf for deterministic
    encoders: q(z|x) is a point mass); ``decode(z)`` maps [n, d] to the reconstruction mean [n, 2];
    ``forward(x)`` decodes the mean, ``decode(encode(x)[0])``.
    """

    def __init__(self, latent_dim: int, hidden: tuple[int, ...], stochastic: bool = True, data_dim: int = 2):
        super().__init__()
        self.latent_dim, self.stochastic = latent_dim, stochastic

        def stack(sizes: list[int]) -> nn.Sequential:
            mods: list[nn.Module] = []
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
                mods.append(nn.Linear(a, b))
                if i < len(sizes) - 2:
                    mods.append(nn.ReLU())
            return nn.Sequential(*mods)

        self.encoder = stack([data_dim, *hidden, latent_dim * (2 if stochastic else 1)])
        self.decoder = stack([latent_dim, *hidden, data_dim])

    @classmethod
    def from_flat(cls, latent_dim: int, hidden: tuple[int, ...], stochastic: bool,
                  flat: Tensor | None) -> MLPVAE:
        """Build the module and, if ``flat`` [P] is given, copy one model's stacked parameters into it."""
        model = cls(latent_dim, tuple(hidden), stochastic)
        if flat is None:
            return model.eval()
        layout = Layout.build(2, latent_dim, tuple(hidden), stochastic)
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for lin, layer in zip(linears, layout.encoder + layout.decoder, strict=True):
                w = flat[layer.w_at:layer.w_at + layer.n_in * layer.n_out].view(layer.n_in, layer.n_out)
                lin.weight.copy_(w.T)
                lin.bias.copy_(flat[layer.b_at:layer.b_at + layer.n_out])
        return model.eval()

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = self.encoder(x)
        if self.stochastic:
            return out[..., :self.latent_dim], out[..., self.latent_dim:]
        return out, torch.full_like(out, -torch.inf)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x)[0])
