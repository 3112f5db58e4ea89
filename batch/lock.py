"""One run at a time on a warehouse: the nightly run and an erasure take this lock."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path


class AlreadyRunning(RuntimeError):
    pass


class RunLock:
    """An exclusive flock on a file; the file says who holds it. Dropped by the kernel when
    the holder exits, however it exits: a killed run leaves no lock behind."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, holder: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(self._describe_holder()) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(holder).encode())
        os.fsync(fd)
        self._fd = fd

    def _describe_holder(self) -> str:
        try:
            holder = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            holder = {}
        if not holder:
            return "another nightly run holds the lock"
        return (f"nightly run {holder.get('run_id')} (pid {holder.get('pid')} on {holder.get('host')}, "
                f"started {holder.get('started_at')}) is still going")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
