"""Where a study's time went: per-study timings of one ``run_study`` call, stored in ``DIR/timings.json``.

Per run, the results table carries ``engine``, ``train_seconds`` and ``eval_seconds``
(:data:`vaebench.store.TIMING_COLUMNS`); per study, :class:`StudyClock` adds the wall time and the time
spent storing, and the model-steps/s of the whole study, evaluation and storing included.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaebench import store

TIMINGS_FILE = "timings.json"


@dataclass
class StudyClock:
    """Where one ``run_study`` call's time went, in seconds: ``wall`` (from the plan to the last shard
    stored), ``train`` and ``evaluate`` (sums of the runs' ``train_seconds`` and ``eval_seconds``: with
    evaluation beside training, or shards on a cluster, they overlap, so their sum can exceed ``wall``),
    ``store`` (writing artifacts and result parts); ``runs`` and ``model_steps`` trained."""

    executor: str
    start: float = field(default_factory=time.perf_counter)
    train: float = 0.0
    evaluate: float = 0.0
    store: float = 0.0
    runs: int = 0
    model_steps: int = 0
    wall: float = 0.0

    def shard(self, rows: list[dict[str, Any]], store_seconds: float) -> None:
        """Add a stored shard: its result rows and the seconds spent storing it. Model-steps are those
        trained: an analytic reference's route takes none."""
        self.train += sum(float(r["train_seconds"]) for r in rows)
        self.evaluate += sum(float(r["eval_seconds"]) for r in rows)
        self.store += store_seconds
        self.runs += len(rows)
        self.model_steps += sum(int(r["steps"]) for r in rows if r["engine"] != "analytic")

    def to_dict(self) -> dict[str, Any]:
        wall = self.wall or time.perf_counter() - self.start
        return {"executor": self.executor, "wall_seconds": wall, "train_seconds": self.train,
                "eval_seconds": self.evaluate, "store_seconds": self.store, "runs": self.runs,
                "model_steps": self.model_steps,
                "model_steps_per_s": self.model_steps / wall if wall > 0 else float("nan"),
                "train_share": self.train / wall if wall > 0 else float("nan")}


def write_timings(out: Path, clock: StudyClock) -> None:
    """Record the last ``run_study`` call's timings in ``DIR/timings.json`` (written atomically)."""
    clock.wall = time.perf_counter() - clock.start
    store.atomic_write(Path(out) / TIMINGS_FILE, json.dumps(clock.to_dict(), indent=1).encode())


def read_timings(out: str | Path) -> dict[str, Any] | None:
    """The study's ``timings.json`` (see :class:`StudyClock`), or None where there is none or it is
    unreadable."""
    try:
        data = json.loads((Path(out) / TIMINGS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def timing_summary(timings: dict[str, Any] | None) -> str:
    """One line for the end of ``python -m vaebench run``: throughput and the share of wall time spent
    training, or "" where nothing was trained."""
    if not timings or not timings.get("runs"):
        return ""
    return (f"trained {timings['runs']} runs, {timings['model_steps']:,} model-steps in "
            f"{timings['wall_seconds']:.1f} s: {timings['model_steps_per_s']:,.0f} model-steps/s including "
            f"evaluation and storing; training {timings['train_share']:.0%} of the wall time "
            f"(evaluation {timings['eval_seconds']:.1f} s, storing {timings['store_seconds']:.1f} s)")
