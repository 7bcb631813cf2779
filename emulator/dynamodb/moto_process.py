"""moto's server in a process of its own, as DynamoDB is a service of its own.

moto answers in Python; in the stack's process its CPU would take the GIL from the gateway
and the Runtime API on the request path, and its state (module-level backends) would outlive
one stack and leak into the next one started in the same process. A child process has
neither problem, and the stack restarts it if it dies (child_process.py).

    python -m emulator.dynamodb.moto_process --port 0 [--data-dir build/dynamodb]

With a data directory the child takes its lock, loads the tables (checkpoint + journal,
durable_app.py) and journals every write before answering it. It then prints one line,
`ready <port> <checkpoint> <replayed> <refused> <seconds>`; a problem is one line on stderr and
exit status 2. It stops on SIGTERM, and by itself when the stack is gone.
"""

import argparse
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.child_process import ChildProcess, ChildStartError, serve_until_stopped
from emulator.connection_cap import ConnectionCap, answer_and_close
from emulator.dir_lock import LockHeld, hold_lock
from emulator.dynamodb.durable_app import CHECKPOINT_EVERY_WRITES
from emulator.loopback import HOST

# How long a new child waits for the data directory: a stack that was just killed leaves its
# moto child to notice that and exit (at once, through the lifeline), and a checkpoint being
# written (a fork of it) to finish.
LOCK_WAIT_SECONDS = 10.0
# Keep-alive connections nobody uses are closed after this long (the SDKs reconnect).
IDLE_TIMEOUT_SECONDS = 60.0
# Beyond this many open connections a new one is answered 503 and closed: a flood of idle
# connections must not take every file descriptor (and thread) of the process.
MAX_CONNECTIONS = 256
LOCK_FILE = "journal.lock"


@dataclass(frozen=True)
class Limits:
    """The child's tunables (tests shrink them); each is a command-line option of the child."""

    lock_wait: float = LOCK_WAIT_SECONDS
    checkpoint_every: int = CHECKPOINT_EVERY_WRITES
    idle_timeout: float = IDLE_TIMEOUT_SECONDS
    max_connections: int = MAX_CONNECTIONS

    def arguments(self) -> list[str]:
        return [f"--{name.replace('_', '-')}={value}" for name, value in vars(self).items()]


class MotoProcessError(Exception):
    """moto could not start; the message is one line."""


@dataclass
class Loaded:
    """What the child found in the data directory when it (re)started."""

    checkpoint: int = 0
    replayed: int = 0
    refused: int = 0
    seconds: float = 0.0

    @classmethod
    def from_fields(cls, fields: list[str]) -> "Loaded":
        if len(fields) < 4:
            return cls()
        return cls(int(fields[0]), int(fields[1]), int(fields[2]), float(fields[3]))


class MotoProcess:
    """Starts, watches and stops the child; `endpoint_url` once started."""

    def __init__(
        self,
        host: str = HOST,
        port: int = 0,
        data_dir: Path | None = None,
        *,
        log: Callable[[str], None] | None = None,
        on_restart: Callable[[], None] | None = None,
        limits: Limits = Limits(),
    ) -> None:
        self._limits = limits
        self.host = host
        self.port = port
        self.data_dir = data_dir
        self.loaded = Loaded()
        self._on_restart = on_restart
        self._child = ChildProcess(
            "DynamoDB (moto)", __name__, self._arguments, log=log, on_restart=self._restarted
        )

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._child.pid

    def _arguments(self) -> list[str]:
        arguments = ["--host", self.host, "--port", str(self.port), *self._limits.arguments()]
        if self.data_dir is not None:
            arguments += ["--data-dir", str(self.data_dir.resolve())]
        return arguments

    def start(self) -> None:
        try:
            fields = self._child.start()
        except ChildStartError as error:
            raise MotoProcessError(str(error)) from None
        self._took(fields)

    def _took(self, fields: list[str]) -> None:
        # The first start may have picked a free port; a restart keeps it.
        self.port = int(fields[0])
        self.loaded = Loaded.from_fields(fields[1:])

    def _restarted(self, fields: list[str]) -> None:
        self._took(fields)
        if self._on_restart is not None:
            self._on_restart()

    def stop(self) -> None:
        self._child.stop()


# -- the child -------------------------------------------------------------------------


def _make_server(host: str, port: int, app: Any, limits: Limits) -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import ThreadedWSGIServer

    class IdleClosingHandler(MotoRequestHandler):
        # socketserver applies it to the connection: an idle keep-alive read times out.
        timeout = limits.idle_timeout

    class CappedServer(ConnectionCap, ThreadedWSGIServer):
        max_connections = limits.max_connections

        def refuse_connection(self, connection: socket.socket) -> None:
            body = json.dumps(
                {
                    "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                    "message": "too many open connections",
                }
            )
            head = (
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/x-amz-json-1.0\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            answer_and_close(connection, (head + body).encode())

    return CappedServer(host, port, app, handler=IdleClosingHandler)


def _serve(host: str, port: int, data_dir: Path | None, limits: Limits) -> int:
    # Imported here: the parent only starts this module as a program.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from emulator.dynamodb.browser_guard import BrowserGuard
    from emulator.dynamodb.checkpoint import CheckpointError
    from emulator.dynamodb.durable_app import DurableDynamoDB

    stopping = threading.Event()
    serve_until_stopped(stopping)
    # werkzeug logs a line per request; the functions' calls would drown the terminal.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        # Two processes appending to one journal would interleave their tables. The lock is
        # held as long as this process and a checkpoint fork of it live.
        lock = (
            hold_lock(data_dir / LOCK_FILE, "another local DynamoDB", limits.lock_wait)
            if data_dir is not None
            else None
        )
    except (LockHeld, OSError) as error:
        print(str(error), file=sys.stderr, flush=True)
        return 2
    durable = DurableDynamoDB(
        DomainDispatcherApplication(create_backend_app), data_dir, checkpoint_every=limits.checkpoint_every
    )
    try:
        server = _make_server(host, port, BrowserGuard(durable), limits)
    except OSError as error:
        print(f"port {host}:{port}: {error.strerror or error}", file=sys.stderr, flush=True)
        return 2
    try:
        recovery = durable.recover()
    except (CheckpointError, OSError) as error:
        print(str(error), file=sys.stderr, flush=True)
        return 2

    def stop_when_asked() -> None:
        stopping.wait()
        server.shutdown()

    threading.Thread(target=stop_when_asked, name="stop-watch", daemon=True).start()
    print("ready", server.server_address[1], *recovery.ready_fields(), flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        durable.close()
        if lock is not None:
            lock.close()
    # Everything is on disk: freeing moto's tables one object at a time (seconds at 100k
    # items) would only make the stop wait.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description="moto's server for the stack")
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=0, help="0: any free port (default)")
    parser.add_argument("--data-dir", type=Path, help="journal and checkpoints (default: memory only)")
    defaults = Limits()
    for name, value in vars(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    limits = Limits(**{name: getattr(args, name) for name in vars(defaults)})
    return _serve(args.host, args.port, args.data_dir, limits)


if __name__ == "__main__":
    sys.exit(main())
