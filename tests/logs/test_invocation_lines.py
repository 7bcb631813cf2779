"""invocation_events finds one invocation's lines by its request id: START to REPORT in its
stream, the function's own output included, nothing of the invocations around it."""

import pytest

from emulator.logs.invocation_lines import invocation_events
from emulator.logs.shipper import logs_client
from tests.logs.logs_support import (
    GROUP,
    REGION,
    event_messages,
    invocation,
    new_request_id,
    now_ms,
    stream_name,
    write_stream,
)


@pytest.fixture()
def group(request: pytest.FixtureRequest) -> str:
    # A group per test: the tests share one moto and must not see each other's lines.
    return f"{GROUP}/{request.node.name}"


def test_the_invocations_lines_and_only_them_even_within_one_millisecond(shared_moto, group):
    first, second, third = new_request_id(), new_request_id(), new_request_id()
    at = now_ms()
    lines = (
        invocation(first, "first's print")
        + invocation(second, "second's print", "[INFO]\tsecond's log record", "[ERROR] boom\nTraceback")
        + invocation(third, "third's print")
    )
    write_stream(shared_moto.endpoint_url, group, stream_name("a"), lines, at)

    events = invocation_events(logs_client(shared_moto.endpoint_url, REGION), group, second)

    assert event_messages(events) == invocation(
        second, "second's print", "[INFO]\tsecond's log record", "[ERROR] boom\nTraceback"
    )
    assert {event["logStreamName"] for event in events} == {stream_name("a")}
    assert all(event["timestamp"] == at for event in events)
    assert len({event["eventId"] for event in events}) == len(events)


def test_the_right_stream_among_several_environments(shared_moto, group):
    wanted, other = new_request_id(), new_request_id()
    at = now_ms()
    write_stream(shared_moto.endpoint_url, group, stream_name("a"), invocation(other, "from a"), at)
    write_stream(shared_moto.endpoint_url, group, stream_name("b"), invocation(wanted, "from b"), at)
    write_stream(
        shared_moto.endpoint_url, group, stream_name("a"), invocation(new_request_id(), "later in a"), at + 5
    )

    events = invocation_events(logs_client(shared_moto.endpoint_url, REGION), group, wanted)

    assert event_messages(events) == invocation(wanted, "from b")
    assert {event["logStreamName"] for event in events} == {stream_name("b")}


def test_an_invocation_without_report_yet_gives_its_lines_so_far(shared_moto, group):
    running = new_request_id()
    write_stream(
        shared_moto.endpoint_url,
        group,
        stream_name("c"),
        [f"START RequestId: {running} Version: $LATEST", "working"],
        now_ms(),
    )

    events = invocation_events(logs_client(shared_moto.endpoint_url, REGION), group, running)

    assert event_messages(events) == [f"START RequestId: {running} Version: $LATEST", "working"]


def test_a_lost_invocation_ends_where_the_next_one_starts(shared_moto, group):
    # Its worker was killed before REPORT; the environment's next START ends its window.
    lost, next_one = new_request_id(), new_request_id()
    lines = [f"START RequestId: {lost} Version: $LATEST", "half done", *invocation(next_one, "next")]
    write_stream(shared_moto.endpoint_url, group, stream_name("d"), lines, now_ms())

    events = invocation_events(logs_client(shared_moto.endpoint_url, REGION), group, lost)

    assert event_messages(events) == [f"START RequestId: {lost} Version: $LATEST", "half done"]


def test_an_unknown_request_id_gives_nothing(shared_moto, group):
    write_stream(
        shared_moto.endpoint_url, group, stream_name("e"), invocation(new_request_id(), "x"), now_ms()
    )

    assert invocation_events(logs_client(shared_moto.endpoint_url, REGION), group, new_request_id()) == []


def test_a_time_window_that_holds_the_start_finds_it_and_one_that_does_not_finds_nothing(shared_moto, group):
    request_id = new_request_id()
    at = now_ms() - 60_000
    write_stream(shared_moto.endpoint_url, group, stream_name("f"), invocation(request_id, "windowed"), at)
    client = logs_client(shared_moto.endpoint_url, REGION)

    found = invocation_events(client, group, request_id, start_time_ms=at - 1000, end_time_ms=at + 1000)
    missed = invocation_events(client, group, request_id, start_time_ms=at + 10_000, end_time_ms=at + 20_000)

    assert event_messages(found) == invocation(request_id, "windowed")
    assert missed == []
