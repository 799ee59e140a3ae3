"""The library's versions, in a module that imports nothing (run ids and study records read them)."""

__version__ = "0.1.0"
# Bump when a change alters trained or evaluated numbers: it enters every run id, so stale results are
# not reused.
RESULTS_VERSION = 6
