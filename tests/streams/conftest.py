"""moto in a child process and the recording function, for the DynamoDB stream poller tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.dynamodb.moto_process import MotoProcess
from tests.stack_helpers import SegmentCollector
from tests.streams.streams_support import Harness, write_recorder


@pytest.fixture()
def segments() -> Iterator[SegmentCollector]:
    collector = SegmentCollector()
    yield collector
    collector.close()


@pytest.fixture()
def harness(
    shared_moto: MotoProcess, lambda_runtime_dir: Path, tmp_path: Path, segments: SegmentCollector
) -> Harness:
    return Harness(
        endpoint_url=shared_moto.endpoint_url,
        code_dir=write_recorder(tmp_path / "recorder"),
        runtime_dir=lambda_runtime_dir,
        work_dir=tmp_path,
        segment_address=segments.address,
    )
