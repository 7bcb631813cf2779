"""With a data directory a DynamoDB event keeps its place in the stream across runs of the stack,
as an event source mapping in AWS does: the next start goes on after the records delivered last
time (the tables and their streams come back from moto's journal), and a place the stream no
longer holds is said in one line and the mapping starts at its StartingPosition."""

from pathlib import Path

import pytest

from emulator.app.model import TableSpec
from emulator.dynamodb.service import DynamoDBService
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


def harness_on(
    services: DynamoDBService, runtime_dir: Path, work_dir: Path, segments: SegmentCollector
) -> Harness:
    return Harness(
        services.endpoint_url, write_recorder(work_dir / "recorder"), runtime_dir, work_dir, segments.address
    )


def test_the_next_run_goes_on_after_what_the_last_one_delivered(
    tmp_path: Path, lambda_runtime_dir: Path, segments: SegmentCollector
):
    data_dir = tmp_path / "data"
    with DynamoDBService([TABLE], region=REGION, data_dir=data_dir) as services:
        harness = harness_on(services, lambda_runtime_dir, tmp_path, segments)
        with harness.polling("changes", data_dir=data_dir) as first:
            harness.put("changes", "a")
            harness.put("changes", "b")
            first.wait_for("a and b", lambda run: run.delivered() == ["a", "b"])
        harness.put("changes", "c")  # written while no stack runs the mapping
    # A new moto from the same files (the stack started again): the stream is replayed.
    with DynamoDBService([TABLE], region=REGION, data_dir=data_dir) as services:
        harness = harness_on(services, lambda_runtime_dir, tmp_path, segments)
        with harness.polling("changes", data_dir=data_dir) as second:
            harness.put("changes", "d")
            second.wait_for("c and d", lambda run: {"c", "d"} <= set(run.delivered()))
    assert [key for batch in second.ids() for key in batch] == ["c", "d"]
    assert any("after the records delivered last time" in line for line in second.log_lines)


def test_a_place_the_stream_no_longer_holds_starts_again_at_the_starting_position(
    tmp_path: Path, lambda_runtime_dir: Path, segments: SegmentCollector
):
    data_dir = tmp_path / "data"
    with DynamoDBService([TABLE], region=REGION, data_dir=data_dir) as services:
        harness = harness_on(services, lambda_runtime_dir, tmp_path, segments)
        with harness.polling("changes", data_dir=data_dir) as first:
            harness.put("changes", "a")
            first.wait_for("a", lambda run: run.delivered() == ["a"])
        # The table made again: its stream starts over, the kept place is another change.
        harness.dynamodb.delete_table(TableName="changes")
        services.create_tables()
        harness.put("changes", "x")
        with harness.polling("changes", data_dir=data_dir) as second:
            second.wait_for("x", lambda run: run.delivered() == ["x"])
    assert second.ids() == [["x"]]
    gone = [line for line in second.log_lines if "is not in the stream of table 'changes' any more" in line]
    assert len(gone) == 1, second.log_lines
    assert gone[0].endswith(": starting at TRIM_HORIZON")
