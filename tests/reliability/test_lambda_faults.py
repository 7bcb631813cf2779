"""The Lambda side under faults, with real awslambdaric workers and real sockets: workers die
with the stack, unexpected exits are logged, MemorySize is enforced, function output is
bounded, and the Runtime API refuses what is not its runtime's."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.app.model import FunctionSpec
from emulator.lambda_.execution_environment import MAX_LINE_BYTES, OutputStream
from emulator.lambda_.runtime_api import RuntimeApiServer
from emulator.lambda_.service import LambdaService
from tests import process_table
from tests.conftest import REPO_ROOT
from tests.raw_http import raw_exchange, split_response

pytestmark = pytest.mark.slow

BASE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: no test may reach AWS
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
}

FUNCTIONS = {
    # Answers with its pid; with {"crash": n} exits with status n mid-invoke; with
    # {"pidfile": path} writes its pid there and sleeps for a minute.
    "pid": (
        "import os, pathlib, time\n\n"
        "def handler(event, context):\n"
        "    if event.get('crash'):\n"
        "        os._exit(event['crash'])\n"
        "    if event.get('pidfile'):\n"
        "        pathlib.Path(event['pidfile']).write_text(str(os.getpid()))\n"
        "        time.sleep(60)\n"
        "    return {'pid': os.getpid()}\n"
    ),
    # Starts a child process that outlives the invocation, writes its pid to {"pidfile": path}.
    "spawner": (
        "import pathlib, subprocess\n\n"
        "def handler(event, context):\n"
        "    child = subprocess.Popen(['sleep', '300'])\n"
        "    pathlib.Path(event['pidfile']).write_text(str(child.pid))\n"
        "    return {'child': child.pid}\n"
    ),
    # Holds {"mb": n} megabytes, touched, in 8 MB steps, as a growing list or cache would.
    "hog": (
        "def handler(event, context):\n"
        "    held = [b'x' * (8 * 1024 * 1024) for _ in range(event['mb'] // 8)]\n"
        "    return {'held_mb': 8 * len(held)}\n"
    ),
}


@pytest.fixture(scope="module")
def code_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("reliability-functions")
    for name, source in FUNCTIONS.items():
        (root / name).mkdir()
        (root / name / "app.py").write_text(source)
    return {name: root / name for name in FUNCTIONS}


def spec(code_dir: Path, *, memory_size: int = 256) -> FunctionSpec:
    return FunctionSpec(
        logical_id="Fn",
        function_name="sam-app-Fn-TEST0123",
        handler="app.handler",
        runtime="python3.11",
        code_dir=code_dir,
        timeout=10,
        memory_size=memory_size,
        environment={},
        tracing="PassThrough",
    )


@pytest.fixture()
def logs() -> list[str]:
    return []


@pytest.fixture()
def make_service(lambda_runtime_dir: Path, logs: list[str]) -> Iterator[Callable[..., LambdaService]]:
    services: list[LambdaService] = []

    def make(function: FunctionSpec) -> LambdaService:
        service = LambdaService(
            {"Fn": function},
            runtime_dir=lambda_runtime_dir,
            base_env=BASE_ENV,
            log=lambda _name, line: logs.append(line),
        )
        services.append(service)
        return service

    yield make
    for service in services:
        service.close()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return True
        pause.wait(0.02)
    return condition()


def payload(result: Any) -> dict[str, Any]:
    assert result.outcome == "success", result.payload
    return json.loads(result.payload)


# -- the stack dies: so do its workers -------------------------------------------------------

STACK_SCRIPT = """
import json, sys, threading
from pathlib import Path
from emulator.app.model import FunctionSpec
from emulator.lambda_.service import LambdaService

code_dir, runtime_dir = Path(sys.argv[1]), Path(sys.argv[2])
function = FunctionSpec(
    "Fn", "sam-app-Fn-TEST0123", "app.handler", "python3.11", code_dir, 10, 256, {}, "PassThrough"
)
service = LambdaService({"Fn": function}, runtime_dir=runtime_dir, base_env=json.loads(sys.argv[3]),
                        log=lambda name, line: None)
