"""A real local X-Ray per test: free ports on 127.0.0.1, a fresh SQLite file, stopped after.

Fixtures for every folder whose tests read an X-Ray API (tests/xray, tests/console); each
folder's conftest.py imports them.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.xray.server import XRayServer
from tests.xray.xray_support import make_client


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


@pytest.fixture
def xray(xray_server: XRayServer) -> Any:
    """boto3's xray client against the local API."""
    return make_client(xray_server)
