"""A real local X-Ray per test: free ports on 127.0.0.1, a fresh SQLite file, stopped after."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from emulator.xray.server import XRayServer


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "xray" / "traces.db"


@pytest.fixture
def xray_server(db_path: Path) -> Iterator[XRayServer]:
    server = XRayServer(port=0, db_path=db_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def make_client(server: Any) -> Any:
    return boto3.client(
        "xray",
        endpoint_url=server.api_url,
        region_name="ap-northeast-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def xray(xray_server: XRayServer) -> Any:
    """boto3's xray client against the local API."""
    return make_client(xray_server)