invoke = threading.Thread(target=service.invoke, args=("Fn", json.dumps({"pidfile": sys.argv[4]}).encode()))
invoke.start()
invoke.join()
print("idle", flush=True)
threading.Event().wait()
"""


def test_a_killed_stack_takes_its_workers_with_it(code_dirs, lambda_runtime_dir, tmp_path):
    pidfile = tmp_path / "worker.pid"
    command = [sys.executable, "-c", STACK_SCRIPT, str(code_dirs["pid"]), str(lambda_runtime_dir)]
    stack = subprocess.Popen([*command, json.dumps(BASE_ENV), str(pidfile)], cwd=REPO_ROOT)
    worker = 0
    try:
        # The worker is mid-invoke (its handler sleeps) when the stack is killed.
        assert wait_until(lambda: pidfile.exists() and pidfile.read_text() != "", 30)
        worker = int(pidfile.read_text())
        assert process_table.alive(worker)

        stack.kill()  # SIGKILL: no handler, no atexit, no close()
        stack.wait()

        # Before the lifeline the orphaned worker ran on, and spun on its broken Runtime API
        # connection once the handler returned.
        assert wait_until(lambda: not process_table.alive(worker), 2.0)
    finally:
        stack.kill()
        stack.wait()
        if worker:
            with contextlib.suppress(OSError):
                os.killpg(worker, signal.SIGKILL)


def test_a_killed_stack_takes_what_an_idle_function_started_with_it(code_dirs, lambda_runtime_dir, tmp_path):
    pidfile = tmp_path / "child.pid"
    command = [sys.executable, "-c", STACK_SCRIPT, str(code_dirs["spawner"]), str(lambda_runtime_dir)]
    stack = subprocess.Popen(
        [*command, json.dumps(BASE_ENV), str(pidfile)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    child = 0
    try:
        assert stack.stdout is not None and stack.stdout.readline() == "idle\n"
        child = int(pidfile.read_text())
        assert process_table.alive(child)

        stack.kill()  # the worker is idle, waiting for its next event
        stack.wait()

        # awslambdaric may see its Runtime API gone and exit before the lifeline thread acts;
        # the function's own child must go either way.
        assert wait_until(lambda: not process_table.alive(child), 2.0)
    finally:
        stack.kill()
        stack.wait()
        if child and process_table.alive(child):
            os.kill(child, signal.SIGKILL)


# -- a worker that dies by itself ------------------------------------------------------------


def unexpected_exits(logs: list[str]) -> list[str]:
    return [line for line in logs if "exited unexpectedly" in line]


def test_a_worker_killed_while_idle_is_logged_once_and_replaced(make_service, code_dirs, logs):
    service = make_service(spec(code_dirs["pid"]))
    pid = payload(service.invoke("Fn", b"{}"))["pid"]

    os.kill(pid, signal.SIGKILL)

    assert wait_until(lambda: bool(unexpected_exits(logs)))
    [line] = unexpected_exits(logs)
    assert "sam-app-Fn-TEST0123" in line and f"pid {pid}" in line and "signal: killed" in line
    result = service.invoke("Fn", b"{}")
    assert result.cold_start and payload(result)["pid"] != pid
    service.close()  # stopping workers ourselves is not news
    assert len(unexpected_exits(logs)) == 1


def test_a_worker_that_exits_mid_invoke_is_logged(make_service, code_dirs, logs):
    service = make_service(spec(code_dirs["pid"]))

    result = service.invoke("Fn", b'{"crash": 3}')

    assert result.outcome == "crash"
    assert wait_until(lambda: bool(unexpected_exits(logs)))
    [line] = unexpected_exits(logs)
    assert "exit status 3" in line


# -- MemorySize ------------------------------------------------------------------------------


def test_a_function_over_its_memory_size_is_killed_as_lambda_reports_it(make_service, code_dirs, logs):
    service = make_service(spec(code_dirs["hog"], memory_size=128))

    result = service.invoke("Fn", b'{"mb": 400}')

    assert result.outcome == "crash"
    error = json.loads(result.payload)
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"] == (
        f"RequestId: {result.request_id} Error: Runtime exited with error: signal: killed"
    )
    [report] = [line for line in logs if line.startswith(f"REPORT RequestId: {result.request_id}")]
    assert "\tMemory Size: 128 MB\tMax Memory Used: 128 MB" in report
    assert report.endswith("\tStatus: error\tError Type: Runtime.OutOfMemory")
    # The killed worker is replaced: the next call starts a new one, and fits.
    after = service.invoke("Fn", b'{"mb": 16}')
    assert after.cold_start and payload(after) == {"held_mb": 16}


def test_a_function_within_its_memory_size_is_left_alone(make_service, code_dirs, logs):
    service = make_service(spec(code_dirs["hog"], memory_size=256))

    first = service.invoke("Fn", b'{"mb": 64}')
    second = service.invoke("Fn", b'{"mb": 64}')

    assert payload(first) == payload(second) == {"held_mb": 64}
    assert not second.cold_start


# -- function output -------------------------------------------------------------------------


def emitted_lines(data: bytes) -> list[str]:
    """What OutputStream makes of `data` written to a worker's output pipe."""
    read_fd, write_fd = os.pipe()
    lines: list[str] = []
    stream = OutputStream(read_fd, lines.append)

    def write() -> None:
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(30)
    stream.join(30)
    return lines


