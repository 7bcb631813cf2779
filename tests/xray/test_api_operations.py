"""PutTelemetryRecords, GetInsightSummaries, GetSamplingRules and GetSamplingTargets through
boto3's xray client against a real local X-Ray: request and answer shapes as botocore's model."""

import time

import botocore.session
import pytest

from tests.xray.xray_support import invalid_request, post

CLIENT_ID = "0123456789abcdef01234567"  # SamplingStatisticsDocument.ClientID: 24 characters


def output_members(operation: str) -> set[str]:
    """The members botocore's xray model gives an operation's answer."""
    model = botocore.session.get_session().get_service_model("xray")
    shape = model.operation_model(operation).output_shape
    assert shape is not None
    return set(shape.members)


def test_every_new_operation_is_routed_where_botocores_model_sends_it(xray_server):
    model = botocore.session.get_session().get_service_model("xray")
    for operation in (
        "CreateGroup",
        "GetGroup",
        "GetGroups",
        "UpdateGroup",
        "DeleteGroup",
        "GetTimeSeriesServiceStatistics",
        "PutTelemetryRecords",
        "GetInsightSummaries",
        "GetSamplingRules",
        "GetSamplingTargets",
    ):
        http = model.operation_model(operation).http
        assert http["method"] == "POST"
        status, headers, _ = post(xray_server, http["requestUri"], {})
        # Reached the operation: at worst it says what the empty request lacks.
        assert headers.get("x-amzn-ErrorType") != "UnknownOperationException", operation
        assert status in (200, 400), operation


def test_put_telemetry_records_is_accepted_and_counted(xray_server, xray):
    now = time.time()
    answer = xray.put_telemetry_records(
        TelemetryRecords=[
            {
                "Timestamp": now,
                "SegmentsReceivedCount": 10,
                "SegmentsSentCount": 9,
                "SegmentsSpilloverCount": 0,
                "SegmentsRejectedCount": 1,
                "BackendConnectionErrors": {"TimeoutCount": 2, "HTTPCode5XXCount": 1},
            },
            {"Timestamp": now, "SegmentsSentCount": 3},
        ],
        Hostname="localhost",
        ResourceARN="arn:aws:lambda:ap-northeast-1:000000000000:function:sam-app-HelloWorldFunction",
    )

    assert set(answer) == {"ResponseMetadata"}  # PutTelemetryRecordsResult has no members
    assert output_members("PutTelemetryRecords") == set()
    telemetry = xray_server._api.services.telemetry
    assert telemetry.records == 2
    assert telemetry.totals["SegmentsSentCount"] == 12
    assert telemetry.totals["BackendConnectionErrors.TimeoutCount"] == 2


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({}, "TelemetryRecords is required"),
        ({"TelemetryRecords": [{}]}, "Timestamp is required"),
        ({"TelemetryRecords": [{"Timestamp": 1, "SegmentsSentCount": -1}]}, "SegmentsSentCount"),
        ({"TelemetryRecords": [{"Timestamp": 1, "BackendConnectionErrors": {"Nope": 1}}]}, "Nope"),
        ({"TelemetryRecords": [], "EC2InstanceId": "i-" + "0" * 30}, "EC2InstanceId"),
    ],
)
def test_put_telemetry_records_refuses_bad_records_and_counts_nothing(xray_server, body, complaint):
    status, headers, answer = post(xray_server, "/TelemetryRecords", body)

    assert (status, headers["x-amzn-ErrorType"]) == (400, "InvalidRequestException")
    assert complaint in answer["message"]
    assert xray_server._api.services.telemetry.records == 0


