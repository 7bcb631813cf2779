"""The local X-Ray server in a process of its own, as the real daemon runs beside Lambda.

Parsing and storing segments costs CPU on every request; in the stack's own process it
would take the GIL from the gateway and the Runtime API on the request path. A child
process keeps that work off it, and a crash there cannot take the stack down.
"""

import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from emulator.xray.server import XRayServer
from emulator.xray.store import DEFAULT_DB_PATH

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
# How often the child checks that the stack that started it is still there.
PARENT_CHECK_SECONDS = 0.5


def _serve(options: dict[str, Any], replies: Connection, stop: Event, parent_pid: int) -> None:
    # A session of its own, as moto's: a signal to the terminal's process group (Ctrl-C,
    # `kill -- -PGID`) reaches only the stack, which stops this process in its own order.
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = XRayServer(**options)
    try:
        server.start()
    except Exception as error:  # reported to the parent as its one-line startup error
        replies.send(("error", type(error).__name__, str(error)))
        return
    try:
        replies.send(("ready", server.daemon_address, server.api_url))
        while not stop.wait(PARENT_CHECK_SECONDS):
            if os.getppid() != parent_pid:  # the stack died without stopping us
                break
    finally:
        server.stop()  # stores what the daemon had queued


class XRayProcess:
    """Same surface as XRayServer for the stack: start(), stop(), daemon_address, api_url."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2000,
        db_path: Path = DEFAULT_DB_PATH,
        **server_options: Any,
    ) -> None:
        self._options = {"host": host, "port": port, "db_path": Path(db_path), **server_options}
        self._context = multiprocessing.get_context("spawn")
        self._stop = self._context.Event()
        self._process: Any = None
        self.daemon_address = ""
        self.api_url = ""

    def start(self) -> None:
        replies, child_end = self._context.Pipe(duplex=False)
        self._process = self._context.Process(
            target=_serve, args=(self._options, child_end, self._stop, os.getpid()), name="xray", daemon=True
        )
        self._process.start()
        child_end.close()
        if not replies.poll(START_TIMEOUT_SECONDS):
            self.stop()
            raise OSError(f"the X-Ray server did not start within {START_TIMEOUT_SECONDS:.0f} s")
        try:
            reply = replies.recv()
        except EOFError:
            self.stop()
            raise OSError("the X-Ray server process exited while starting") from None
        if reply[0] == "error":
            self.stop()
            raise OSError(f"X-Ray: {reply[2]}")
        _, self.daemon_address, self.api_url = reply

    def stop(self) -> None:
        if self._process is None:
            return
        self._stop.set()
        self._process.join(STOP_TIMEOUT_SECONDS)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._process = None

    def __enter__(self) -> "XRayProcess":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
