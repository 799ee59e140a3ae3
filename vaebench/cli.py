"""Command line: ``python -m vaebench run GRID.toml --out DIR`` and ``python -m vaebench status DIR``.

A user error (bad grid file, bad option, busy or unwritable directory, missing extra) prints one line
``error: <message>`` on stderr and exits with status 2, never a traceback; Ctrl-C says what was kept and
exits with 130; a shard that failed on a cluster after its retries exits with 1.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

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
    from vaebench.runner import DEFAULT_SHARD_SIZE, EXECUTORS

    parser = _Parser(prog="python -m vaebench", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="{run,status}", parser_class=_Parser)
    sub.required = True
    run = sub.add_parser("run", help="train and evaluate every run of a grid file not yet stored",
                         description=RUN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("grid", metavar="GRID.toml", help="the grid file (see vaebench.grid for its format)")
    run.add_argument("--out", required=True, metavar="DIR", help="study directory (created if needed)")
    run.add_argument("--executor", choices=sorted(EXECUTORS), default="local",
                     help="where shards train: in this process (local, default) or on a dask cluster")
    run.add_argument("--scheduler", metavar="ADDR",
                     help="dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a LocalCluster on 127.0.0.1)")
    run.add_argument("--device", choices=["cpu", "cuda", "auto"], help="override the grid's device")
    run.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE, metavar="N",
                     help=f"at most N runs per shard, trained as one batch (default {DEFAULT_SHARD_SIZE})")
    run.add_argument("--n-eval", type=int, metavar="N",
                     help="evaluation points per run (default: the grid's, else 5000)")
    run.add_argument("--workers", type=int, metavar="N",
                     help="LocalCluster worker processes (dask; default: the usable cores)")
    run.add_argument("--threads", type=int, metavar="N",
                     help="torch threads per process (default 1; for more cores use more processes: "
                          "--executor dask --workers N)")
    run.add_argument("--dry-run", action="store_true",
                     help="validate and show the plan; write and train nothing")
    run.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    status = sub.add_parser("status", help="done / pending / diverged counts of a study directory")
    status.add_argument("out", metavar="DIR", help="study directory")
    return parser


def _run(args: argparse.Namespace) -> int:
    from vaebench import store
    from vaebench.runner import plan_study, run_study

    options = dict(executor=args.executor, scheduler=args.scheduler, device=args.device,
                   shard_size=args.shard_size, n_eval=args.n_eval, workers=args.workers, threads=args.threads)
    if args.dry_run:
        plan = plan_study(args.grid, **options)
        out = Path(args.out)
        stored = set()
        if (out / "results").is_dir():
            stored = {rid for _, df in store.scan_parts(out).good for rid in df["run_id"]}
        pending = sum(rid not in stored for rid in plan.run_ids)
        print(f"study {plan.grid.name!r}: {len(plan.run_ids)} runs, {len(plan.run_ids) - pending} stored in "
              f"{out}, {pending} to train; largest shard about {plan.shard_bytes / 2**20:,.0f} MiB")
        return 0
    results = run_study(args.grid, args.out, progress=not args.quiet, **options)
    counts = results["status"].value_counts()
    print(f"{len(results)} runs stored in {args.out} ({counts.get('ok', 0)} ok, "
          f"{counts.get('diverged', 0)} diverged)")
    from vaebench.timings import timing_summary

    print(timing_summary(results.attrs.get("timings")) or "nothing to train: every run was stored already")
    return 0


def _status(args: argparse.Namespace) -> int:
    from vaebench import store

    out = Path(args.out)
    if not (out / "results").is_dir():
        raise ValueError(f"DIR = {str(out)!r}: not a vaebench study directory (no results/ inside)")
    meta = store.read_study(out) or {}
    scan = store.scan_parts(out)
    results = store.results_from_scan(scan)
    grid_ids = [r["run_id"] for r in meta.get("runs", [])]
    stored = set(results["run_id"])
    in_grid = results[results["run_id"].isin(grid_ids)] if grid_ids else results
    n_div = int((in_grid["status"] != "ok").sum())
    print(f"study {meta.get('name', out.name)!r} in {out}: {len(grid_ids) or len(results)} runs in its grid")
    print(f"  done      {len(in_grid)} ({len(in_grid) - n_div} ok, {n_div} diverged or failed evaluation)")
    print(f"  pending   {sum(r not in stored for r in grid_ids)}")
    if grid_ids and len(results) > len(in_grid):
        print(f"  stored runs not in the current grid: {len(results) - len(in_grid)}")
    for path, why in scan.corrupt:
        print(f"  corrupted part {path}: {why} (its runs count as pending; `run` trains them again)")
    for row in in_grid[in_grid["status"] != "ok"].head(20).itertuples():
        print(f"  {row.status} {row.run_id}: variant {row.variant}, beta {row.beta:g}, lr {row.lr:g}, "
              f"seed {row.seed} at step {row.diverged_step}: {row.reason}")
    return 0


COMMANDS = {"run": _run, "status": _status}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m vaebench`` and the ``vaebench`` script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(_interrupted(args), file=sys.stderr)
        return 130
    except (ValueError, OSError, tomllib.TOMLDecodeError) as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2
    except Exception as err:
        from vaebench.runner import ShardFailed

        if isinstance(err, ShardFailed):
            print(f"error: {_one_line(err)}", file=sys.stderr)
            return 1
        raise


def _one_line(err: BaseException) -> str:
    """The error's message on one line (an OSError without its "[Errno N]" prefix)."""
    text = str(err)
    if isinstance(err, OSError) and err.strerror:
        text = err.strerror + (f": {err.filename!r}" if err.filename else "")
    return " ".join(text.split()) or type(err).__name__


def _interrupted(args: argparse.Namespace) -> str:
    out = getattr(args, "out", None)
    if args.command != "run" or out is None or not (Path(out) / "results").is_dir():
        return "interrupted: nothing was stored"
    from vaebench import store

    n = len(store.results_from_scan(store.scan_parts(out)))
    return (f"interrupted: {n} finished runs are kept in {out} (shards in flight are lost); "
            f"run the same command again to resume")
