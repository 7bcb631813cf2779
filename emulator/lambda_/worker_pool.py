"""The execution environments of one function: reuse a warm one, start another while under
the concurrency limit, otherwise wait (bounded) for one to free up.

When the function's code is updated, `retire()` takes every environment of the old code out
of use at once, as Lambda does on UpdateFunctionCode: idle ones are stopped, busy ones finish
their request and are stopped then, and every request after it gets a new one."""

import threading
import time
from collections.abc import Callable

from emulator.lambda_.execution_environment import STOP_GRACE_SECONDS, Worker


class PoolClosed(Exception):
    pass


class WorkerPool:
    def __init__(self, start_worker: Callable[[], Worker], max_workers: int) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._start_worker = start_worker
        self._max_workers = max_workers
        self._cond = threading.Condition()
        self._idle: list[Worker] = []  # most recently used last: LIFO keeps few workers warm
        self._workers: set[Worker] = set()
        self._starting = 0  # slots reserved by workers being started
        # Bumped by retire(): a worker whose start began before it may run the old code.
        self._generation = 0
        self._retired: set[Worker] = set()  # busy workers of the old code, stopped on release
        self._closed = False

    def acquire(self, wait_seconds: float) -> Worker | None:
        """A worker all to the caller, or None if none freed up within wait_seconds."""
        deadline = time.monotonic() + wait_seconds
        while True:
            reserved = self._reserve(deadline)
            if reserved is None or isinstance(reserved, Worker):
                return reserved
            generation = reserved
            try:
                worker = self._start_worker()
            except BaseException:
                with self._cond:
                    self._starting -= 1
                    self._cond.notify()
                raise
            with self._cond:
                self._starting -= 1
                closed = self._closed
                # The code was updated while it started: it may have loaded the old code.
                current = generation == self._generation
                if current and not closed:
                    self._workers.add(worker)
                else:
                    self._cond.notify()
            if current and not closed:
                return worker
            worker.stop()
            if closed:
                raise PoolClosed

    def _reserve(self, deadline: float) -> Worker | int | None:
        """An idle worker; or a slot to start one in (the generation it starts under); or None
        once the deadline passes."""
        dead: list[Worker] = []
        try:
            with self._cond:
                while True:
                    if self._closed:
                        raise PoolClosed
                    while self._idle:
                        worker = self._idle.pop()
                        if worker.usable:
                            return worker
                        # It died while idle (killed from outside, say): make room for a new one.
                        self._workers.discard(worker)
                        dead.append(worker)
                    if len(self._workers) + self._starting < self._max_workers:
                        self._starting += 1
                        return self._generation
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._cond.wait(remaining)
        finally:
            # Stopping waits for the process: never while holding the pool's lock.
            for worker in dead:
                worker.stop()

    def release(self, worker: Worker, reusable: bool) -> None:
        """Give a worker back; one that timed out, crashed or failed init is stopped."""
        with self._cond:
            retired = worker in self._retired
            self._retired.discard(worker)
            keep = reusable and worker.usable and not self._closed and not retired
            if keep:
                self._idle.append(worker)
            else:
                self._workers.discard(worker)
            self._cond.notify()
        if not keep:
            worker.stop()

    def retire(self) -> int:
        """Take every worker of the current code out of use (the caller has already switched the
        starter to the new code): idle ones are stopped now, busy ones when released. They no
        longer count against the limit, so new requests start new workers at once. Returns how
        many were retired."""
        with self._cond:
            self._generation += 1
            idle = self._idle
            self._idle = []
            busy = self._workers.difference(idle)
            self._retired |= busy
            self._workers.clear()
            self._cond.notify_all()
        for worker in idle:
            worker.stop()
        return len(idle) + len(busy)

    def worker_count(self) -> int:
        with self._cond:
            return len(self._workers)

    def begin_close(self) -> list[Worker]:
        """Refuse new work and SIGTERM every worker; finish_close() waits for them."""
        with self._cond:
            self._closed = True
            workers = list(self._workers | self._retired)
            self._workers.clear()
            self._retired.clear()
            self._idle.clear()
            self._cond.notify_all()
        for worker in workers:
            worker.begin_stop()
        return workers


def finish_close(workers: list[Worker], grace: float = STOP_GRACE_SECONDS) -> None:
    deadline = time.monotonic() + grace
    for worker in workers:
        worker.finish_stop(deadline)
