"""Kept importable for code written against it: the executors now live in :mod:`vaebench.execution`."""

from vaebench.execution import *  # noqa: F403
from vaebench.execution import __all__  # noqa: F401