def test_output_without_a_newline_is_emitted_in_lines_of_at_most_256_kib():
    text = "a" + "é" * (3 * MAX_LINE_BYTES // 2)  # 3 × 256 KiB + 1 byte, no newline until the end

    lines = emitted_lines(text.encode() + b"\nlast line\n")

    assert all(len(line.encode()) <= MAX_LINE_BYTES for line in lines)
    assert len(lines) == 5  # four pieces of the long line, then "last line"
    # No character is cut in two at a piece boundary.
    assert "".join(lines[:-1]) == text and "\ufffd" not in "".join(lines)
    assert lines[-1] == "last line"


def test_output_lines_and_a_last_line_without_newline_are_kept():
    assert emitted_lines(b"one\ntwo\r\nthree\rfour\nend") == ["one", "two", "three", "four", "end"]


# -- the Runtime API -------------------------------------------------------------------------


@pytest.fixture()
def make_runtime_api() -> Iterator[Callable[..., RuntimeApiServer]]:
    servers: list[RuntimeApiServer] = []

    def make(**options: Any) -> RuntimeApiServer:
        servers.append(RuntimeApiServer(**options))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


@pytest.fixture()
def runtime_api(make_runtime_api: Callable[..., RuntimeApiServer]) -> RuntimeApiServer:
    return make_runtime_api(max_connections=2)


def host_port(server: RuntimeApiServer) -> tuple[str, int]:
    host, port = server.address.split(":")
    return host, int(port)


def test_the_runtime_api_refuses_a_host_that_is_not_loopback(runtime_api):
    reply = raw_exchange(
        *host_port(runtime_api),
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: evil.example\r\n\r\n",
    )

    status_line, _, body, _ = split_response(reply)
    assert status_line == b"HTTP/1.1 403 Forbidden"
    assert json.loads(body)["errorType"] == "Forbidden"


def test_the_runtime_api_answers_a_malformed_request_line_with_400(runtime_api):
    status_line, _, _, _ = split_response(raw_exchange(*host_port(runtime_api), b"GARBAGE\r\n\r\n"))
    assert status_line == b"HTTP/1.1 400 Bad Request"


def test_the_runtime_api_closes_an_idle_connection(make_runtime_api):
    runtime_api = make_runtime_api(idle_timeout=0.3)
    with socket.create_connection(host_port(runtime_api), timeout=10) as connection:
        assert connection.recv(1) == b""  # closed by the server, not by our 10 s timeout


def test_the_runtime_api_refuses_connections_over_its_cap(runtime_api):
    address = host_port(runtime_api)
    held = [socket.create_connection(address, timeout=10) for _ in range(2)]
    try:
        status_line, _, body, _ = split_response(raw_exchange(*address, b""))
        assert status_line == b"HTTP/1.1 429 Too Many Requests"
        assert json.loads(body)["errorType"] == "TooManyRequestsException"
    finally:
        for connection in held:
            connection.close()
