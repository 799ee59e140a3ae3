"""The report's figures in one place. Each takes tidy DataFrames (and arrays for scatter panels) and
returns a matplotlib Figure; none reads files. Headless (Agg); colour-blind-safe palettes; one colour
per input quadrant in every figure (:data:`analysis.style.QUADRANTS`).

1, 2. :func:`latent_grid_figure`: latent beside reconstruction over (λ, β), 2-D and 1-D (with jitter).
3. :func:`heatmap_figure`: seed-averaged metrics over (λ, β) with their 95% intervals.
4. :func:`rate_distortion_figure`: KL against MSE; fixed against annealed β, variants, probit reference.
5. :func:`generation_figure`: decoded prior samples against the unit square.
6. :func:`training_curves_figure`: loss terms per step, seed means with ±1 sd.
7. :func:`throughput_figure`: engine throughput from a pytest-benchmark JSON.
"""

from analysis.scatter_figures import generation_figure, latent_grid_figure
from analysis.summary_figures import (
    heatmap_figure,
    rate_distortion_figure,
    throughput_figure,
    training_curves_figure,
)

__all__ = ["generation_figure", "heatmap_figure", "latent_grid_figure", "rate_distortion_figure",
           "throughput_figure", "training_curves_figure"]
