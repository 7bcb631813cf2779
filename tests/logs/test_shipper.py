"""The log shipper against a real moto: lines land in their group and stream, in the order
they were put, with their timestamps; missing groups and streams are made; limits are kept;
lines put while moto is down are sent once it is back; close() sends what is buffered."""

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.dynamodb.moto_process import MotoProcess
from emulator.logs.shipper import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    LogLine,
    LogShipper,
    batches,
    logs_client,
    split_message,
)

REGION = "ap-northeast-1"
GROUP = "/aws/lambda/sam-app/HelloWorldFunction"
STREAM_A = "2026/11/30/[$LATEST]" + "a" * 32
STREAM_B = "2026/11/30/[$LATEST]" + "b" * 32


@pytest.fixture()
def make_shipper(moto: MotoProcess) -> Iterator[Any]:
    shippers: list[LogShipper] = []

    def make(**options: Any) -> LogShipper:
        shippers.append(LogShipper(lambda: logs_client(moto.endpoint_url, REGION), **options))
        return shippers[-1]

    yield make
    for shipper in shippers:
        shipper.close(timeout=5)


def client_of(moto: MotoProcess) -> Any:
    return logs_client(moto.endpoint_url, REGION)


def stream_events(moto: MotoProcess, group: str, stream: str) -> list[tuple[int, str]]:
    page = client_of(moto).get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    return [(event["timestamp"], event["message"]) for event in page["events"]]


def test_lines_land_in_their_streams_in_order_with_their_timestamps(moto, make_shipper):
    shipper = make_shipper()
    base = int(time.time() * 1000)
    for i in range(30):
        shipper.put(GROUP, STREAM_A if i % 2 == 0 else STREAM_B, f"line {i}", timestamp_ms=base + i)
    assert shipper.flush()

    assert stream_events(moto, GROUP, STREAM_A) == [(base + i, f"line {i}") for i in range(0, 30, 2)]
    assert stream_events(moto, GROUP, STREAM_B) == [(base + i, f"line {i}") for i in range(1, 30, 2)]
    assert shipper.dropped == 0


def test_a_clock_that_steps_back_keeps_the_order_the_lines_were_put_in(moto, make_shipper):
    shipper = make_shipper()
    base = int(time.time() * 1000)
    shipper.put(GROUP, STREAM_A, "START", timestamp_ms=base)
    shipper.put(GROUP, STREAM_A, "printed", timestamp_ms=base - 500)  # the clock went back
    shipper.put(GROUP, STREAM_A, "END", timestamp_ms=base + 1)
    assert shipper.flush()

    assert stream_events(moto, GROUP, STREAM_A) == [(base, "START"), (base, "printed"), (base + 1, "END")]


def test_a_missing_group_is_created_with_the_templates_retention(moto, make_shipper):
    shipper = make_shipper(retention_days={GROUP: 14})
    shipper.put(GROUP, STREAM_A, "first line")
    shipper.put("/aws/lambda/other", STREAM_A, "default group")
    assert shipper.flush()

    groups = {group["logGroupName"]: group for group in client_of(moto).describe_log_groups()["logGroups"]}
    assert groups[GROUP]["retentionInDays"] == 14
    assert "retentionInDays" not in groups["/aws/lambda/other"]  # never expire, as in AWS
    assert [message for _, message in stream_events(moto, "/aws/lambda/other", STREAM_A)] == ["default group"]


def test_an_existing_group_and_stream_are_used_as_they_are(moto, make_shipper):
    client = client_of(moto)
    client.create_log_group(logGroupName=GROUP)
    client.create_log_stream(logGroupName=GROUP, logStreamName=STREAM_A)
    client.put_log_events(
        logGroupName=GROUP,
        logStreamName=STREAM_A,
        logEvents=[{"timestamp": int(time.time() * 1000) - 1000, "message": "already there"}],
    )
    shipper = make_shipper(retention_days={GROUP: 14})
    shipper.put(GROUP, STREAM_A, "appended")
    assert shipper.flush()

    assert [message for _, message in stream_events(moto, GROUP, STREAM_A)] == ["already there", "appended"]
    # The group was not made again, so the retention the template gives is not forced on it.
    assert "retentionInDays" not in client.describe_log_groups()["logGroups"][0]


