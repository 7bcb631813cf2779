"""The stack as a whole: one per data directory, a user's AWS_PROFILE never in the way."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from emulator.stack import Stack, StackConfig, StartupError
from tests.stack.test_stack_cli import ROOT, stack_args
from tests.stack_helpers import SegmentCollector


def config(template: Path, runtime_dir: Path, data_dir: Path, collector: SegmentCollector) -> StackConfig:
    return StackConfig(
        built_template=template,
        runtime_dir=runtime_dir,
        data_dir=data_dir,
        xray_daemon_address=collector.address,
    )


def test_a_second_stack_on_the_same_data_dir_is_refused_with_one_line(
    tutorial_app_template, lambda_runtime_dir, tmp_path
):
    collector = SegmentCollector()
    try:
        with Stack(config(tutorial_app_template, lambda_runtime_dir, tmp_path, collector)):
            second = Stack(config(tutorial_app_template, lambda_runtime_dir, tmp_path, collector))
            with pytest.raises(StartupError) as raised:
                second.start()
            assert second.dynamodb is None, "the refused stack started a part before refusing"
        # Once the first one has stopped, the directory is free again.
        with Stack(config(tutorial_app_template, lambda_runtime_dir, tmp_path, collector)) as third:
            assert third.dynamodb is not None
    finally:
        collector.close()
    message = str(raised.value)
    assert message == (
        f"{tmp_path} is in use by another local stack (pid {os.getpid()}); "
        "stop that one first, or give this one another --data-dir"
    )


def test_a_profile_that_does_not_exist_does_not_stop_the_stack(
    tutorial_app_template, lambda_runtime_dir, tmp_path
):
    env = {**os.environ, "AWS_PROFILE": "no-such-profile-anywhere", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", *stack_args(tutorial_app_template, tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        endpoints = tmp_path / "endpoints.json"
        deadline = time.monotonic() + 120
        while not endpoints.exists():
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "the stack did not start"
            time.sleep(0.05)
        url = json.loads(endpoints.read_text())["apigateway"]
        request = urllib.request.Request(f"{url}/ddb", data=b'{"key": "with-a-bad-profile"}', method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.loads(answer.read())["message"] == "succeeded"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(30) == 0
    assert process.stderr is not None
    assert "ProfileNotFound" not in process.stderr.read().decode()
