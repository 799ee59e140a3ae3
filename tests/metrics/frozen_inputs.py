"""Fixed seeded inputs for the frozen reference values of :mod:`tests.metrics.test_metrics_frozen`.

``python -m tests.metrics.frozen_inputs`` prints the suite's outputs on these inputs as a Python literal;
run at main e2eb71b (the implementations before issue 13 made them faster), its output is the
``FROZEN`` dict of the test module, pasted unchanged. (The case "d2_n5000_mlp" was added later: its
values come from main e2eb71b's vaebench with this module, ``PYTHONPATH=/path/to/main`` and this
worktree appended to ``sys.path``.)
"""

from __future__ import annotations

import types

import numpy as np
import torch
from scipy.stats import norm

from vaebench.data import quadrant

CASES = {"d2_n5000": (5000, 2, 11, 0.3), "d1_n3000": (3000, 1, 12, 0.0), "d2_n800": (800, 2, 13, 1.0)}
SUITE_SEED = 7


def case_arrays(n: int, d: int, seed: int, warp: float) -> dict[str, np.ndarray]:
    """Evaluation arrays like a trained run's: a warped probit latent with noise, noisy reconstructions,
    generated points that miss the square's edges (float32, as :func:`vaebench.evaluation.eval_arrays`)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2)).astype(np.float32)
    mu = norm.ppf(x)[:, :d] * 0.9 + warp * np.sin(3 * x[:, :d])
    logvar = np.full((n, d), np.log(0.19))
    z = mu + np.exp(0.5 * logvar) * rng.standard_normal((n, d))
    recon = np.clip(x + 0.03 * rng.standard_normal((n, 2)), 0, 1)
    gen = rng.random((n, 2)) * 0.96 + 0.02
    return {"x": x, "quadrant": quadrant(x), "mu": mu.astype(np.float32), "logvar": logvar.astype(np.float32),
            "z": z.astype(np.float32), "recon": recon.astype(np.float32), "recon_mean": x,
            "generated": gen.astype(np.float32)}


def linear_model(d: int) -> types.SimpleNamespace:
    """A fixed encoder/decoder pair (torch functions) for the likelihood bounds."""
    w = torch.tensor([[1.3, -0.4], [0.2, 0.9]])[:, :d]
    v = torch.tensor([[0.8, 0.3], [-0.2, 0.7]])[:d]

    def encode(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (x - 0.5) @ w * 3.0, torch.full((len(x), d), -1.5) + 0.2 * x[:, :1]

    def decode(z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(z @ v)

    return types.SimpleNamespace(encode=encode, decode=decode)


def mlp_model(d: int, seed: int = 3) -> types.SimpleNamespace:
    """A fixed ReLU MLP encoder and decoder of the seed's shape (2→30→30→2d, d→30→30→2), weights drawn
    from a seeded NumPy generator, as a vaebench model's ``encode``/``decode`` work."""
    rng = np.random.default_rng(seed)

    def mlp(sizes: list[int]) -> torch.nn.Sequential:
        layers: list[torch.nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            lin = torch.nn.Linear(n_in, n_out)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(rng.uniform(-1, 1, (n_out, n_in)) / np.sqrt(n_in)))
                lin.bias.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, n_out)))
            layers += [lin, torch.nn.ReLU()]
        return torch.nn.Sequential(*layers[:-1])

    enc, dec = mlp([2, 30, 30, 2 * d]), mlp([d, 30, 30, 2])

    def encode(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = enc(x)
        return out[:, :d], out[:, d:] - 2.0

    return types.SimpleNamespace(encode=encode, decode=dec)


def outputs() -> dict[str, dict[str, float]]:
    """The suite on every case (with the linear model, σ² = 0.05), and on the first case with the MLP
    model (its likelihood bounds decode 64 000 rows)."""
    from vaebench.metrics import evaluate

    out = {name: evaluate(case_arrays(*args), model=linear_model(args[1]), recon_var=0.05, seed=SUITE_SEED)
           for name, args in CASES.items()}
    out["d2_n5000_mlp"] = evaluate(case_arrays(*CASES["d2_n5000"]), model=mlp_model(2), recon_var=0.05,
                                   seed=SUITE_SEED)
    return out


if __name__ == "__main__":
    import pprint

    pprint.pprint(outputs(), width=110, sort_dicts=False)
