"""Checkpoints of the moto process: its DynamoDB tables, CloudWatch Logs log groups and SQS
queues, pickled whole, so the journal can start again short.

Replaying a request through moto costs about 1 ms; unpickling an item about 15 µs. So the
moto process writes a checkpoint every few thousand writes and at start loads the newest one,
then replays only the journal files written after it: start time grows with the table by the
unpickling cost alone, and stop has nothing to write at all (the journal already is on disk).

The checkpoint is written by a fork of the moto process, taken while no request is being
applied: the fork sees one consistent state and pickles it while the parent goes on serving
(copy-on-write). `checkpoint-<n>.pickle` holds everything of the journal files before n; it is
written to a temporary name, fsynced and renamed, so a crash leaves the previous one whole.

Pickle is moto's own state as it is (tables, indexes, streams, TTL settings; log groups, their
streams and events); it is read only from the stack's own data directory, which only the user
writes. moto numbers log events from a class attribute, which pickling an object does not
keep: it is saved beside the backends and set again, so an event id is never given twice
(`aws logs tail --follow` tells events apart by it).

Format 1 (before CloudWatch Logs was kept) holds only DynamoDB and still loads.
"""

import contextlib
import os
import pickle
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from emulator.dynamodb.journal import fsync_directory, journal_numbers, journal_path, numbered_files
from emulator.sqs.journaling import capture_queues, restore_queues

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)


class CheckpointError(Exception):
    """A checkpoint exists but cannot be read; the message is one line."""


def checkpoint_path(directory: Path, number: int) -> Path:
    return directory / f"checkpoint-{number:06d}.pickle"


def checkpoint_numbers(directory: Path) -> list[int]:
    return numbered_files(directory, "checkpoint", ".pickle")


def _moto_version() -> str:
    import moto

    return str(moto.__version__)


def capture_state() -> dict[str, Any]:
    from moto.dynamodb.models import dynamodb_backends
    from moto.logs.models import LogEvent, logs_backends

    return {
        "format": FORMAT_VERSION,
        "moto": _moto_version(),
        "backends": _by_account_and_region(dynamodb_backends),
        "logs": _by_account_and_region(logs_backends),
        "next_log_event_id": LogEvent._event_id,
        "sqs": capture_queues(),
    }


def _by_account_and_region(backends: Any) -> dict[tuple[str, str], Any]:
    # Only the regions a request touched exist; moto makes the others on first use.
    return {
        (account, region): backend
        for account, regions in backends.items()
        for region, backend in regions.items()
    }


def restore_state(state: dict[str, Any]) -> None:
    from moto.dynamodb.models import dynamodb_backends
    from moto.logs.models import LogEvent, logs_backends

    for (account, region), backend in state["backends"].items():
        dynamodb_backends[account][region] = backend
    for (account, region), backend in state.get("logs", {}).items():
        logs_backends[account][region] = backend
    LogEvent._event_id = max(LogEvent._event_id, int(state.get("next_log_event_id", 0)))
    restore_queues(state.get("sqs", {}))


def write_checkpoint(directory: Path, number: int, state: dict[str, Any]) -> Path:
    target = checkpoint_path(directory, number)
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as file:
        pickle.dump(state, file, protocol=pickle.HIGHEST_PROTOCOL)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, target)
    fsync_directory(directory)
    return target


def load_latest(directory: Path) -> int:
    """Restore the newest checkpoint into moto; returns its number (0: none, start empty)."""
    numbers = checkpoint_numbers(directory)
    if not numbers:
        return 0
    number = numbers[-1]
    path = checkpoint_path(directory, number)
    state: Any = None
    try:
        with open(path, "rb") as file:
            state = pickle.load(file)
        if state.get("format") not in READABLE_FORMATS:
            raise ValueError(f"format {state.get('format')!r}, expected one of {READABLE_FORMATS}")
        restore_state(state)
    except Exception as error:  # whatever unpickling raises, the user needs the same one line
        written_by = state.get("moto", "?") if isinstance(state, dict) else "?"
        # Refused, not skipped: starting empty would lose every item the checkpoint holds.
        raise CheckpointError(
            f"cannot read {path} (written by moto {written_by}, this is moto {_moto_version()}): "
            f"{type(error).__name__}: {error}; move the data directory aside to start empty"
        ) from None
    return number


def remove_superseded(directory: Path, number: int) -> None:
    """Once checkpoint `number` is on disk, the journal files and checkpoints before it are not
    needed to recover."""
    for old in journal_numbers(directory):
        if old < number:
            journal_path(directory, old).unlink(missing_ok=True)
    for old in checkpoint_numbers(directory):
        if old < number:
            checkpoint_path(directory, old).unlink(missing_ok=True)
    for partial in directory.glob("checkpoint-*.pickle.partial"):
        partial.unlink(missing_ok=True)


class BackgroundCheckpoints:
    """Writes checkpoints from forks of this process, one at a time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._running: int | None = None  # the pid of the fork at work
        self._lock = threading.Lock()
        self.written = 0

    @property
    def busy(self) -> bool:
        return self._running is not None

    def start(self, number: int) -> bool:
        """Fork now (the caller holds the lock that keeps moto's state still); False if one is
        already being written."""
        with self._lock:
            if self._running is not None:
                return False
            pid = os.fork()
            if pid == 0:  # the fork: write, and leave without running the parent's cleanup
                _write_and_exit(self.directory, number)
            self._running = pid
        threading.Thread(target=self._wait, args=(pid, number), name="checkpoint-wait", daemon=True).start()
        return True

    def _wait(self, pid: int, number: int) -> None:
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) == 0:
            remove_superseded(self.directory, number)
            self.written += 1
        with self._lock:
            self._running = None

    def cancel(self) -> None:
        """Stop a checkpoint being written: the journal it would have replaced is still there,
        and a stop must not wait for a pickle that grows with the table."""
        with self._lock:
            pid = self._running
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _write_and_exit(directory: Path, number: int) -> None:
    code = 0
    try:
        write_checkpoint(directory, number, capture_state())
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        code = 1
    os._exit(code)