def test_get_insight_summaries_is_an_empty_list(xray):
    now = time.time()
    answer = xray.get_insight_summaries(StartTime=now - 3600, EndTime=now, States=["ACTIVE"], MaxResults=10)

    assert answer["InsightSummaries"] == []
    assert set(answer) - {"ResponseMetadata"} <= output_members("GetInsightSummaries")
    assert (
        xray.get_insight_summaries(StartTime=now - 60, EndTime=now, GroupName="Default")["InsightSummaries"]
        == []
    )


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"GroupName": "nope"}, "does not exist"),
        ({"NextToken": "abc"}, "one page"),
    ],
)
def test_get_insight_summaries_refuses_what_it_cannot_answer(xray, kwargs, complaint):
    now = time.time()
    assert complaint in invalid_request(xray.get_insight_summaries, StartTime=now - 60, EndTime=now, **kwargs)


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({}, "StartTime is required"),
        ({"StartTime": 1, "EndTime": 2, "States": ["OPEN"]}, "States"),
        ({"StartTime": 1, "EndTime": 2, "States": ["ACTIVE", "CLOSED"]}, "States"),
        ({"StartTime": 1, "EndTime": 2, "MaxResults": 0}, "MaxResults"),
    ],
)
def test_badly_shaped_insight_requests_are_400(xray_server, body, complaint):
    status, headers, answer = post(xray_server, "/InsightSummaries", body)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "InvalidRequestException")
    assert complaint in answer["message"]


def test_get_sampling_rules_answers_the_default_rule_in_the_models_shape(xray):
    answer = xray.get_sampling_rules()

    [record] = answer["SamplingRuleRecords"]
    rule = record["SamplingRule"]
    assert rule == {
        "RuleName": "Default",
        "RuleARN": "arn:aws:xray:ap-northeast-1:000000000000:sampling-rule/Default",
        "ResourceARN": "*",
        "Priority": 10000,
        "FixedRate": 0.05,
        "ReservoirSize": 1,
        "ServiceName": "*",
        "ServiceType": "*",
        "Host": "*",
        "HTTPMethod": "*",
        "URLPath": "*",
        "Version": 1,
        "Attributes": {},
    }
    assert set(record) == {"SamplingRule", "CreatedAt", "ModifiedAt"}
    assert "NextToken" not in answer
    assert "one page" in invalid_request(xray.get_sampling_rules, NextToken="abc")


def test_get_sampling_targets_answers_a_quota_for_the_default_rule(xray):
    answer = xray.get_sampling_targets(
        SamplingStatisticsDocuments=[
            {
                "RuleName": "Default",
                "ClientID": CLIENT_ID,
                "Timestamp": time.time(),
                "RequestCount": 10,
                "SampledCount": 2,
                "BorrowCount": 1,
            }
        ]
    )

    [target] = answer["SamplingTargetDocuments"]
    assert set(target) == {"RuleName", "FixedRate", "ReservoirQuota", "ReservoirQuotaTTL", "Interval"}
    assert (target["RuleName"], target["FixedRate"], target["ReservoirQuota"], target["Interval"]) == (
        "Default",
        0.05,
        1,
        10,
    )
    assert target["ReservoirQuotaTTL"].timestamp() > time.time()
    assert answer["UnprocessedStatistics"] == []
    assert set(answer) - {"ResponseMetadata"} <= output_members("GetSamplingTargets")


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ({"ClientID": "short"}, "ClientID must be 24 characters"),
        ({"RuleName": ""}, "RuleName must be 1 to 32"),
        ({"RequestCount": -1}, "RequestCount"),
        ({"BorrowCount": -1}, "BorrowCount"),
    ],
)
def test_sampling_statistics_outside_the_models_bounds_are_400(xray_server, document, complaint):
    valid = {
        "RuleName": "Default",
        "ClientID": CLIENT_ID,
        "Timestamp": 1,
        "RequestCount": 1,
        "SampledCount": 0,
    }
    status, headers, answer = post(
        xray_server, "/SamplingTargets", {"SamplingStatisticsDocuments": [{**valid, **document}]}
    )
    assert (status, headers["x-amzn-ErrorType"]) == (400, "InvalidRequestException")
    assert complaint in answer["message"]


def test_boost_statistics_are_left_unprocessed(xray_server):
    status, _, answer = post(
        xray_server,
        "/SamplingTargets",
        {
            "SamplingStatisticsDocuments": [],
            "SamplingBoostStatisticsDocuments": [
                {
                    "RuleName": "Default",
                    "ServiceName": "svc",
                    "Timestamp": 1,
                    "AnomalyCount": 0,
                    "TotalCount": 1,
                    "SampledAnomalyCount": 0,
                }
            ],
        },
    )
    assert status == 200
    assert [item["RuleName"] for item in answer["UnprocessedBoostStatistics"]] == ["Default"]
