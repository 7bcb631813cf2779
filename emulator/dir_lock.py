"""An exclusive lock on a data directory, held for as long as the process lives.

flock(2) locks belong to the open file: the kernel releases them when the last process
holding the file ends, however it ends (SIGKILL included), so a crash never leaves a stale
lock behind, and no pid file has to be guessed about. The holder's pid is written into the
file only to name it in the message.
"""

import fcntl
import os
import time
from pathlib import Path
from typing import IO


class LockHeld(Exception):
    """Another process holds the lock; the message names it in one line."""


def hold_lock(path: Path, what: str, wait_seconds: float = 0.0) -> IO[str]:
    """Take the lock at `path`, waiting up to `wait_seconds`; keep the returned file open."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = open(path, "a+")  # noqa: SIM115 (held open for as long as the lock is wanted)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                lock.seek(0)
                holder = lock.read().strip() or "?"
                lock.close()
                raise LockHeld(f"{path.parent} is in use by {what} (pid {holder})") from None
            time.sleep(0.05)
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock
