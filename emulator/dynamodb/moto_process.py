"""moto's server in a process of its own, as DynamoDB is a service of its own.

moto answers in Python; in the stack's process its CPU would take the GIL from the gateway
and the Runtime API on the request path, and its state (module-level backends) would outlive
one stack and leak into the next one started in the same process. A child process has
neither problem.

    python -m emulator.dynamodb.moto_process --port 0 --parent-pid 1234

The child binds, then prints one line, `ready <port>`, on stdout; a bind error is one line on
stderr and exit status 2. It stops on SIGTERM, and by itself when its parent is gone.
"""

import argparse
import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from emulator.loopback import HOST

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 5.0
# How often the child checks that the stack that started it is still there.
PARENT_CHECK_SECONDS = 0.5
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class MotoProcessError(Exception):
    """moto could not start; the message is one line."""


class MotoProcess:
    """Starts and stops the child; `endpoint_url` once started."""

    def __init__(self, host: str = HOST, port: int = 0) -> None:
        self.host = host
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", __name__, "--host", self.host, "--port", str(self.port)]
        command += ["--parent-pid", str(os.getpid())]
        # The child imports this module by name, from wherever the stack was started.
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")])),
        }
        # A session of its own: a signal to the terminal's process group (Ctrl-C, `kill -- -PGID`)
        # reaches the stack, which saves the tables before it stops this process, never the
        # other way round. If the stack dies, the child notices its parent is gone.
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
        )
        self._process = process
        assert process.stdout is not None and process.stderr is not None
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_SECONDS)
        line = process.stdout.readline().decode() if ready else ""
        if not line.startswith("ready "):
            process.kill()
            problem = process.stderr.read().decode(errors="replace").strip().splitlines()
            self.stop()
            reason = problem[-1] if problem else f"no answer within {START_TIMEOUT_SECONDS:.0f} s"
            raise MotoProcessError(f"DynamoDB (moto) did not start: {reason}")
        self.port = int(line.split()[1])
        # Whatever moto writes from now on (a warning, a traceback) goes where the stack's own
        # output goes; a pipe nobody read would fill up and block the child.
        for stream in (process.stdout, process.stderr):
            threading.Thread(target=_copy_lines, args=(stream,), name="moto-output", daemon=True).start()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _copy_lines(stream: IO[bytes]) -> None:
    with contextlib.suppress(ValueError, OSError):  # closed by stop()
        for line in stream:
            sys.stderr.write(f"[moto] {line.decode(errors='replace')}")


def _serve(host: str, port: int, parent_pid: int) -> int:
    # Imported here: the parent only starts this module as a program.
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    # Ctrl-C reaches every process of the terminal's group; the parent decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # werkzeug logs a line per request; the functions' calls would drown the terminal.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = DomainDispatcherApplication(create_backend_app)
    try:
        server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    except OSError as error:
        print(f"port {host}:{port}: {error.strerror or error}", file=sys.stderr, flush=True)
        return 2
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())

    def watch_parent() -> None:
        while not stopping.wait(PARENT_CHECK_SECONDS):
            if os.getppid() != parent_pid:  # the stack died without stopping us
                stopping.set()
        server.shutdown()

    threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()
    print(f"ready {server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description="moto's server for the stack")
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=0, help="0: any free port (default)")
    parser.add_argument("--parent-pid", type=int, default=os.getppid(), help="exit when this process is gone")
    args = parser.parse_args(argv)
    return _serve(args.host, args.port, args.parent_pid)


if __name__ == "__main__":
    sys.exit(main())
