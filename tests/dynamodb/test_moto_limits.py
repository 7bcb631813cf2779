"""moto's server stays bounded: idle connections are closed, and beyond its cap a connection
gets a 503 instead of a thread and a file descriptor."""

import json
import socket
import time
from collections.abc import Iterator

import pytest

from emulator.dynamodb.moto_process import Limits, MotoProcess
from tests.raw_http import split_response

CAP = 4


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoProcess]:
    process = MotoProcess(limits=Limits(idle_timeout=0.5, max_connections=CAP))
    process.start()
    yield process
    process.stop()


def connect(moto: MotoProcess) -> socket.socket:
    return socket.create_connection((moto.host, moto.port), timeout=10)


def list_tables(connection: socket.socket) -> bytes:
    body = b"{}"
    connection.sendall(
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n"
        b"Authorization: AWS4-HMAC-SHA256 "
        b"Credential=testing/20261130/ap-northeast-1/dynamodb/aws4_request\r\n"
        b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\n\r\n" + body
    )
    reply = b""
    while b"\r\n\r\n" not in reply or len(reply.partition(b"\r\n\r\n")[2]) < _length(reply):
        chunk = connection.recv(65536)
        if not chunk:
            break
        reply += chunk
    return reply


def _length(reply: bytes) -> int:
    head = reply.partition(b"\r\n\r\n")[0].decode("latin-1").lower()
    for line in head.split("\r\n"):
        if line.startswith("content-length:"):
            return int(line.split(":")[1])
    return 0


def test_an_idle_connection_is_closed(moto):
    with connect(moto) as connection:
        assert list_tables(connection).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert connection.recv(1) == b"", "the server kept the idle connection"
        assert time.monotonic() - started < 9


def test_beyond_the_cap_a_connection_gets_a_503_and_the_server_recovers(moto):
    held = [connect(moto) for _ in range(CAP)]
    try:
        for connection in held:  # each one served, and now idle on its thread
            assert list_tables(connection).startswith(b"HTTP/1.1 200")
        with connect(moto) as extra:
            status, headers, body, _ = split_response(list_tables(extra))
        assert status == b"HTTP/1.1 503 Service Unavailable"
        assert json.loads(body)["message"] == "too many open connections"
        assert headers["connection"] == "close"
    finally:
        for connection in held:
            connection.close()
    deadline = time.monotonic() + 10
    while True:  # the slots free as the server notices the closed connections
        with connect(moto) as connection:
            if list_tables(connection).startswith(b"HTTP/1.1 200"):
                break
        assert time.monotonic() < deadline, "the server never freed its slots"
        time.sleep(0.05)
