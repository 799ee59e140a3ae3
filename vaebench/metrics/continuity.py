"""Continuity of the latent (Venna & Kaski 2001, "Neighborhood preservation in nonlinear projection
methods: an experimental study", ICANN): the seed report's "points that are close to each other in the
source distribution stay close together in the latent distribution".

C(k) = 1 − 2/(n·k·(2n − 3k − 1)) Σᵢ Σ_{j ∈ V_k(i)} (r̂(i, j) − k), where V_k(i) are the points among i's k
nearest in the *input* that are not among its k nearest in the *latent*, and r̂(i, j) is j's rank among
i's neighbours in the latent. It is trustworthiness (:func:`~vaebench.metrics.structure.trustworthiness`)
with the two spaces swapped: trustworthiness penalises latent neighbours that were far in the input
(false neighbours), continuity input neighbours that the latent tore apart (the seed's claim). 1 when
every input neighbourhood stays a latent neighbourhood, ≈ 0.5 for a latent unrelated to the input.
"""

from __future__ import annotations

from typing import Any

from vaebench.metrics.structure import QUERY_MAX, trustworthiness


def continuity(inputs: Any, latent: Any, k: int = 10, *, max_queries: int = QUERY_MAX,
               seed: int = 0) -> float:
    """C(k) of ``latent`` [n, d] against ``inputs`` [n, D] (module docstring); the same query subsample
    and ``seed`` rules as :func:`~vaebench.metrics.structure.trustworthiness`. Either may be a PointSet."""
    return trustworthiness(latent, inputs, k, max_queries=max_queries, seed=seed)
