"""The DynamoDB stream poller against a real moto and a real function (awslambdaric): the
records in Lambda's shape, in order, in batches, retried, bisected, partly failed, dropped.

The expected answers are the Lambda developer guide's: the example event of "Using AWS Lambda
with Amazon DynamoDB", services-ddb-params, services-dynamodb-errors and
services-ddb-batchfailurereporting.
"""

import json
import time
from typing import Any

import pytest

from emulator.app.errors import TemplateError
from tests.stack_helpers import SegmentCollector
from tests.streams.streams_support import REGION, Harness, Run

pytestmark = pytest.mark.slow


def all_delivered(*keys: str) -> Any:
    return lambda run: set(keys) <= set(run.delivered())


def test_records_arrive_in_the_shape_lambda_delivers(harness: Harness):
    table = harness.table("NEW_AND_OLD_IMAGES")
    with harness.polling(table) as run:
        harness.put(table, "1", key="value")
        harness.put(table, "1", key="updated")
        harness.dynamodb.delete_item(TableName=table, Key={"id": {"S": "1"}})
        run.wait_for("three records", lambda run: sum(len(batch) for batch in run.batches()) >= 3)
    records = [record for batch in run.batches() for record in batch]
    stream_arn = harness.stream_arn(table)
    assert [record["eventName"] for record in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records:
        assert list(record) == [
            "eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN",
        ]  # fmt: skip
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == REGION
        assert record["eventSourceARN"] == stream_arn
        assert len(record["eventID"]) == 32
        dynamodb = record["dynamodb"]
        assert isinstance(dynamodb["ApproximateCreationDateTime"], int)
        assert abs(dynamodb["ApproximateCreationDateTime"] - time.time()) < 600
        assert dynamodb["Keys"] == {"id": {"S": "1"}}
        assert dynamodb["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    insert, modify, remove = (record["dynamodb"] for record in records)
    assert "OldImage" not in insert and "NewImage" not in remove
    assert modify["OldImage"] == {"id": {"S": "1"}, "key": {"S": "value"}}
    assert modify["NewImage"] == {"id": {"S": "1"}, "key": {"S": "updated"}}
    # Names and values counted as an item's are: 3 for the keys, 13 the new image, 11 the old.
    assert modify["SizeBytes"] == 27
    assert insert["SizeBytes"] == 3 + 11
    numbers = [int(record["dynamodb"]["SequenceNumber"]) for record in records]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    assert list(insert) == ["ApproximateCreationDateTime", "Keys", "NewImage", "SequenceNumber", "SizeBytes",
                            "StreamViewType"]  # fmt: skip


def test_keys_only_streams_carry_no_images(harness: Harness):
    table = harness.table("KEYS_ONLY")
    with harness.polling(table) as run:
        harness.put(table, "k", key="value")
        run.wait_for("one record", all_delivered("k"))
    (record,) = run.batches()[0]
    assert record["dynamodb"]["StreamViewType"] == "KEYS_ONLY"
    assert "NewImage" not in record["dynamodb"] and "OldImage" not in record["dynamodb"]


def test_records_come_in_order_in_batches_of_batch_size(harness: Harness):
    table = harness.table()
    keys = [f"{i:02}" for i in range(25)]
    for key in keys:
        harness.put(table, key)
    with harness.polling(table, batch_size=10) as run:
        run.wait_for("25 records", all_delivered(*keys))
    assert run.ids() == [keys[:10], keys[10:20], keys[20:]]


def test_a_batching_window_gathers_records_written_one_after_another(harness: Harness):
    table = harness.table()
    with harness.polling(table, batch_size=10, batching_window_s=3) as run:
        for key in ("a", "b", "c"):
            harness.put(table, key)
        run.wait_for("a, b and c", all_delivered("a", "b", "c"))
    # Written within the window of the first: one invocation, not one per poll.
    assert run.ids() == [["a", "b", "c"]]


def test_a_full_batch_does_not_wait_for_its_window(harness: Harness):
    table = harness.table()
    for key in ("a", "b", "c"):
        harness.put(table, key)
    with harness.polling(table, batch_size=2, batching_window_s=300) as run:
        run.wait_for("the full batch", all_delivered("a", "b"))
    assert run.ids() == [["a", "b"]]


def test_latest_starts_after_what_was_written_before(harness: Harness):
    table = harness.table()
    harness.put(table, "before")
    with harness.polling(table, starting_position="LATEST") as run:
        harness.put(table, "after")
        run.wait_for("the record written after", all_delivered("after"))
    assert run.delivered() == ["after"]


def test_a_failed_batch_is_retried_and_holds_back_the_records_after_it(harness: Harness):
    table = harness.table()
    harness.put(table, "a")
    harness.put(table, "b", fail_times=2)
    with harness.polling(table, batch_size=2) as run:
        harness_put_later(harness, table, run, "c")
        run.wait_for("c", all_delivered("c"))
    # Two failures, then the same batch succeeds; only then is c read.
    assert run.ids() == [["a", "b"], ["a", "b"], ["a", "b"], ["c"]]
    assert sum("the function failed on 2 records" in line for line in run.log_lines) == 2


def harness_put_later(harness: Harness, table: str, run: Run, key: str) -> None:
    run.wait_for("the first try", lambda run: len(run.batches()) >= 1)
    harness.put(table, key)


def test_records_are_dropped_after_maximum_retry_attempts_with_one_line(harness: Harness):
    table = harness.table()
    harness.put(table, "poison", fail_times=1000)
    harness.put(table, "next")
    with harness.polling(table, batch_size=1, maximum_retry_attempts=1) as run:
        run.wait_for("next", all_delivered("next"))
    assert run.ids() == [["poison"], ["poison"], ["next"]]
    dropped = [line for line in run.log_lines if "dropped" in line]
    assert len(dropped) == 1
    assert dropped[0].startswith("RecorderFunction.Events.Changes: dropped 1 record (sequence numbers ")
    assert "after 2 failed attempts (error: RuntimeError)" in dropped[0]


def test_bisect_splits_a_failed_batch_until_the_bad_record_is_alone(harness: Harness):
    table = harness.table()
    for key in ("a", "b"):
        harness.put(table, key)
    harness.put(table, "poison", fail_times=1000)
    harness.put(table, "d")
    with harness.polling(table, batch_size=4, maximum_retry_attempts=0, bisect_on_error=True) as run:
        run.wait_for("d", all_delivered("d"))
    # A split is not a retry: with no retries at all, the halves are still tried.
    expected = [["a", "b", "poison", "d"], ["a", "b"], ["poison", "d"], ["poison"], ["d"]]
    assert run.ids() == expected, run.log_lines
    assert sum("split in two (BisectBatchOnFunctionError)" in line for line in run.log_lines) == 2
    assert sum("dropped 1 record" in line for line in run.log_lines) == 1


def test_report_batch_item_failures_retries_from_the_lowest_failed_record(harness: Harness):
    table = harness.table()
    harness.put(table, "a")
    harness.put(table, "b", fail_times=1)
    harness.put(table, "c", fail_times=1)
    harness.put(table, "d")
    with harness.polling(table, batch_size=4, report=True) as run:
        run.wait_for("a second try", lambda run: len(run.batches()) >= 2)
    assert run.ids() == [["a", "b", "c", "d"], ["b", "c", "d"]]


def test_batch_item_failures_are_ignored_without_report_batch_item_failures(harness: Harness):
    table = harness.table()
    harness.put(table, "a", fail_times=1)
    harness.put(table, "b")
    harness.put(table, "c")
    # The function names a in batchItemFailures, but the event does not ask for them: the
    # answer is a success like any other, and a is not tried again.
    with harness.polling(table, batch_size=2, function_reports=True) as run:
        run.wait_for("c", all_delivered("c"))
    assert run.ids() == [["a", "b"], ["c"]]


def test_a_disabled_event_is_not_polled(harness: Harness):
    table = harness.table()
    harness.put(table, "a")
    with harness.polling(table, enabled=False) as run:
        assert not run.polling
    assert run.batches() == []


def test_a_table_without_a_stream_stops_the_start_naming_the_event_and_the_table(harness: Harness):
    table = harness.table(view_type=None)
    message = rf"RecorderFunction.Events.Changes: table '{table}' has no stream"
    with pytest.raises(TemplateError, match=message), harness.polling(table):
        pass


def test_a_table_the_template_does_not_create_stops_the_start(harness: Harness):
    message = r"RecorderFunction.Events.Changes: .* table 'missing'"
    with pytest.raises(TemplateError, match=message), harness.polling("missing"):
        pass


def test_each_batch_is_a_new_trace_started_by_the_lambda_service(
    harness: Harness, segments: SegmentCollector
):
    table = harness.table()
    harness.put(table, "a")
    with harness.polling(table, batch_size=1) as run:
        run.wait_for("a", all_delivered("a"))
        harness.put(table, "b")
        run.wait_for("b", all_delivered("b"))
    services = wait_for_segments(segments, "AWS::Lambda", 2)
    assert len({document["trace_id"] for document in services}) == 2
    assert all("parent_id" not in document for document in services)
    for document in services:
        (function,) = segments.for_trace(document["trace_id"], origin="AWS::Lambda::Function")
        assert function["parent_id"] == document["id"]


def test_pass_through_tracing_records_nothing(harness: Harness, segments: SegmentCollector):
    table = harness.table()
    harness.put(table, "a")
    with harness.polling(table, tracing="PassThrough") as run:
        run.wait_for("a", all_delivered("a"))
    time.sleep(0.5)  # segments are sent right after the invoke; give any stray one time to land
    assert [d for d in segments.documents if d.get("origin", "").startswith("AWS::Lambda")] == []


def wait_for_segments(segments: SegmentCollector, origin: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while True:
        found = [d for d in segments.documents if d.get("origin") == origin]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_filter_criteria_skip_the_records_no_pattern_matches(harness: Harness):
    """The Lambda guide's DynamoDB filtering: only INSERTs whose NewImage has status Active reach
    the function; the others are skipped, and the records after them still come."""
    pattern = json.dumps({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["Active"]}}}})
    table = harness.table()
    harness.put(table, "a", status="Active")
    harness.put(table, "b", status="Inactive")
    harness.put(table, "a", status="Active", note="a MODIFY of a")
    harness.put(table, "c", status="Active")
    with harness.polling(table, batch_size=10, filter_patterns=(pattern,)) as run:
        run.wait_for("c", all_delivered("c"))
    assert [record["eventName"] for batch in run.batches() for record in batch] == ["INSERT", "INSERT"]
    assert [key for batch in run.ids() for key in batch] == ["a", "c"]
