"""`python -m emulator.invoke` (`make invoke`), `sam local invoke` without Docker: a real process,
the real stack (its own, or one already running), the fixture app's functions."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_APP, ROOT
from tests.stack_helpers import running_stack

pytestmark = pytest.mark.slow


def local_invoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator.invoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_one_function_on_one_event_with_its_log_and_trace(fixture_app_template: Path, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"path": "/echo", "httpMethod": "GET", "hello": "invoke"}))
    done = local_invoke(
        "EchoFunction", "--event", str(event),
        "--template", str(FIXTURE_APP / "template.yaml"), "--build-dir", str(fixture_app_template.parent),
        "--data-dir", str(tmp_path / "dynamodb"), "--xray-db", str(tmp_path / "traces.db"),
        "--endpoints-file", str(tmp_path / "no-stack.json"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["event"]["hello"] == "invoke"
    assert "START RequestId: " in done.stderr and "REPORT RequestId: " in done.stderr
    assert "trace id: 1-" in done.stderr


def test_a_function_error_and_an_unknown_function(fixture_app_template: Path, tmp_path: Path) -> None:
    common = (
        "--template", str(FIXTURE_APP / "template.yaml"), "--build-dir", str(fixture_app_template.parent),
        "--data-dir", str(tmp_path / "dynamodb"), "--xray-db", str(tmp_path / "traces.db"),
        "--endpoints-file", str(tmp_path / "no-stack.json"),
    )  # fmt: skip
    failed = local_invoke("RaisesFunction", *common)
    assert failed.returncode == 0, failed.stderr  # as sam local invoke: the function ran
    assert json.loads(failed.stdout)["errorType"] == "DemoError"
    assert "function error: Unhandled" in failed.stderr
    unknown = local_invoke("NoSuchFunction", *common)
    assert unknown.returncode == 1
    assert "ResourceNotFoundException: Function not found" in unknown.stderr


def test_a_running_stack_is_used_when_there_is_one(
    fixture_app_template: Path, lambda_runtime_dir: Path, tmp_path: Path
) -> None:
    with running_stack(fixture_app_template, lambda_runtime_dir) as stack:
        endpoints = tmp_path / "endpoints.json"
        endpoints.write_text(json.dumps({"lambda": stack.stack.lambda_endpoint}))
        done = local_invoke("EchoFunction", "--endpoints-file", str(endpoints), "--build-dir", "/nonexistent")
        assert done.returncode == 0, done.stderr
        assert "running stack's Lambda" in done.stderr
        pid = json.loads(json.loads(done.stdout)["body"])["pid"]
        # The running stack's own worker answered: its log has the invocation.
        assert any(name == "EchoFunction" and line.startswith("REPORT") for name, line in stack.logs)
        assert pid > 0
