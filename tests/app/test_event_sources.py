"""emulator.app.event_sources: the queues and the non-API events of a template, as SAM reads them
(the SAM event source pages: SQS, DynamoDB, Schedule, ScheduleV2), and every event type and
property the local stack does not act on named, never dropped silently."""

import json
import re
from typing import Any

import pytest

from emulator.app.errors import TemplateError
from emulator.app.event_sources import EventSourceSet, read_event_sources
from emulator.app.intrinsics import Resolver
from emulator.app.resource_names import physical_name

STACK = "sam-app"
REGION = "ap-northeast-1"
ACCOUNT = "123456789012"


def read(events: dict[str, Any], **resources: Any) -> EventSourceSet:
    document = {
        "Resources": {
            "Jobs": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 45}},
            "Items": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {"StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"}},
            },
            "Worker": {"Type": "AWS::Serverless::Function", "Properties": {"Events": events}},
            **resources,
        }
    }
    resolver = Resolver(document, stack_name=STACK, region=REGION, account_id=ACCOUNT)
    return read_event_sources(document["Resources"], {"Worker"}, resolver)


def test_a_queue_gets_the_name_and_arn_its_ref_and_getatt_resolve_to():
    found = read({}, Dead={"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "dead-letters"}})
    jobs = next(queue for queue in found.queues if queue.logical_id == "Jobs")
    assert jobs.queue_name == physical_name(STACK, "Jobs")
    assert jobs.arn == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{physical_name(STACK, 'Jobs')}"
    assert jobs.attributes == {"VisibilityTimeout": "45"}
    dead = next(queue for queue in found.queues if queue.logical_id == "Dead")
    assert dead.queue_name == "dead-letters"


def test_a_redrive_policy_becomes_the_json_createqueue_takes():
    found = read(
        {},
        Retried={
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["Jobs", "Arn"]},
                    "maxReceiveCount": 3,
                },
                "FifoQueue": True,
                "KmsMasterKeyId": "alias/aws/sqs",
            },
        },
    )
    retried = next(queue for queue in found.queues if queue.logical_id == "Retried")
    assert retried.attributes["FifoQueue"] == "true"
    assert '"maxReceiveCount": 3' in retried.attributes["RedrivePolicy"]
    assert physical_name(STACK, "Jobs") in retried.attributes["RedrivePolicy"]
    assert "Retried.KmsMasterKeyId (AWS::SQS::Queue): not applied locally" in found.ignored


def test_an_sqs_event_takes_lambda_s_defaults():
    found = read({"FromJobs": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["Jobs", "Arn"]}}}})
    (event,) = found.sqs_events
    assert (event.function, event.event_id) == ("Worker", "FromJobs")
    assert event.queue_arn.endswith(":" + physical_name(STACK, "Jobs"))
    assert (event.batch_size, event.batching_window_s, event.enabled) == (10, 0, True)
    assert event.report_batch_item_failures is False
    assert found.ignored == []


def test_an_sqs_event_s_settings_are_read_and_unknown_properties_named():
    properties = {
        "Queue": {"Fn::GetAtt": ["Jobs", "Arn"]},
        "BatchSize": 5,
        "MaximumBatchingWindowInSeconds": 2,
        "Enabled": False,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 2},
    }
    found = read({"FromJobs": {"Type": "SQS", "Properties": properties}})
    (event,) = found.sqs_events
    assert (event.batch_size, event.batching_window_s, event.enabled) == (5, 2, False)
    assert event.report_batch_item_failures is True
    assert found.ignored == ["Worker.Events.FromJobs.ScalingConfig: not emulated"]


