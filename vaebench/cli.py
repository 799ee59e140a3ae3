"""Command line: ``python -m vaebench run GRID.toml --out DIR`` and ``python -m vaebench status DIR``.

Errors go through :mod:`vaebench.shell`: a user error (bad grid file, bad option, busy or unwritable
directory, damaged study record, missing extra) is one line ``error: <message>`` on stderr, exit 2;
Ctrl-C says what was kept, exit 130; a shard that failed on a cluster after its retries exits with 1;
any other exception (a bug) is one line too, exit 1, with the full traceback in ``vaebench-error.log``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from vaebench.shell import ERROR_LOG, MAX_LINE, crash_line, guarded, one_line  # noqa: F401  (the interface)

DESCRIPTION = """\
Train and evaluate a whole VAE study described by one TOML grid file, resumably.

  python -m vaebench run grids/smoke.toml --out studies/smoke
  python -m vaebench status studies/smoke

Running the same command again trains only the runs not yet stored: it resumes an interrupted study and
extends one whose grid grew. Results: vaebench.load_results(DIR), or the Parquet files in DIR/results/."""

RUN_HELP = """\
Every run of the grid not yet stored in --out is trained and evaluated; finished shards are stored as
they complete (DIR/results/*.parquet), so an interrupted study loses at most the shards in flight."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The ``vaebench`` argument parser (subcommands ``run`` and ``status``)."""
    from vaebench.defaults import N_EVAL
    from vaebench.runner import DEFAULT_SHARD_SIZE, add_executor_arguments

    parser = _Parser(prog="python -m vaebench", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="{run,status,collapse}", parser_class=_Parser)
    sub.required = True
    run = sub.add_parser("run", help="train and evaluate every run of a grid file not yet stored",
                         description=RUN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("grid", metavar="GRID.toml", help="the grid file (see vaebench.grid for its format)")
    run.add_argument("--out", required=True, metavar="DIR", help="study directory (created if needed)")
    add_executor_arguments(run, "shards")
    run.add_argument("--device", choices=["cpu", "cuda", "auto"], help="override the grid's device")
    run.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE, metavar="N",
                     help=f"at most N runs per shard, trained as one batch (default {DEFAULT_SHARD_SIZE})")
    run.add_argument("--n-eval", type=int, metavar="N",
                     help=f"evaluation points per run (default: the grid's, else {N_EVAL})")
    run.add_argument("--threads", type=int, metavar="N",
                     help="local: training workers and evaluation threads (default: the usable cores); "
                          "dask: torch threads per worker process (default 1)")
    run.add_argument("--dry-run", action="store_true",
                     help="validate and show the plan; write and train nothing")
    run.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    status = sub.add_parser("status", help="done / pending / diverged counts of a study directory")
    status.add_argument("out", metavar="DIR", help="study directory")
    from vaebench import collapse  # the phase diagram of posterior collapse: its own options

    collapse.add_parser(sub)
    return parser


def _check_dir(name: str, value: str) -> None:
    if not value.strip():
        raise ValueError(f"{name} = {value!r}: an empty path (an unset shell variable?); give the study "
                         f"directory")


@contextlib.contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """No numpy warnings while it lasts: a diverging run (overflow, NaN) is recorded as diverged, which
    says it all. For this process and, through PYTHONWARNINGS, for the worker processes it starts; both
    restored after (main() may be called in a process that goes on)."""
    if not enabled:
        yield
        return
    saved = os.environ.get("PYTHONWARNINGS")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [saved, "ignore::RuntimeWarning"]))
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("PYTHONWARNINGS", None)
            else:
                os.environ["PYTHONWARNINGS"] = saved


def _run(args: argparse.Namespace) -> int:
    from vaebench import store
    from vaebench.runner import plan_study, run_study

    _check_dir("--out", args.out)

    options = dict(executor=args.executor, scheduler=args.scheduler, device=args.device,
                   shard_size=args.shard_size, n_eval=args.n_eval, workers=args.workers, threads=args.threads)
    if args.dry_run:
        plan = plan_study(args.grid, **options)
        out = Path(args.out)
        stored = set()
        if (out / "results").is_dir():
            stored = {rid for _, df in store.scan_parts(out).good for rid in df["run_id"]}
        pending = sum(rid not in stored for rid in plan.run_ids)
        gpu = f" and {plan.device_bytes / 2**20:,.0f} MiB of GPU memory" if plan.device_bytes else ""
        print(f"study {plan.grid.name!r}: {len(plan.run_ids)} runs, {len(plan.run_ids) - pending} stored in "
              f"{out}, {pending} to train; largest wave about {plan.shard_bytes / 2**20:,.0f} MiB{gpu}, "
              f"evaluation included")
        return 0
    with _quiet(args.quiet):
        results = run_study(args.grid, args.out, progress=not args.quiet, **options)
    counts = results["status"].value_counts()
    print(f"{len(results)} runs stored in {args.out} ({counts.get('ok', 0)} ok, "
          f"{counts.get('diverged', 0)} diverged)")
    from vaebench.timings import timing_summary

    print(timing_summary(results.attrs.get("timings")) or "nothing to train: every run was stored already")
    return 0


def _status(args: argparse.Namespace) -> int:
    from vaebench import store

    _check_dir("DIR", args.out)
    out = Path(args.out)
    if not (out / "results").is_dir():
        raise ValueError(f"DIR = {str(out)!r}: not a vaebench study directory (no results/ inside)")
    study = store.study_contents(out)
    in_grid, stored = study.results, study.stored
    n_div = int((in_grid["status"] != "ok").sum())
    print(f"study {study.meta.get('name', out.name)!r} in {out}: {len(study.grid_ids or stored)} runs in its "
          f"grid")
    print(f"  done      {len(in_grid)} ({len(in_grid) - n_div} ok, {n_div} diverged or failed evaluation)")
    print(f"  pending   {len(study.pending)}")
    if study.grid_ids and len(stored) > len(in_grid):
        print(f"  stored runs not in the current grid: {len(stored) - len(in_grid)}")
    for path, why in study.corrupt:
        print(f"  corrupted part {path}: {why} (its runs count as pending; `run` trains them again)")
    for row in in_grid[in_grid["status"] != "ok"].head(20).itertuples():
        print(f"  {row.status} {row.run_id}: variant {row.variant}, beta {row.beta:g}, lr {row.lr:g}, "
              f"seed {row.seed} at step {row.diverged_step}: {row.reason}")
    return 0


def _collapse(args: argparse.Namespace) -> int:
    from vaebench.collapse import main as collapse_main

    return collapse_main(args)


COMMANDS = {"run": _run, "status": _status, "collapse": _collapse}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m vaebench`` and the ``vaebench`` script; returns the exit status."""
    from vaebench.execution import ShardFailed

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    return guarded(lambda: COMMANDS[args.command](args), "python -m vaebench",
                   interrupted=lambda: _interrupted(args), log_dir=lambda: getattr(args, "out", None),
                   failures=(ShardFailed,))


def _interrupted(args: argparse.Namespace) -> str:
    out = getattr(args, "out", None)
    if args.command != "run" or out is None or not (Path(out) / "results").is_dir():
        return "interrupted: nothing was stored"
    from vaebench import store

    n = len(store.results_from_scan(store.scan_parts(out)))
    return (f"interrupted: {n} finished runs are kept in {out} (shards in flight are lost); "
            f"run the same command again to resume")
