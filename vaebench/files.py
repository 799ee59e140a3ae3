"""Files of a study directory that everything writing one shares: the atomic write, the directory, the
lock, the temporary files a killed writer leaves (see :mod:`vaebench.store` for the layout)."""

from __future__ import annotations

import datetime
import os
import socket
import uuid
from pathlib import Path
from typing import Any

TMP_PREFIX = ".tmp-"


class StudyError(ValueError):
    """A study directory that cannot be used as asked (busy, corrupted, not a study, mismatched)."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temporary file beside it, fsync, ``os.replace``. On any
    failure (disk full, permissions, interrupt) the temporary file is removed and ``path`` is untouched;
    OSErrors are re-raised with the path in the message."""
    tmp = path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}-{path.name}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(err.errno, f"could not write {path}: {err.strerror or err}; files stored "
                                 f"before are intact") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def prepare_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` (and results/, runs/) if needed and check it is writable; OSError naming it
    otherwise."""
    if not str(out_dir).strip():
        raise ValueError(f"out = {str(out_dir)!r}: an empty path (an unset shell variable?); give the study "
                         f"directory")
    out = Path(out_dir)
    try:
        for sub in (out, out / "results", out / "runs"):
            sub.mkdir(parents=True, exist_ok=True)
        probe = out / f"{TMP_PREFIX}probe-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise OSError(err.errno, f"out = {str(out)!r}: cannot write the study there "
                                 f"({err.strerror or err})") from None
    return out


class StudyLock:
    """Exclusive lock of a study directory (``flock`` on ``DIR/.lock``), so one process writes a study
    at a time; a second one stops with a :class:`StudyError` naming the holder. The kernel releases it
    when the holder exits, killed or not. Local file systems only (flock is not reliable on NFS)."""

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / ".lock"
        self.fh: Any = None

    def __enter__(self) -> StudyLock:
        try:
            import fcntl
        except ImportError:
            raise OSError("study directories are locked with POSIX flock, which this system lacks") from None

        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise StudyError(f"out = {str(self.path.parent)!r}: the study is in use by {holder}; wait for it "
                             f"to finish or stop it, then run again") from None
        fh.seek(0)
        fh.truncate()
        now = datetime.datetime.now().isoformat(timespec="seconds")
        fh.write(f"vaebench pid {os.getpid()} on {socket.gethostname()} since {now}\n")
        fh.flush()
        self.fh = fh
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fh is not None:
            self.fh.close()  # closing the descriptor releases the flock
            self.fh = None


def clean_temp(out_dir: str | Path) -> int:
    """Remove temporary files left by a killed writer (call only while holding the lock)."""
    out = Path(out_dir)
    stale = list((out / "results").glob(f"{TMP_PREFIX}*")) + list((out / "runs").glob(f"*/{TMP_PREFIX}*"))
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)
