"""analysis: the report of a vaebench study: tables, findings and figures from the tidy results table.

Data flows one way: results table (:func:`vaebench.store.load_results`) → :mod:`analysis.tables` and
:mod:`analysis.findings` → figures (:mod:`analysis.figures`) → :mod:`analysis.report`, which writes
``report.md`` and a self-contained ``report.html``. Run it with ``python -m analysis.report``.
"""

from analysis.findings import Finding, compute_findings
from analysis.tables import METRICS, config_table, seed_summary, t_interval

__all__ = ["METRICS", "Finding", "compute_findings", "config_table", "seed_summary", "t_interval"]
