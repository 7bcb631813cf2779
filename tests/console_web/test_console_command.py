"""python -m console.web: prints the console's URL and serves the page there; finds the
running stack's endpoints in endpoints.json."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from console.web.__main__ import local_logs_endpoint, running_stack_console
from console.web.server import ConsoleServer
from emulator.loopback import free_port
from emulator.xray.server import XRayServer
from tests.conftest import ROOT
from tests.console_web.console_support import call, post_json
from tests.xray.xray_support import window


def test_prints_its_url_and_serves_the_page_and_the_api_there(xray_server: XRayServer):
    env = {**os.environ, "DISPLAY": ""}  # and no browser is opened
    process = subprocess.Popen(
        [sys.executable, "-m", "console.web", "--no-open", "--endpoint-url", xray_server.api_url],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("X-Ray console  http://127.0.0.1:"), line
        url = line.split()[2]
        page = call(url)
        assert page.status == 200
        assert b'<script type="module" src="app.js"></script>' in page.body
        # Every file the page names is served (no 404 in a user's console).
        for name in ("app.js", "style.css", "map.css", "favicon.svg"):
            assert call(url + name).status == 200, name
        assert post_json(url + "xray/TraceSummaries", window()).json()["TraceSummaries"] == []
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


def test_a_busy_port_is_one_line_and_exit_status_2(xray_server: XRayServer):
    result = subprocess.run(
        [sys.executable, "-m", "console.web", "--no-open", "--port", str(xray_server.tcp_port)],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot serve the console on 127.0.0.1:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_logs_come_from_the_stacks_logs_entry_else_its_moto_server(tmp_path: Path):
    endpoints = tmp_path / "endpoints.json"
    endpoints.write_text(
        json.dumps({"dynamodb": "http://127.0.0.1:5001", "xray_api": "http://127.0.0.1:2000"})
    )
    assert local_logs_endpoint(endpoints) == "http://127.0.0.1:5001"
    endpoints.write_text(json.dumps({"logs": "http://127.0.0.1:5002", "dynamodb": "http://127.0.0.1:5001"}))
    assert local_logs_endpoint(endpoints) == "http://127.0.0.1:5002"
    endpoints.write_text("not json")
    assert local_logs_endpoint(endpoints) is None
    assert local_logs_endpoint(tmp_path / "missing.json") is None


def test_the_running_stacks_own_console_is_found_only_when_it_answers(
    xray_server: XRayServer, tmp_path: Path
):
    endpoints = tmp_path / "endpoints.json"
    with ConsoleServer(xray_server.api_url, None) as console:
        endpoints.write_text(json.dumps({"console": console.url, "xray_api": xray_server.api_url}))
        assert running_stack_console(endpoints) == console.url
    # The stack stopped and left its file behind.
    assert running_stack_console(endpoints) is None
    endpoints.write_text(json.dumps({"console": f"http://127.0.0.1:{free_port()}/"}))
    assert running_stack_console(endpoints) is None
    endpoints.write_text(json.dumps({"console": None}))
    assert running_stack_console(endpoints) is None


def test_aws_without_credentials_is_one_line_and_exit_status_2(tmp_path: Path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path), AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "console.web", "--aws", "--no-open"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == "error: no AWS credentials found (aws configure, or AWS_PROFILE)\n"
    assert result.stdout == ""