def test_a_dynamodb_event_names_its_table_through_the_stream_arn():
    stream = {"Fn::GetAtt": ["Items", "StreamArn"]}
    found = read(
        {"Changes": {"Type": "DynamoDB", "Properties": {"Stream": stream, "StartingPosition": "LATEST"}}}
    )
    (event,) = found.stream_events
    assert event.table_name == physical_name(STACK, "Items")
    assert event.starting_position == "LATEST"
    assert (event.batch_size, event.maximum_retry_attempts, event.maximum_record_age_s) == (100, -1, -1)


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"StartingPosition": "LATEST"}, "Worker.Events.Changes: a DynamoDB event needs a Stream"),
        ({"Stream": "arn", "StartingPosition": "AT_TIMESTAMP"}, "must be TRIM_HORIZON or LATEST"),
        (
            {"Stream": "arn", "StartingPosition": "LATEST", "BatchSize": "many"},
            "BatchSize: not a whole number",
        ),
        (
            {"Stream": "arn", "StartingPosition": "LATEST", "FunctionResponseTypes": ["Everything"]},
            "the only type is ReportBatchItemFailures",
        ),
        ({"Stream": "arn", "StartingPosition": "LATEST", "Enabled": "sometimes"}, "must be true or false"),
    ],
)
def test_a_wrong_dynamodb_event_is_refused_with_where_it_is(properties, message):
    with pytest.raises(TemplateError, match=re.escape(message)):
        read({"Changes": {"Type": "DynamoDB", "Properties": properties}})


def test_schedule_events_and_their_state():
    found = read(
        {
            "Hourly": {
                "Type": "Schedule",
                "Properties": {"Schedule": "rate(1 hour)", "Input": '{"job": "sweep"}'},
            },
            "Off": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 day)", "Enabled": False}},
            "Tokyo": {
                "Type": "ScheduleV2",
                "Properties": {
                    "ScheduleExpression": "cron(0 9 * * ? *)",
                    "ScheduleExpressionTimezone": "Asia/Tokyo",
                },
            },
        }
    )
    by_id = {schedule.event_id: schedule for schedule in found.schedules}
    assert by_id["Hourly"].input == '{"job": "sweep"}' and by_id["Hourly"].enabled
    assert by_id["Off"].enabled is False
    assert by_id["Tokyo"].scheduler and by_id["Tokyo"].timezone == "Asia/Tokyo"
    assert by_id["Hourly"].timezone == "UTC" and not by_id["Hourly"].scheduler


def test_a_schedule_without_its_expression_is_refused():
    with pytest.raises(
        TemplateError, match=r"Worker\.Events\.Nightly: a ScheduleV2 event needs ScheduleExpression"
    ):
        read({"Nightly": {"Type": "ScheduleV2", "Properties": {"Schedule": "rate(1 day)"}}})


def test_an_event_type_not_delivered_locally_is_named_not_dropped():
    found = read({"Uploads": {"Type": "S3", "Properties": {"Bucket": {"Ref": "Bucket"}}}})
    assert found.ignored == [
        "Worker.Events.Uploads (S3 event): not delivered locally; invoke the function with "
        "`make invoke` or the Lambda Invoke API instead"
    ]


def test_api_events_are_left_to_the_api_reader():
    found = read({"Hello": {"Type": "Api", "Properties": {"Path": "/hello", "Method": "get"}}})
    assert (found.sqs_events, found.stream_events, found.schedules, found.ignored) == ([], [], [], [])


def test_filter_criteria_are_read_as_json_text_and_checked():
    queue = {"Fn::GetAtt": ["Jobs", "Arn"]}
    criteria = {
        "Filters": [{"Pattern": '{"body": {"RequestCode": ["BBBB"]}}'}, {"Pattern": {"body": ["ping"]}}]
    }
    found = read({"FromJobs": {"Type": "SQS", "Properties": {"Queue": queue, "FilterCriteria": criteria}}})
    (event,) = found.sqs_events
    assert [json.loads(pattern) for pattern in event.filter_patterns] == [
        {"body": {"RequestCode": ["BBBB"]}},
        {"body": ["ping"]},
    ]
    assert found.ignored == []  # acted on, so not named


def test_a_filter_pattern_lambda_would_refuse_stops_the_start():
    queue = {"Fn::GetAtt": ["Jobs", "Arn"]}
    criteria = {"Filters": [{"Pattern": '{"body": "BBBB"}'}]}
    with pytest.raises(
        TemplateError, match=r"Worker\.Events\.FromJobs\.FilterCriteria: .* is not a valid filter"
    ):
        read({"FromJobs": {"Type": "SQS", "Properties": {"Queue": queue, "FilterCriteria": criteria}}})
