"""The X-Ray server in its own process, as the local stack runs it."""

import os
import random
import signal
import socket
import time

import pytest

from emulator.xray.process import XRayProcess
from tests.xray.xray_support import datagram, fresh_trace, make_client, send


def test_the_child_process_takes_segments_and_answers_the_api(db_path):
    documents = fresh_trace("tutorial_hello_trace.json")
    with XRayProcess(port=0, db_path=db_path) as xray:
        port = int(xray.daemon_address.rsplit(":", 1)[1])
        send(port, *(datagram(document) for document in documents))
        client = make_client(xray)
        deadline = time.monotonic() + 10
        while not (traces := client.batch_get_traces(TraceIds=[documents[0]["trace_id"]])["Traces"]):
            assert time.monotonic() < deadline, "the segments never reached the child's store"
            time.sleep(0.05)
        pid = xray.pid
    assert {segment["Id"] for segment in traces[0]["Segments"]} >= {documents[0]["id"]}
    assert pid is not None and xray.pid is None
    with pytest.raises(ProcessLookupError):  # stopped and reaped
        os.kill(pid, 0)


def test_a_busy_port_is_a_one_line_startup_error(db_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        xray = XRayProcess(port=port, db_path=db_path)
        with pytest.raises(OSError) as raised:
            xray.start()
    message = str(raised.value)
    assert message.startswith("X-Ray: ") and "\n" not in message
    assert xray.pid is None, "a failed start leaves no child behind"


def port_outside_the_ephemeral_range() -> int:
    """A free port (UDP and TCP) below Linux's ephemeral range: a port=0 port is in that range,
    and once its child dies any outgoing connection of the machine may take the number before
    the restart binds it again (seen once in CI: four tries, each EADDRINUSE)."""
    for port in random.sample(range(20000, 32000), 200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
            try:
                udp.bind(("127.0.0.1", port))
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port between 20000 and 32000")


def test_a_child_that_dies_is_restarted_on_its_port_and_stores_again(db_path):
    lines: list[str] = []
    with XRayProcess(port=port_outside_the_ephemeral_range(), db_path=db_path, log=lines.append) as xray:
        first_pid, address = xray.pid, xray.daemon_address
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        deadline = time.monotonic() + 30  # a restart is a new Python process: slow on a loaded machine
        while xray.pid in (None, first_pid):
            assert time.monotonic() < deadline, f"not restarted; said: {lines}"
            time.sleep(0.05)
        assert xray.daemon_address == address
        documents = fresh_trace("tutorial_hello_trace.json")
        send(int(address.rsplit(":", 1)[1]), *(datagram(document) for document in documents))
        client = make_client(xray)
        while not client.batch_get_traces(TraceIds=[documents[0]["trace_id"]])["Traces"]:
            assert time.monotonic() < deadline, "the restarted child stores nothing"
            time.sleep(0.05)
    assert lines[0] == "X-Ray exited (SIGKILL); restarting it"
