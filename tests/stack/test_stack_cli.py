"""`python -m emulator` as a user runs it: a real process, its output, its exit, its children."""

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import boto3
import pytest

from tests import process_table
from tests.stack_helpers import request

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (workers run in sessions of their own)."""
    parents = process_table.parents(include_zombies=False)
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


class Emulator:
    """`python -m emulator` in a subprocess, its stdout read line by line without blocking."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "emulator", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        self.stderr: IO[str] = self.process.stderr
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.output.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        stderr = self.stderr.read() if self.process.poll() is not None else ""
        raise AssertionError(
            f"no line matching {pattern!r}; output so far:\n{''.join(self.output)}\n{stderr}"
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def stack_args(built_template: Path, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--template", str(ROOT / "template.yaml"),
        "--build-dir", str(built_template.parent),
        "--port", "0", "--services-port", "0", "--xray-port", "0", "--console-port", "0",
        "--lambda-port", "0", "--endpoint-port", "0",
        "--xray-db", str(tmp_path / "traces.db"), "--data-dir", str(tmp_path / "dynamodb"),
        "--endpoints-file", str(tmp_path / "endpoints.json"),
        *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stack_serves_the_tutorial_and_stops_without_leaving_a_process(
    tutorial_app_template, lambda_runtime_dir, tmp_path, stop_signal
):
    emulator = Emulator(*stack_args(tutorial_app_template, tmp_path))
    try:
        url = emulator.wait_for(r"curl (http://127\.0\.0\.1:\d+)/hello").group(1)
        scan = emulator.wait_for(
            r"^\s*(\S.*aws dynamodb scan --table-name Demo --endpoint-url http://127\.0\.0\.1:\d+)$"
        )
        xray_api = emulator.wait_for(r"X-Ray API: (http://127\.0\.0\.1:\d+)").group(1)
        emulator.wait_for(r"make traces")
        console_url = emulator.wait_for(r"X-Ray console: (http://127\.0\.0\.1:\d+/)").group(1)
        endpoint = emulator.wait_for(r"export AWS_ENDPOINT_URL=(http://127\.0\.0\.1:\d+)$").group(1)
        emulator.wait_for(r"Ready\.")
        # What `make map`, `make traces` and `make console` read to find this stack on its free ports.
        endpoints = json.loads((tmp_path / "endpoints.json").read_text())
        assert endpoints["apigateway"] == url and endpoints["xray_api"] == xray_api
        assert endpoints["console"] == console_url and endpoints["endpoint"] == endpoint
        assert request("GET", url + "/hello").json() == {"message": "hello world"}
        # The console the local X-Ray serves passes the page's calls to this stack's X-Ray API.
        now = time.time()
        window = json.dumps({"StartTime": now - 600, "EndTime": now + 60}).encode()
        deadline = time.monotonic() + 15  # the request's segments arrive over UDP, a moment later
        while True:
            through_console = request("POST", console_url + "xray/ServiceGraph", body=window)
            direct = request("POST", xray_api + "/ServiceGraph", body=window)
            assert through_console.status == direct.status == 200
            names = [{s["Name"] for s in answer.json()["Services"]} for answer in (through_console, direct)]
            if ("sam-app/Prod" in names[1] and names[0] == names[1]) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert "sam-app/Prod" in names[1] and names[0] == names[1]
        page_module = request("GET", console_url + "map.js")
        assert page_module.status == 200 and "javascript" in (page_module.header("Content-Type") or "")
        assert request("POST", url + "/ddb", body=b'{"key": "from-the-cli-test"}').status == 200
        # The command the stack prints works as printed, with no AWS configuration of one's own.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        printed = subprocess.run(
            ["bash", "-c", scan.group(1)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert printed.returncode == 0, printed.stderr
        assert "from-the-cli-test" in printed.stdout
        children = descendants(emulator.process.pid)
        assert children, "the functions' workers should be running"

        emulator.process.send_signal(stop_signal)
        assert emulator.process.wait(timeout=STOP_TIMEOUT) == 0
        deadline = time.monotonic() + 5
        while any(process_table.alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in children if process_table.alive(pid)], (
            "a function process outlived the stack"
        )
        stderr = emulator.stderr.read()
        assert "Traceback" not in stderr, stderr
        assert not (tmp_path / "endpoints.json").exists(), "a stopped stack's endpoints were left behind"
    finally:
        emulator.kill()


def test_acknowledged_items_and_traces_survive_a_restart(tutorial_app_template, lambda_runtime_dir, tmp_path):
    key = f"kept-{os.getpid()}-{time.time_ns()}"
    for run in ("first", "second"):
        emulator = Emulator(*stack_args(tutorial_app_template, tmp_path))
        try:
            url = emulator.wait_for(r"curl (http://127\.0\.0\.1:\d+)/hello").group(1)
            endpoint = emulator.wait_for(r"DynamoDB \(moto\): (http://127\.0\.0\.1:\d+)").group(1)
            xray_api = emulator.wait_for(r"X-Ray API: (http://127\.0\.0\.1:\d+)").group(1)
            emulator.wait_for(r"Ready\.")
            xray = boto3.client("xray", endpoint_url=xray_api, region_name="ap-northeast-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
            dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="ap-northeast-1",
                                    aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
            if run == "first":
                response = request("POST", url + "/ddb", body=json.dumps({"key": key}).encode())
                assert response.status == 200
                stored = response.json()["CreateDate"]
                trace_id = response.required_header("X-Amzn-Trace-Id").split(";")[0].removeprefix("Root=")
                origins = wait_for_origins(xray, trace_id, {"AWS::ApiGateway::Stage", "AWS::DynamoDB::Table"})
            else:
                # A new moto process: the item came back from the journal.
                items = dynamodb.scan(TableName="Demo")["Items"]
                assert {"Key": {"S": key}, "CreateDate": {"S": stored}} in items
                # A new X-Ray process: the trace came back from its store, every segment of it.
                assert wait_for_origins(xray, trace_id, origins) == origins
            emulator.process.send_signal(signal.SIGINT)
            assert emulator.process.wait(timeout=STOP_TIMEOUT) == 0
        finally:
            emulator.kill()
    assert list((tmp_path / "dynamodb").glob("journal-*.log")), "the writes went to no journal"


def wait_for_origins(xray, trace_id: str, wanted: set[str]) -> set[str]:
    """The origins of the trace's stored segments, once they include `wanted` (UDP is asynchronous)."""
    deadline = time.monotonic() + 15
    while True:
        traces = xray.batch_get_traces(TraceIds=[trace_id])["Traces"]
        origins = {json.loads(s["Document"]).get("origin") for t in traces for s in t["Segments"]}
        if wanted <= origins or time.monotonic() > deadline:
            assert wanted <= origins, origins
            return origins
        time.sleep(0.1)


def run_to_exit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, pattern: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(pattern, lines[0]), lines[0]


@pytest.mark.parametrize("option", ["--port", "--services-port", "--xray-port"])
def test_busy_port_is_a_one_line_error_with_exit_2(
    tutorial_app_template, lambda_runtime_dir, tmp_path, option
):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = stack_args(tutorial_app_template, tmp_path)
        args[args.index(option) + 1] = str(port)
        result = run_to_exit(*args)
    assert_one_line_error(result, rf"port 127\.0\.0\.1:{port} is already in use")


def test_missing_build_says_to_build_first(tmp_path):
    result = run_to_exit("--build-dir", str(tmp_path / "nothing"), "--port", "0")
    assert_one_line_error(result, r"run `make build` \(or `sam build`\) first")


def test_stale_build_says_to_build_again(tmp_path):
    source = tmp_path / "template.yaml"
    build = tmp_path / "build"
    build.mkdir()
    (build / "template.yaml").write_text("Resources: {}\n")
    source.write_text("Resources: {}\n")
    stale = time.time() - 60
    os.utime(build / "template.yaml", (stale, stale))
    result = run_to_exit("--template", str(source), "--build-dir", str(build), "--port", "0")
    assert_one_line_error(result, r"is older than .*template\.yaml: run `make build`")


def test_broken_template_is_a_one_line_error(tmp_path):
    build = tmp_path / "build"
    build.mkdir()
    (build / "template.yaml").write_text("Resources:\n  Fn: [unclosed\n")
    result = run_to_exit(
        "--template", str(tmp_path / "absent.yaml"), "--build-dir", str(build), "--port", "0"
    )
    assert_one_line_error(result, r"cannot read the template")