def test_a_line_over_256_kib_becomes_several_events_none_cutting_a_character(moto, make_shipper):
    shipper = make_shipper()
    text = "é" * MAX_EVENT_BYTES  # twice the limit in UTF-8 bytes
    shipper.put(GROUP, STREAM_A, text)
    assert shipper.flush()

    messages = [message for _, message in stream_events(moto, GROUP, STREAM_A)]
    assert len(messages) == 2
    assert all(len(message.encode()) <= MAX_EVENT_BYTES for message in messages)
    assert "".join(messages) == text


def test_lines_put_while_moto_is_down_are_sent_when_it_is_back(moto, make_shipper):
    shipper = make_shipper()
    shipper.put(GROUP, STREAM_A, "before")
    assert shipper.flush()
    old_pid = moto.pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)  # moto without a data directory comes back empty
    shipper.put(GROUP, STREAM_A, "while down")
    deadline = time.monotonic() + 30
    while moto.pid in (None, old_pid):
        assert time.monotonic() < deadline, "moto was not restarted"
        time.sleep(0.05)
    shipper.put(GROUP, STREAM_A, "after")
    assert shipper.flush(timeout=30)

    # The group and stream are made again in the new (empty) moto, and no line is lost.
    assert [message for _, message in stream_events(moto, GROUP, STREAM_A)] == ["while down", "after"]
    assert shipper.dropped == 0


def test_lines_cloudwatch_will_never_take_are_dropped_and_do_not_hold_up_the_rest(moto, make_shipper):
    said: list[str] = []
    shipper = make_shipper(log=said.append)
    refused_group = "/aws/lambda/" + "x" * 600  # over CloudWatch's 512 characters: never created
    shipper.put(refused_group, STREAM_A, "cannot go anywhere")
    shipper.put(GROUP, STREAM_A, "goes through")
    assert shipper.flush()

    assert [message for _, message in stream_events(moto, GROUP, STREAM_A)] == ["goes through"]
    assert shipper.dropped == 1
    assert len(said) == 1 and said[0].startswith("CloudWatch Logs refused 1 lines")


def test_close_sends_what_is_buffered(moto):
    shipper = LogShipper(lambda: logs_client(moto.endpoint_url, REGION), flush_interval=60)
    for i in range(100):
        shipper.put(GROUP, STREAM_A, f"line {i}")
    shipper.close()

    assert [message for _, message in stream_events(moto, GROUP, STREAM_A)] == [
        f"line {i}" for i in range(100)
    ]


def test_a_buffer_over_its_cap_drops_its_oldest_lines_and_counts_them():
    said: list[str] = []
    # Nothing listens on port 9: every send fails, so the buffer only grows.
    shipper = LogShipper(
        lambda: logs_client("http://127.0.0.1:9", REGION),
        max_buffered_bytes=10 * (EVENT_OVERHEAD_BYTES + 6),
        log=said.append,
    )
    try:
        for i in range(100, 130):
            shipper.put(GROUP, STREAM_A, f"line{i}")  # 7 characters + overhead each
        assert shipper.dropped > 0
        assert len(said) == 1 and "dropped" in said[0]
    finally:
        shipper.close(timeout=0.5)


# -- batches, without moto ------------------------------------------------------------------


def line(message: str, timestamp_ms: int = 0) -> LogLine:
    return LogLine(GROUP, STREAM_A, timestamp_ms, message)


def test_a_batch_holds_at_most_10000_events():
    cut = batches([line("x") for _ in range(MAX_BATCH_EVENTS + 1)])
    assert [len(batch) for batch in cut] == [MAX_BATCH_EVENTS, 1]


def test_a_batch_holds_at_most_1_mib_counting_26_bytes_an_event():
    message = "m" * (100 * 1024)
    cut = batches([line(message) for _ in range(11)])
    sizes = [sum(len(item.message) + EVENT_OVERHEAD_BYTES for item in batch) for batch in cut]
    assert all(size <= MAX_BATCH_BYTES for size in sizes)
    assert [len(batch) for batch in cut] == [10, 1]


def test_a_batch_spans_at_most_24_hours():
    day = 24 * 3600 * 1000
    cut = batches([line("a", 0), line("b", day), line("c", day + 1)])
    assert [[item.message for item in batch] for batch in cut] == [["a", "b"], ["c"]]


def test_split_message_keeps_short_messages_whole():
    assert split_message("short") == ["short"]
    assert split_message("") == [""]
