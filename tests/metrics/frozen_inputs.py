"""Fixed seeded inputs for the frozen reference values of :mod:`tests.metrics.test_metrics_frozen`.

``python -m tests.metrics.frozen_inputs`` prints the suite's outputs on these inputs as a Python literal;
run at main e2eb71b (the implementations before issue 13 made them faster), its output is the
``FROZEN`` dict of the test module, pasted unchanged.
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


def outputs() -> dict[str, dict[str, float]]:
    """The suite on every case (with the linear model, σ² = 0.05)."""
    from vaebench.metrics import evaluate

    return {name: evaluate(case_arrays(*args), model=linear_model(args[1]), recon_var=0.05, seed=SUITE_SEED)
            for name, args in CASES.items()}


if __name__ == "__main__":
    import pprint

    pprint.pprint(outputs(), width=110, sort_dicts=False)
