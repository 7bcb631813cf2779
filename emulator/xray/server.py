"""The local X-Ray: daemon (UDP) + API (TCP) on one port number, over one trace store.

    python -m emulator.xray.server [--port 2000] [--db build/xray/traces.db]

Like the real daemon, the API listens on the TCP port with the UDP port's number, so
AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:PORT serves both the SDK's segments and its sampling polls.
"""

import argparse
import errno
import logging
import signal
import threading
from pathlib import Path

from emulator.xray.api import IDLE_TIMEOUT_SECONDS, MAX_CONNECTIONS, XRayApiServer
from emulator.xray.backend import XRayBackend
from emulator.xray.daemon import QUEUE_BYTES_LIMIT, Daemon
from emulator.xray.store import DEFAULT_DB_PATH, DEFAULT_MAX_DOCUMENTS, DEFAULT_RETENTION_SECONDS, TraceStore

logger = logging.getLogger(__name__)
SHUTDOWN_POLL_SECONDS = 0.05


class XRayServer:
    """Start with start(), stop with stop(); port 0 picks free ports (the same number if it can)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2000,
        db_path: Path = DEFAULT_DB_PATH,
        *,
        max_documents: int = DEFAULT_MAX_DOCUMENTS,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        region: str = "ap-northeast-1",
        api_idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        api_max_connections: int = MAX_CONNECTIONS,
        queue_bytes_limit: int = QUEUE_BYTES_LIMIT,
        index_process: bool = False,
    ) -> None:
        """index_process: the traces' facts computed in a child process (Daemon's option): what
        the stack's X-Ray process uses; tests start many servers and keep the one process."""
        self.host = host
        self.port = port
        self.db_path = Path(db_path)
        self.max_documents = max_documents
        self.retention_seconds = retention_seconds
        self.region = region
        # Bounds on the API's connections and the daemon's queue (tests make them small).
        self.api_idle_timeout = api_idle_timeout
        self.api_max_connections = api_max_connections
        self.queue_bytes_limit = queue_bytes_limit
        self.index_process = index_process
        self.store: TraceStore | None = None
        self._daemon: Daemon | None = None
        self._api: XRayApiServer | None = None
        self._api_thread: threading.Thread | None = None

    def start(self) -> None:
        if self.store is not None:
            raise RuntimeError("the X-Ray server is already running")
        self.store = TraceStore(
            self.db_path, max_documents=self.max_documents, retention_seconds=self.retention_seconds
        )
        backend = XRayBackend(self.store, region=self.region)
        try:
            self._daemon = Daemon(
                self.store,
                self.host,
                self.port,
                queue_bytes_limit=self.queue_bytes_limit,
                index_process=self.index_process,
            )
            udp_port = self._daemon.address[1]
            self._api = self._bind_api(backend, udp_port)
        except BaseException:
            self.stop()
            raise
        self._daemon.start()
        # A short poll: shutdown() waits for it, and every stop of the stack waits on that.
        self._api_thread = threading.Thread(
            target=self._api.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="xray-api",
            daemon=True,
        )
        self._api_thread.start()
        logger.info(
            "X-Ray daemon on udp %s, API on %s, store %s", self.daemon_address, self.api_url, self.db_path
        )

    def _bind_api(self, backend: XRayBackend, udp_port: int) -> XRayApiServer:
        if self.port != 0:
            return self._api_server(backend, self.port)
        # A free UDP port's number is usually free on TCP too; then one address serves both.
        try:
            return self._api_server(backend, udp_port)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            return self._api_server(backend, 0)

    def _api_server(self, backend: XRayBackend, port: int) -> XRayApiServer:
        return XRayApiServer(
            backend,
            self.host,
            port,
            idle_timeout=self.api_idle_timeout,
            max_connections=self.api_max_connections,
        )

    def stop(self) -> None:
        """Stop both listeners, store what the daemon had queued, close the store."""
        if self._api is not None:
            if self._api_thread is not None:
                self._api.shutdown()
                self._api_thread.join(timeout=5)
            self._api.server_close()
            self._api = None
            self._api_thread = None
        if self._daemon is not None:
            self._daemon.stop()
            self._daemon = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every datagram received so far is stored (tests, benchmarks)."""
        return self._running_daemon().wait_idle(timeout)

    @property
    def udp_port(self) -> int:
        return self._running_daemon().address[1]

    @property
    def tcp_port(self) -> int:
        if self._api is None:
            raise RuntimeError("the X-Ray server is not running")
        return self._api.server_address[1]

    @property
    def daemon_address(self) -> str:
        """For AWS_XRAY_DAEMON_ADDRESS: where the SDK sends segments (UDP)."""
        return f"{self.host}:{self.udp_port}"

    @property
    def api_url(self) -> str:
        """For boto3's endpoint_url and `aws --endpoint-url`."""
        return f"http://{self.host}:{self.tcp_port}"

    @property
    def accepted(self) -> int:
        """Datagrams stored since start."""
        return self._running_daemon().accepted

    @property
    def rejected(self) -> dict[str, int]:
        """Datagrams dropped since start, by kind (bad_header, bad_json, invalid_document, ...)."""
        return self._running_daemon().rejected

    @property
    def unsampled(self) -> int:
        """OTLP datagrams marked not sampled (T1U), received and not stored."""
        return self._running_daemon().unsampled

    @property
    def queued_bytes(self) -> int:
        """Bytes the daemon has received and not yet written."""
        return self._running_daemon().queued_bytes

    def _running_daemon(self) -> Daemon:
        if self._daemon is None:
            raise RuntimeError("the X-Ray server is not running")
        return self._daemon

    def __enter__(self) -> "XRayServer":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulator.xray.server", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--port", type=int, default=2000, help="UDP and TCP port (default 2000; 0 = any free)"
    )
    parser.add_argument(
        "--db", type=Path, default=DEFAULT_DB_PATH, help=f"trace store (default {DEFAULT_DB_PATH})"
    )
    parser.add_argument("--max-documents", type=int, default=DEFAULT_MAX_DOCUMENTS)
    parser.add_argument("--region", default="ap-northeast-1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    server = XRayServer(
        port=args.port,
        db_path=args.db,
        max_documents=args.max_documents,
        region=args.region,
        index_process=True,
    )
    try:
        server.start()
    except OSError as error:
        print(f"cannot start the local X-Ray on 127.0.0.1:{args.port}: {error.strerror or error}")
        return 1
    print(f"X-Ray daemon  udp://{server.daemon_address}   (AWS_XRAY_DAEMON_ADDRESS={server.daemon_address})")
    print(
        f"X-Ray API     {server.api_url}   (aws xray get-service-graph --endpoint-url {server.api_url} ...)"
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
