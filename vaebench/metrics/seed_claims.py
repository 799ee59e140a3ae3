"""The metrics behind the seed report's claims, as one group of the suite (:mod:`vaebench.metrics.suite`).

- latent shape of the encoder means μ(x) (:mod:`~vaebench.metrics.shape`): ``mu_squareness``,
  ``mu_orientation_deg``, ``mu_kurtosis_contrast`` (the "diamond");
- coverage of each edge by the reconstructions decode(z) (:mod:`~vaebench.metrics.edges`, 5 % bands,
  k = 5): ``recon_edge_low``, ``recon_edge_high`` and per coordinate ``recon_edge_x{j}_{low,high}``
  ("values close to zero or one absent");
- input directions kept by z ~ q(z|x) (:mod:`~vaebench.metrics.directions`): ``z_explained_major``,
  ``z_explained_minor``, ``z_directions_kept`` (the "bands" that lose the 2-D information);
- for a 1-D latent, ``curve_length``, ``curve_turns`` and ``curve_fill`` of the decoded prior quantiles
  (:mod:`~vaebench.metrics.curve`, the "snake"; NaN for d ≠ 1 or without a model);
- the share of each latent direction's variance that x explains (:mod:`~vaebench.metrics.latent_signal`):
  ``latent_signal_major``, ``latent_signal_minor``, ``latent_bands`` (bands as bands);
- ``mu_affine_r2`` (:mod:`~vaebench.metrics.affine`, quadrants kept up to a rotation or reflection) and
  ``continuity`` of z against x (:mod:`~vaebench.metrics.continuity`, k = 10: close points stay close).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from vaebench.metrics.affine import affine_r2
from vaebench.metrics.continuity import continuity
from vaebench.metrics.curve import CURVE_KEYS, decoded_curve
from vaebench.metrics.directions import DIRECTION_KEYS, input_directions
from vaebench.metrics.edges import edge_coverage, edge_keys
from vaebench.metrics.latent_signal import SIGNAL_KEYS, latent_signal
from vaebench.metrics.shape import SHAPE_KEYS, diagonal_alignment, shape_metrics

EDGE_WIDTH, EDGE_K, CONTINUITY_K = 0.05, 5, 10
CLAIM_NEEDS = ("x", "mu", "logvar", "z", "recon")
CLAIM_KEYS = (*(f"mu_{k}" for k in SHAPE_KEYS), *(f"recon_{k}" for k in edge_keys(2)), *DIRECTION_KEYS,
              "curve_length")
# added for protocol v2 (issue 20), after the frozen keys: turns, fill, signal shares, diamond's tilt
CLAIM_KEYS_V2 = ("curve_turns", "curve_fill", *SIGNAL_KEYS, "mu_diagonal_alignment", "mu_affine_r2",
                 "continuity")
CLAIM_KEYS = (*CLAIM_KEYS, *CLAIM_KEYS_V2)
CLAIM_MIN_N = 12  # directions need n > k = 10 neighbours, edges n > k = 5


def _decoder(model: Any):
    import torch

    def decode(z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model.decode(torch.as_tensor(z, dtype=torch.float32)).cpu().numpy()

    return decode


def claim_metrics(arrays: Mapping[str, np.ndarray], model: Any = None,
                  points: Callable[[str], Any] | None = None) -> dict[str, float]:
    """Every key of :data:`CLAIM_KEYS` for one run's evaluation arrays (``x`` [n, 2], ``mu``, ``z`` [n, d],
    ``recon`` [n, 2]) and its model (or None). ``points(key)``: the array ``key`` as a shared
    :class:`~vaebench.metrics._neighbours.PointSet` (the suite's, so neighbour structures and k-NN
    queries are built once per array), or None for fresh ones."""
    pts = points or arrays.__getitem__
    out = {f"mu_{k}": v for k, v in shape_metrics(arrays["mu"]).items()}
    edges = edge_coverage(pts("x"), pts("recon"), width=EDGE_WIDTH, k=EDGE_K)
    out.update({f"recon_{k}": v for k, v in edges.items()})
    out.update(input_directions(arrays["x"], pts("z")))
    one_d = arrays["mu"].shape[1] == 1 and model is not None and arrays["x"].shape[1] == 2
    out.update(decoded_curve(_decoder(model)) if one_d else dict.fromkeys(CURVE_KEYS, math.nan))
    out.update(latent_signal(arrays["mu"], arrays["logvar"]))
    out["mu_affine_r2"] = affine_r2(arrays["x"], arrays["mu"])
    # the seed of trustworthiness' query subsample: the suite's stream 4 is not visible here; n ≤ 1 000
    # points need none, and above it a fixed one keeps equal inputs giving equal numbers
    enough = len(arrays["x"]) > 2 * CONTINUITY_K
    out["continuity"] = continuity(pts("x"), pts("z"), CONTINUITY_K) if enough else math.nan
    out["mu_diagonal_alignment"] = diagonal_alignment(out["mu_orientation_deg"])
    return {k: float(out[k]) for k in CLAIM_KEYS}
