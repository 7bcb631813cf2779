"""The stream poller outlives a restart of moto (the stack restarts a moto that died, from its
journal with a data directory, with the tables created empty without one): no record delivered
twice, none written after the restart missed, and the failed reads said once, not silently."""

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.app.model import TableSpec
from emulator.dynamodb.service import DynamoDBService
from tests.dynamodb.test_durable_tables import wait_for_new_pid
from tests.stack_helpers import SegmentCollector
from tests.streams.streams_support import REGION, Harness, write_recorder

pytestmark = pytest.mark.slow

TABLE = TableSpec(
    "Changes",
    "changes",
    {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    },
)


def services_harness(
    services: DynamoDBService, lambda_runtime_dir: Path, tmp_path: Path, segments: SegmentCollector
) -> Harness:
    return Harness(
        endpoint_url=services.endpoint_url,
        code_dir=write_recorder(tmp_path / "recorder"),
        runtime_dir=lambda_runtime_dir,
        work_dir=tmp_path,
        segment_address=segments.address,
    )


@pytest.fixture(params=["with a data directory", "in memory"])
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DynamoDBService]:
    data_dir = tmp_path / "data" if request.param == "with a data directory" else None
    with DynamoDBService([TABLE], region=REGION, data_dir=data_dir) as running:
        yield running


def test_the_poller_goes_on_after_moto_restarts_without_repeating_or_missing_a_record(
    services: DynamoDBService, lambda_runtime_dir: Path, tmp_path: Path, segments: SegmentCollector
):
    harness = services_harness(services, lambda_runtime_dir, tmp_path, segments)
    with harness.polling("changes") as run:
        for key in ("a", "b", "c"):
            harness.put("changes", key)
        run.wait_for("a, b and c", lambda run: run.delivered() == ["a", "b", "c"])
        pid = services._moto.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_for_new_pid(services, pid)
        run.wait_for("the tables back", lambda run: "changes" in harness.dynamodb.list_tables()["TableNames"])
        harness.put("changes", "d")
        harness.put("changes", "e")
        run.wait_for("d and e", lambda run: {"d", "e"} <= set(run.delivered()))
    assert [key for batch in run.ids() for key in batch] == ["a", "b", "c", "d", "e"]
    failed = [line for line in run.log_lines if "reading the stream failed" in line]
    assert len(failed) == 1, run.log_lines
    assert any("reading the stream again after" in line for line in run.log_lines)
    anew = [line for line in run.log_lines if "was created anew" in line]
    # In memory, moto comes back with the table empty and its stream new: read from its start.
    assert len(anew) == (0 if services.data_dir is not None else 1), run.log_lines
