"""Asynchronous invocations are acknowledged (202) only once durable: the stack is killed
(SIGKILL, every process of it) right after the Event invokes are answered, and the next stack on
the same data directory runs every one of them (here: each puts its key in the tutorial's table).
"""

import http.client
import json
import signal
import time

import pytest

from bench.soak import StackRun, keys_in_demo

pytestmark = pytest.mark.slow

EVENTS = 40
RUN_TIMEOUT_SECONDS = 90.0


def invoke_async(lambda_url: str, key: str) -> int:
    host, port = lambda_url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        body = json.dumps({"httpMethod": "POST", "path": "/ddb", "body": json.dumps({"key": key})})
        connection.request(
            "POST",
            "/2015-03-31/functions/SamDdbFunction/invocations",
            body=body,
            headers={"X-Amz-Invocation-Type": "Event", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_accepted_event_invokes_survive_a_kill_and_run_at_the_next_start(tutorial_app_template, tmp_path):
    build_dir = tutorial_app_template.parent
    first = StackRun(build_dir, tmp_path)
    keys = [f"async-{time.monotonic_ns()}-{n}" for n in range(EVENTS)]
    accepted = [key for key in keys if invoke_async(first.endpoints["lambda"], key) == 202]
    first.kill()  # SIGKILL to every process of the stack, at once: no stop, no flush
    assert len(accepted) == EVENTS
    first.endpoints_file.unlink()  # the killed stack could not remove it; the next one writes its own

    second = StackRun(build_dir, tmp_path)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        found: set[str] = set()
        while len(found) < len(accepted) and time.monotonic() < deadline:
            found = keys_in_demo(second.endpoints["dynamodb"], accepted)
            time.sleep(0.5)
        assert found == set(accepted), f"{len(accepted) - len(found)} of {len(accepted)} accepted events lost"
    finally:
        second.process.send_signal(signal.SIGTERM)
        try:
            second.process.wait(20)
        finally:
            second.kill()
