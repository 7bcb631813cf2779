"""The traces' facts computed in a process of its own, beside the daemon's writer.

Computing a trace's facts costs about twice what storing its document does (traces.py, then
the index's rows and summary). On the writer's thread they shared one GIL, and one core, with
parsing and storing documents: the daemon stored about 4,000 segments a second where the store
alone took 18,000. Here the writer only stores documents and marks their traces dirty; this
process computes the dirty traces from a read snapshot (WAL: it blocks no writer) and stores
the facts in a short transaction of its own (TraceStore.index_dirty). Queries still compute
whatever is dirty first (TraceStore.reader), so what they answer is the same either way.

The child stops when its standard input closes: when the parent stops it, and when the parent
dies without stopping it, so it never outlives the daemon it serves.
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from emulator.xray.store import TraceStore, WriteLockBusy

logger = logging.getLogger(__name__)

# With nothing dirty, the child looks again after this long: traces a burst left are computed
# within it, and an idle stack costs a query of an empty table this often.
IDLE_POLL_SECONDS = 0.05
# After an error (the file locked past SQLite's timeout, a bug), the child waits this long.
ERROR_PAUSE_SECONDS = 1.0
STOP_TIMEOUT_SECONDS = 10.0
# Added to the child's nice value (0-19, higher yields more): the writer first.
NICENESS = 10


class IndexerProcess:
    """Runs `python -m emulator.xray.indexer DB` while started; stop() ends it."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._child: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.poll() is None

    def start(self) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-m", __name__, str(self.db_path)], stdin=subprocess.PIPE
        )

    def stop(self) -> None:
        """Close its input (it finishes the batch it is computing and exits); kill it if it
        has not exited in STOP_TIMEOUT_SECONDS."""
        child, self._child = self._child, None
        if child is None:
            return
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("the X-Ray indexer did not stop in %.0f s: killed", STOP_TIMEOUT_SECONDS)
            child.kill()
            child.wait()


def run(store: TraceStore, stopping: threading.Event) -> None:
    """Compute dirty traces until `stopping` is set."""
    while not stopping.is_set():
        try:
            computed = store.index_dirty()
        except WriteLockBusy:
            # Not a trace's fault: computing every dirty trace in one go (below) would only
            # hold the lock longer. The traces stay dirty; the next batch tries again.
            logger.warning("X-Ray indexer: the write lock stayed taken; the batch is computed again")
            continue
        except Exception:
            # A trace whose facts cannot be computed would fail every batch it is in: the
            # writer's path computes what is dirty one trace at a time and leaves that one out.
            logger.exception("X-Ray indexer: a batch failed; computing the dirty traces one by one")
            try:
                store.refresh_index()
            except Exception:
                logger.exception("X-Ray indexer: the traces stay dirty; a query will retry")
            stopping.wait(ERROR_PAUSE_SECONDS)
            continue
        if computed == 0:
            stopping.wait(IDLE_POLL_SECONDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description=__doc__.splitlines()[0])
    parser.add_argument("db_path", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Ctrl-C reaches the whole process group: the parent stops this child (closing its input)
    # once the daemon's queue is stored, and a traceback here would only be noise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Behind the daemon's writer for the CPU: what it does not store in time is lost (its
    # queue is bounded), while facts computed late only wait (a query computes what is still
    # dirty first). On two cores the writer, the senders and this process competed evenly.
    os.nice(NICENESS)
    stopping = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.buffer.read()
        stopping.set()

    threading.Thread(target=wait_for_eof, name="xray-indexer-stdin", daemon=True).start()
    store = TraceStore(args.db_path)
    try:
        run(store, stopping)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
