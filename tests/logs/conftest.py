"""moto in a child process, as the stack runs it, for the CloudWatch Logs tests."""

from collections.abc import Iterator

import pytest

from emulator.dynamodb.moto_process import MotoProcess


def _running_moto() -> Iterator[MotoProcess]:
    process = MotoProcess()
    process.start()
    yield process
    process.stop()


@pytest.fixture()
def moto() -> Iterator[MotoProcess]:
    """A moto of the test's own (a test that kills it or needs it empty)."""
    yield from _running_moto()


@pytest.fixture(scope="module")
def shared_moto() -> Iterator[MotoProcess]:
    """One moto for the module; its tests keep apart by group or stream names."""
    yield from _running_moto()
