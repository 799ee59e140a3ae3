"""Quadrature pieces of :mod:`vaebench.metrics.exact`: nested node grids and the log of
a Gaussian mixture at many points (the CPU kernel's ``vb_mixture_logsum``, or PyTorch blocks where the
kernel is not built: the same numbers to rounding).

Grids are nested: a grid of 2m + 1 nodes per dimension holds the grid of m + 1 nodes (every other node), so
a trapezoid sum on the coarser grid costs nothing once the finer one is evaluated, and the difference of
the two estimates the error of the coarser one: an upper estimate of the finer one's where the rule
converges (trapezoid sums of smooth integrands that vanish at the box's edges converge fast).
"""

from __future__ import annotations

import numpy as np
import torch

from vaebench import cpu_kernel

BLOCK = 1 << 21  # float64 numbers per block on the fallback route: 16 MiB


def nodes_1d(lo: float, hi: float, m: int) -> np.ndarray:
    """``m + 1`` equally spaced nodes from ``lo`` to ``hi`` (``m`` even: the coarse grid is ``[::2]``)."""
    return np.linspace(lo, hi, m + 1)


def tensor_grid(axes: list[np.ndarray]) -> np.ndarray:
    """The tensor grid of 1-D node arrays as points [Π len, d], the last axis varying fastest."""
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([a.ravel() for a in mesh], axis=1)


def coarse_mask(m: int, d: int) -> np.ndarray:
    """Which nodes of the tensor grid of ``m + 1`` nodes per dimension lie on the grid of ``m/2 + 1``."""
    even = np.arange(m + 1) % 2 == 0
    mask = even
    for _ in range(d - 1):
        mask = np.logical_and.outer(mask, even).ravel()
    return mask


def mixture_logsum(x: np.ndarray, centres: np.ndarray, logw: np.ndarray, scale: float) -> np.ndarray:
    """log Σ_g exp(logw_g − scale·‖x_i − c_g‖²) for each point x_i: ``x`` [n, D], ``centres`` [G, D],
    ``logw`` [G] → float64 [n]; −inf where every term is 0."""
    lib = cpu_kernel.load()
    x = np.ascontiguousarray(x, dtype=np.float64)
    if lib is None:
        return _mixture_logsum_torch(x, centres, logw, scale)
    n, dim = x.shape
    g = -(-len(centres) // 4) * 4  # the kernel takes four nodes at a time: pad with weight 0
    xt = np.ascontiguousarray(x.T)
    ct = np.zeros((dim, g))
    ct[:, :len(centres)] = np.asarray(centres, dtype=np.float64).T
    lw = np.full(g, -np.inf)
    lw[:len(centres)] = logw
    out = np.empty(n)
    scratch = np.empty(g)
    lib.vb_mixture_logsum(n, dim, xt.ctypes.data, g, ct.ctypes.data, lw.ctypes.data, float(scale),
                          out.ctypes.data, scratch.ctypes.data)
    return out


def _mixture_logsum_torch(x: np.ndarray, centres: np.ndarray, logw: np.ndarray, scale: float) -> np.ndarray:
    xt = torch.from_numpy(x)
    ct = torch.from_numpy(np.ascontiguousarray(centres, dtype=np.float64))
    lw = torch.from_numpy(np.ascontiguousarray(logw, dtype=np.float64))
    rows = max(1, BLOCK // max(len(ct), 1))
    out = []
    for start in range(0, len(xt), rows):
        diff = xt[start:start + rows, None, :] - ct[None, :, :]
        out.append(torch.logsumexp(lw - scale * diff.square().sum(-1), dim=1))
    return torch.cat(out).numpy()
