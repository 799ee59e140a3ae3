"""What "the two CPU routes compute the same function" means in the tests: the same logged terms and the
same trained parameters to float precision early in training (not bit for bit: the fused C step and the
PyTorch operators round differently)."""

import numpy as np
import torch


def assert_same_trajectory(a, b) -> None:
    """Two TrainResults of one config, trained on different routes."""
    cols = [c for c in a.history.columns if c != "step"]
    np.testing.assert_allclose(a.history[cols].to_numpy(), b.history[cols].to_numpy(), rtol=2e-3, atol=2e-4)
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-3, atol=1e-4)
