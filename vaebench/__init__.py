"""vaebench: benchmark and analysis suite for variational autoencoders on 2-D toy data."""

from vaebench.config import RunConfig
from vaebench.engine import TrainResult, train
from vaebench.grid import Grid
from vaebench.runner import run_study
from vaebench.schedules import list_schedules
from vaebench.store import load_results
from vaebench.variants import list_variants

__version__ = "0.1.0"
# Bump when a change alters trained numbers: it enters every run id, so stale results are not reused.
RESULTS_VERSION = 6

__all__ = ["RESULTS_VERSION", "Grid", "RunConfig", "TrainResult", "list_schedules", "list_variants",
           "load_results", "run_study", "train"]
