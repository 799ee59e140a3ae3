"""The error shell of every command line (``python -m vaebench``, ``python -m analysis.report``,
``python -m analysis.conformance``): a user error is one line ``error: <message>`` on stderr, exit 2; Ctrl-C
one line saying what was kept, exit 130; an expected failure (e.g. a shard that failed on a cluster) one
line, exit 1; any other exception (a bug) one line too, exit 1, with the full traceback written to
:data:`ERROR_LOG` in the study directory (the temporary directory when there is none). No line is longer
than :data:`MAX_LINE` characters: echoed values are cut."""

from __future__ import annotations

import datetime
import sys
import tempfile
import tomllib
import traceback
from collections.abc import Callable
from pathlib import Path

MAX_LINE = 500  # characters of an error line; longer messages are cut
ERROR_LOG = "vaebench-error.log"
USER_ERRORS = (ValueError, OSError, tomllib.TOMLDecodeError, RecursionError)


def guarded(body: Callable[[], int | None], prog: str, *, interrupted: Callable[[], str],
            log_dir: Callable[[], str | Path | None], failures: tuple[type[BaseException], ...] = ()) -> int:
    """Run ``body`` (the command) and return its exit status (None: 0), every error as one line on
    stderr: :data:`USER_ERRORS` exit 2, ``failures`` exit 1, KeyboardInterrupt ``interrupted()`` and exit
    130, anything else exit 1 with its traceback logged in ``log_dir()`` (:func:`crash_line`)."""
    try:
        return body() or 0
    except KeyboardInterrupt:
        print(interrupted(), file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    except Exception as err:
        if isinstance(err, failures):
            print(f"error: {one_line(err)}", file=sys.stderr)
            return 1
        print(crash_line(err, log_dir(), prog), file=sys.stderr)
        return 1


def one_line(err: BaseException, limit: int = MAX_LINE) -> str:
    """The error's message on one line of at most ``limit`` characters (an OSError without its
    "[Errno N]" prefix; a RecursionError said in words)."""
    text = str(err)
    if isinstance(err, OSError) and err.strerror:
        text = err.strerror + (f": {err.filename!r}" if err.filename else "")
    if isinstance(err, RecursionError):
        text = "input nested too deeply to process"
    text = " ".join(text.split()) or type(err).__name__
    return text if len(text) <= limit else f"{text[:limit - 40]}... ({len(text):,} characters in all)"


def crash_line(err: BaseException, directory: str | Path | None, prog: str) -> str:
    """For an unexpected exception: write its full traceback to ``ERROR_LOG`` in ``directory`` (when that
    is a writable directory, else the temporary directory) and return the one line to show."""
    text = (f"--- {datetime.datetime.now().isoformat(timespec='seconds')} {prog} {' '.join(sys.argv[1:])}\n"
            + "".join(traceback.format_exception(err)))
    where = [Path(directory)] if directory and str(directory).strip() and Path(directory).is_dir() else []
    for folder in [*where, Path(tempfile.gettempdir())]:
        log = folder / ERROR_LOG
        try:
            with open(log, "a") as fh:
                fh.write(text)
            break
        except OSError:
            continue
    else:
        return f"error: internal error: {type(err).__name__}: {one_line(err, 300)} (no log could be written)"
    return (f"error: internal error: {type(err).__name__}: {one_line(err, 300)}; the full traceback is in "
            f"{log}; please report it")
