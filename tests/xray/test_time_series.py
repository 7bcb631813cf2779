"""GetTimeSeriesServiceStatistics through boto3's xray client against a real local X-Ray."""

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.xray.time_series import Node, Selector, SelectorError, parse_selector
from tests.xray.xray_support import DDB_FUNCTION, STAGE, fresh_trace, send_documents

# Every member Grafana's X-Ray data source reads from each entry's EdgeSummaryStatistics.
STATISTICS_MEMBERS = {"OkCount", "ErrorStatistics", "FaultStatistics", "TotalCount", "TotalResponseTime"}


def trace_ending_at(name: str, when: float) -> list[dict[str, Any]]:
    """A recorded trace, re-timed so that its last segment ends at `when`."""
    return fresh_trace(name, ago=time.time() - when)


@pytest.fixture
def minute() -> int:
    """The start of a whole minute a few minutes ago: traces are placed inside it and the next."""
    return (int(time.time()) // 60 - 3) * 60


@pytest.fixture
def stored(xray_server, minute) -> dict[str, list[dict[str, Any]]]:
    """Two /ddb requests in `minute` (one of them a fault) and one /hello in the minute after."""
    faulty = trace_ending_at("tutorial_ddb_trace.json", minute + 10)
    faulty[0]["fault"] = True  # the stage segment: a 5xx as API Gateway would record it
    traces = {
        "ddb": trace_ending_at("tutorial_ddb_trace.json", minute + 20),
        "faulty": faulty,
        "hello": trace_ending_at("tutorial_hello_trace.json", minute + 70),
    }
    send_documents(xray_server, [document for trace in traces.values() for document in trace])
    return traces


def series(xray: Any, minute: int, **kwargs: Any) -> list[dict[str, Any]]:
    answer = xray.get_time_series_service_statistics(StartTime=minute - 60, EndTime=minute + 180, **kwargs)
    assert answer["ContainsOldGroupVersions"] is False
    assert "NextToken" not in answer
    entries: list[dict[str, Any]] = answer["TimeSeriesServiceStatistics"]
    for entry in entries:
        assert set(entry) == {
            "Timestamp",
            "EdgeSummaryStatistics",
            "ServiceSummaryStatistics",
            "ResponseTimeHistogram",
        }
        assert set(entry["EdgeSummaryStatistics"]) == STATISTICS_MEMBERS
        assert set(entry["ServiceSummaryStatistics"]) == STATISTICS_MEMBERS
    return entries


def totals(entries: list[dict[str, Any]], member: str = "EdgeSummaryStatistics") -> list[tuple[float, int]]:
    return [(entry["Timestamp"].timestamp(), entry[member]["TotalCount"]) for entry in entries]


def test_with_no_selector_each_minute_has_the_clients_edge_statistics(xray, minute, stored):
    entries = series(xray, minute)

    assert totals(entries) == [(minute, 2), (minute + 60, 1)]
    first = entries[0]["EdgeSummaryStatistics"]
    assert first["FaultStatistics"] == {"OtherCount": 1, "TotalCount": 1}
    assert first["OkCount"] == 1
    assert first["ErrorStatistics"] == {"ThrottleCount": 0, "OtherCount": 0, "TotalCount": 0}
    assert first["TotalResponseTime"] == pytest.approx(2 * 0.312, abs=1e-3)


def test_a_service_selector_counts_that_service_only(xray, minute, stored):
    entries = series(xray, minute, EntitySelectorExpression='service("Demo")')

    assert totals(entries, "ServiceSummaryStatistics") == [(minute, 2)]
    assert totals(entries) == [(minute, 2)]
    assert sum(entry["Count"] for entry in entries[0]["ResponseTimeHistogram"]) == 2


def test_a_bare_name_adds_up_every_node_of_that_name_and_id_picks_one(xray, minute, stored):
    both = series(xray, minute, EntitySelectorExpression=f'service("{DDB_FUNCTION}")')
    one = series(
        xray, minute, EntitySelectorExpression=f'id(name: "{DDB_FUNCTION}", type: "AWS::Lambda::Function")'
    )

    # Two requests, each through the AWS::Lambda node and the AWS::Lambda::Function node.
    assert totals(both, "ServiceSummaryStatistics") == [(minute, 4)]
    assert totals(one, "ServiceSummaryStatistics") == [(minute, 2)]


def test_an_edge_selector_counts_the_calls_on_that_edge(xray, minute, stored):
    entries = series(
        xray,
        minute,
        EntitySelectorExpression=f'edge(id(name: "{DDB_FUNCTION}", type: "AWS::Lambda::Function"), "Demo")',
    )
    assert totals(entries) == [(minute, 2)]
    assert series(xray, minute, EntitySelectorExpression=f'edge("Demo", "{STAGE}")') == []


def test_a_longer_period_puts_both_minutes_in_one_entry(xray, minute, stored):
    # 300 s periods start on multiples of 300 s: both minutes fall in one unless they straddle one.
    entries = series(xray, minute, Period=300)
    expected = {(minute // 300) * 300: 0, ((minute + 60) // 300) * 300: 0}
    expected[(minute // 300) * 300] += 2
    expected[((minute + 60) // 300) * 300] += 1
    assert totals(entries) == sorted(expected.items())


def test_a_group_limits_the_statistics_to_its_traces(xray, minute, stored):
    xray.create_group(GroupName="ddb", FilterExpression='service("Demo")')

    assert totals(series(xray, minute, GroupName="ddb")) == [(minute, 2)]
    assert totals(series(xray, minute, GroupName="Default")) == [(minute, 2), (minute + 60, 1)]


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"EntitySelectorExpression": "service(Demo)"}, "EntitySelectorExpression is not valid"),
        ({"EntitySelectorExpression": 'edge("a")'}, "EntitySelectorExpression is not valid"),
        ({"EntitySelectorExpression": 'service("a") AND error'}, "EntitySelectorExpression is not valid"),
        ({"Period": 0}, "Period"),
        ({"Period": -60}, "Period"),
        ({"ForecastStatistics": True}, "ForecastStatistics"),
        ({"GroupName": "nope"}, "does not exist"),
        ({"NextToken": "abc"}, "one page"),
    ],
)
def test_what_cannot_be_answered_is_a_400_invalid_request(xray, kwargs, complaint):
    now = time.time()
    with pytest.raises(ClientError) as caught:
        xray.get_time_series_service_statistics(StartTime=now - 600, EndTime=now, **kwargs)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidRequestException"
    assert complaint in error["Error"]["Message"]


@pytest.mark.parametrize(
    ("expression", "selector"),
    [
        ('service("Demo")', Selector(Node("Demo"))),
        (
            'service(id(name: "Demo", type: "AWS::DynamoDB::Table"))',
            Selector(Node("Demo", "AWS::DynamoDB::Table")),
        ),
        ('id(type: "AWS::Lambda", name: "f")', Selector(Node("f", "AWS::Lambda"))),
        ('edge("a", id(name: "b"))', Selector(Node("b"), Node("a"))),
        ('SERVICE("quoted \\" name")', Selector(Node('quoted " name'))),
    ],
)
def test_parse_selector(expression, selector):
    assert parse_selector(expression) == selector


@pytest.mark.parametrize(
    "expression",
    ["", "service", 'service("a"', 'edge("a", "b", "c")', 'id(type: "x")', 'id(name: "a", name: "b")'],
)
def test_parse_selector_refuses(expression):
    with pytest.raises(SelectorError):
        parse_selector(expression)
