"""The local X-Ray server in a process of its own, as the real daemon runs beside Lambda.

Parsing and storing segments costs CPU on every request; in the stack's own process it
would take the GIL from the gateway and the Runtime API on the request path. A child
process keeps that work off it, a crash there cannot take the stack down, and the stack
restarts it (child_process.py).

    python -m emulator.xray.process --port 0 --db-path build/xray/traces.db [--console-port 0]

prints `ready <daemon address> <API url> <console url or ->` once all listen; a problem is one
line on stderr and exit status 2. With --console-port it also serves the X-Ray console (the
web page, console/web/) on that port, reading this API, and CloudWatch Logs at --logs-url.
"""

import argparse
import errno
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from console.web.server import ConsoleServer
from emulator.child_process import ChildProcess, ChildStartError, serve_until_stopped
from emulator.xray.server import XRayServer
from emulator.xray.store import DEFAULT_DB_PATH, DEFAULT_MAX_DOCUMENTS, DEFAULT_RETENTION_SECONDS


class XRayProcess:
    """Same surface as XRayServer for the stack: start(), stop(), daemon_address, api_url; and
    console_url when it serves the console (console_port is not None)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2000,
        db_path: Path = DEFAULT_DB_PATH,
        *,
        max_documents: int = DEFAULT_MAX_DOCUMENTS,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        region: str = "ap-northeast-1",
        console_port: int | None = None,
        logs_url: str | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.db_path = Path(db_path)
        self.console_port = console_port
        self._options = [
            f"--max-documents={max_documents}",
            f"--retention-seconds={retention_seconds}",
            f"--region={region}",
        ]
        if logs_url is not None:
            self._options.append(f"--logs-url={logs_url}")
        self._child = ChildProcess("X-Ray", __name__, self._arguments, log=log, on_restart=self._took)
        self.daemon_address = ""
        self.api_url = ""
        self.console_url: str | None = None

    @property
    def pid(self) -> int | None:
        return self._child.pid

    def _arguments(self) -> list[str]:
        where = [f"--host={self.host}", f"--port={self.port}", f"--db-path={self.db_path}"]
        if self.console_port is not None:
            where.append(f"--console-port={self.console_port}")
        return [*where, *self._options]

    def start(self) -> None:
        try:
            fields = self._child.start()
        except ChildStartError as error:
            raise OSError(f"X-Ray: {str(error).removeprefix('X-Ray did not start: ')}") from None
        self._took(fields)

    def _took(self, fields: list[str]) -> None:
        self.daemon_address, self.api_url = fields[0], fields[1]
        # The first start may have picked a free port; a restart keeps it (and the console's).
        self.port = int(self.daemon_address.rsplit(":", 1)[1])
        if fields[2] != "-":
            self.console_url = fields[2]
            self.console_port = int(fields[2].rstrip("/").rsplit(":", 1)[1])

    def stop(self) -> None:
        self._child.stop()

    def __enter__(self) -> "XRayProcess":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description="the stack's local X-Ray")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2000, help="UDP daemon and TCP API (0: any free port)")
    parser.add_argument("--db-path", type=Path, default=DEFAULT_DB_PATH)
    parser.add_argument("--max-documents", type=int, default=DEFAULT_MAX_DOCUMENTS)
    parser.add_argument("--retention-seconds", type=float, default=DEFAULT_RETENTION_SECONDS)
    parser.add_argument("--region", default="ap-northeast-1")
    parser.add_argument("--console-port", type=int, help="serve the X-Ray console here (0: any free port)")
    parser.add_argument("--logs-url", help="CloudWatch Logs for the console (the local moto)")
    args = parser.parse_args(argv)
    stopping = threading.Event()
    serve_until_stopped(stopping)
    server = XRayServer(
        args.host,
        args.port,
        args.db_path,
        max_documents=args.max_documents,
        retention_seconds=args.retention_seconds,
        region=args.region,
        index_process=True,
    )
    try:
        server.start()
    except Exception as error:  # whatever stopped it, the stack shows one line
        print(f"{error}", file=sys.stderr, flush=True)
        return 2
    console: ConsoleServer | None = None
    if args.console_port is not None:
        console = ConsoleServer(
            server.api_url, args.logs_url, host=args.host, port=args.console_port, region=args.region
        )
        try:
            console.start()
        except OSError as error:
            print(_console_error(error, args.console_port), file=sys.stderr, flush=True)
            server.stop()
            return 2
    try:
        print("ready", server.daemon_address, server.api_url, console.url if console else "-", flush=True)
        stopping.wait()
    finally:
        if console is not None:
            console.stop()
        server.stop()  # stores what the daemon had queued
    return 0


def _console_error(error: OSError, console_port: int) -> str:
    """The one line for a console that could not listen."""
    if error.errno == errno.EADDRINUSE:
        return f"the X-Ray console's port {console_port} is in use (--console-port 0 picks a free one)"
    return f"the X-Ray console could not listen on port {console_port}: {error.strerror or error}"


if __name__ == "__main__":
    sys.exit(main())
