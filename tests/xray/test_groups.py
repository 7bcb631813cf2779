"""X-Ray groups through boto3's xray client (and the AWS CLI) against a real local X-Ray."""

import json
import re
import subprocess
from typing import Any

import pytest

from emulator.xray.server import XRayServer
from tests.xray.xray_support import (
    DDB_FUNCTION,
    HELLO_FUNCTION,
    STAGE,
    aws_cli,
    fresh_trace,
    invalid_request,
    make_client,
    post,
    send_documents,
    window,
)

# The ARN shape of the AWS CLI's xray examples: arn:aws:xray:<region>:<account>:group/<name>/<id>.
GROUP_ARN = re.compile(r"arn:aws:xray:ap-northeast-1:\d{12}:group/(?P<name>[^/]+)/(?P<id>[A-Z2-7]+)")


def test_every_account_has_the_default_group(xray):
    groups = xray.get_groups()["Groups"]

    assert groups == [
        {
            "GroupName": "Default",
            "GroupARN": "arn:aws:xray:ap-northeast-1:000000000000:group/Default",
            "InsightsConfiguration": {"InsightsEnabled": False, "NotificationsEnabled": False},
        }
    ]
    assert xray.get_group(GroupName="Default")["Group"] == groups[0]
    assert xray.get_group(GroupARN=groups[0]["GroupARN"])["Group"] == groups[0]


def test_create_group_answers_the_group_and_get_group_finds_it_by_name_or_arn(xray):
    created = xray.create_group(
        GroupName="ddb-errors",
        FilterExpression='service("Demo") AND error',
        InsightsConfiguration={"InsightsEnabled": True},
        Tags=[{"Key": "team", "Value": "demo"}],
    )["Group"]

    match = GROUP_ARN.fullmatch(created["GroupARN"])
    assert match is not None and match["name"] == "ddb-errors"
    assert created == {
        "GroupName": "ddb-errors",
        "GroupARN": created["GroupARN"],
        "FilterExpression": 'service("Demo") AND error',
        "InsightsConfiguration": {"InsightsEnabled": True, "NotificationsEnabled": False},
    }
    assert xray.get_group(GroupName="ddb-errors")["Group"] == created
    assert xray.get_group(GroupARN=created["GroupARN"])["Group"] == created
    assert xray.get_group(GroupName="ddb-errors", GroupARN=created["GroupARN"])["Group"] == created
    assert [group["GroupName"] for group in xray.get_groups()["Groups"]] == ["Default", "ddb-errors"]


def test_a_group_without_a_filter_expression_has_none(xray):
    created = xray.create_group(GroupName="everything")["Group"]
    assert "FilterExpression" not in created


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"GroupName": "bad", "FilterExpression": "http.status >"}, "FilterExpression is not valid"),
        ({"GroupName": "bad", "FilterExpression": "nosuchkeyword = 3"}, "FilterExpression is not valid"),
        ({"GroupName": "Default"}, "reserved"),
        ({"GroupName": "has/slash"}, "letters, digits"),
        (
            {"GroupName": "bad", "InsightsConfiguration": {"NotificationsEnabled": True}},
            "InsightsEnabled",
        ),
    ],
)
def test_create_group_refuses_what_cannot_be_a_group_and_creates_nothing(xray, kwargs, complaint):
    assert complaint in invalid_request(xray.create_group, **kwargs)
    assert [group["GroupName"] for group in xray.get_groups()["Groups"]] == ["Default"]


def test_group_names_are_unique(xray):
    xray.create_group(GroupName="slow", FilterExpression="responsetime > 1")
    assert "already exists" in invalid_request(xray.create_group, GroupName="slow")


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({}, "GroupName is required"),
        ({"GroupName": ""}, "1 to 32"),
        ({"GroupName": "x" * 33}, "1 to 32"),
        ({"GroupName": 5}, "must be a string"),
        ({"GroupName": "ok", "Tags": [{"Key": "k"}]}, "Tags[0].Value"),
        ({"GroupName": "ok", "Tags": "team=demo"}, "Tags must be a list"),
        ({"GroupName": "ok", "InsightsConfiguration": {"InsightsEnabled": "yes"}}, "true or false"),
    ],
)
def test_badly_shaped_create_group_is_a_400_in_the_aws_error_shape(xray_server, body, complaint):
    status, headers, answer = post(xray_server, "/CreateGroup", body)

    assert (status, headers["x-amzn-ErrorType"]) == (400, "InvalidRequestException")
    assert complaint in answer["message"]


def test_update_group_changes_what_is_sent_and_keeps_the_rest(xray):
    arn = xray.create_group(
        GroupName="slow", FilterExpression="responsetime > 1", InsightsConfiguration={"InsightsEnabled": True}
    )["Group"]["GroupARN"]

    updated = xray.update_group(GroupARN=arn, FilterExpression="responsetime > 2")["Group"]

    assert updated == {
        "GroupName": "slow",
        "GroupARN": arn,
        "FilterExpression": "responsetime > 2",
        "InsightsConfiguration": {"InsightsEnabled": True, "NotificationsEnabled": False},
    }
    assert xray.get_group(GroupName="slow")["Group"] == updated
    notified = xray.update_group(GroupName="slow", InsightsConfiguration={"NotificationsEnabled": True})
    assert notified["Group"]["InsightsConfiguration"] == {
        "InsightsEnabled": True,
        "NotificationsEnabled": True,
    }
    assert notified["Group"]["FilterExpression"] == "responsetime > 2"


def test_update_group_refuses_a_bad_filter_and_keeps_the_old_one(xray):
    xray.create_group(GroupName="slow", FilterExpression="responsetime > 1")
    assert "FilterExpression is not valid" in invalid_request(
        xray.update_group, GroupName="slow", FilterExpression="responsetime >>"
    )
    assert xray.get_group(GroupName="slow")["Group"]["FilterExpression"] == "responsetime > 1"


def test_the_default_group_cannot_be_given_a_filter_or_deleted(xray):
    assert "cannot have a filter" in invalid_request(
        xray.update_group, GroupName="Default", FilterExpression="error"
    )
    assert "cannot be deleted" in invalid_request(xray.delete_group, GroupName="Default")
    assert [group["GroupName"] for group in xray.get_groups()["Groups"]] == ["Default"]


def test_delete_group_removes_it_and_a_new_group_of_that_name_gets_a_new_arn(xray):
    old_arn = xray.create_group(GroupName="slow", FilterExpression="responsetime > 1")["Group"]["GroupARN"]

    assert xray.delete_group(GroupName="slow")["ResponseMetadata"]["HTTPStatusCode"] == 200

    assert "does not exist" in invalid_request(xray.get_group, GroupName="slow")
    assert "does not exist" in invalid_request(xray.delete_group, GroupARN=old_arn)
    new_arn = xray.create_group(GroupName="slow")["Group"]["GroupARN"]
    assert new_arn != old_arn
    assert "does not exist" in invalid_request(xray.get_group, GroupARN=old_arn)


def test_a_name_and_an_arn_of_different_groups_are_refused(xray):
    xray.create_group(GroupName="one")
    other = xray.create_group(GroupName="two")["Group"]["GroupARN"]

    assert "different groups" in invalid_request(xray.get_group, GroupName="one", GroupARN=other)
    assert "different groups" in invalid_request(
        xray.update_group, GroupName="one", GroupARN=other, FilterExpression="error"
    )
    assert "GroupName or GroupARN is required" in invalid_request(xray.get_group)


def test_get_groups_refuses_a_next_token_it_never_issued(xray):
    assert "one page" in invalid_request(xray.get_groups, NextToken="abc")


def test_groups_are_kept_across_a_restart(db_path):
    with XRayServer(port=0, db_path=db_path) as server:
        created = make_client(server).create_group(GroupName="kept", FilterExpression="fault")["Group"]
    with XRayServer(port=0, db_path=db_path) as server:
        assert make_client(server).get_group(GroupName="kept")["Group"] == created


def test_the_service_graph_of_a_group_has_only_its_traces(xray_server, xray):
    send_documents(xray_server, fresh_trace("tutorial_hello_trace.json"))
    send_documents(xray_server, fresh_trace("tutorial_ddb_trace.json"))
    arn = xray.create_group(GroupName="ddb", FilterExpression='service("Demo")')["Group"]["GroupARN"]

    everything = {service["Name"] for service in xray.get_service_graph(**window())["Services"]}
    by_name = {service["Name"] for service in xray.get_service_graph(**window(), GroupName="ddb")["Services"]}
    by_arn = {service["Name"] for service in xray.get_service_graph(**window(), GroupARN=arn)["Services"]}
    default = {
        service["Name"] for service in xray.get_service_graph(**window(), GroupName="Default")["Services"]
    }

    assert HELLO_FUNCTION in everything
    assert by_name == by_arn == {STAGE, DDB_FUNCTION, "Demo"}
    assert default == everything
    assert "does not exist" in invalid_request(xray.get_service_graph, **window(), GroupName="nope")


def test_group_name_and_arn_in_a_filter_expression_apply_the_groups_filter(xray_server, xray):
    hello, ddb = fresh_trace("tutorial_hello_trace.json"), fresh_trace("tutorial_ddb_trace.json")
    send_documents(xray_server, hello + ddb)
    arn = xray.create_group(GroupName="ddb", FilterExpression='service("Demo")')["Group"]["GroupARN"]

    def ids(expression: str) -> set[str]:
        answer = xray.get_trace_summaries(**window(), FilterExpression=expression)
        return {summary["Id"] for summary in answer["TraceSummaries"]}

    assert ids('group.name = "ddb"') == {ddb[0]["trace_id"]}
    assert ids(f'group.arn = "{arn}"') == {ddb[0]["trace_id"]}
    assert ids('group.name = "Default"') == {hello[0]["trace_id"], ddb[0]["trace_id"]}
    assert ids('group.name != "ddb"') == {hello[0]["trace_id"]}
    assert "names no group" in invalid_request(
        xray.get_trace_summaries, **window(), FilterExpression='group.name = "nope"'
    )


def test_a_group_filter_may_name_another_group_but_not_itself(xray_server, xray):
    hello, ddb = fresh_trace("tutorial_hello_trace.json"), fresh_trace("tutorial_ddb_trace.json")
    send_documents(xray_server, hello + ddb)
    xray.create_group(GroupName="ddb", FilterExpression='service("Demo")')
    xray.create_group(GroupName="not-ddb", FilterExpression='!(group.name = "ddb")')

    graph = xray.get_service_graph(**window(), GroupName="not-ddb")
    assert {service["Name"] for service in graph["Services"]} == {STAGE, HELLO_FUNCTION}
    assert "refers to itself" in invalid_request(
        xray.update_group, GroupName="ddb", FilterExpression='group.name = "ddb"'
    )
    assert "names no group" in invalid_request(
        xray.create_group, GroupName="other", FilterExpression='group.name = "nope"'
    )


def test_the_aws_cli_creates_and_lists_groups(xray_server):
    aws, env = aws_cli()

    def run(*arguments: str) -> dict[str, Any]:
        result = subprocess.run(
            [str(aws), "xray", *arguments, "--endpoint-url", xray_server.api_url, "--output", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer

    # As the AWS CLI's example (awscli/examples/xray/create-group.rst), with this stack's names.
    created = run(
        "create-group", "--group-name", "AdminGroup", "--filter-expression", 'service("Demo") AND fault'
    )
    listed = run("get-groups")

    assert created["Group"]["GroupName"] == "AdminGroup"
    assert GROUP_ARN.fullmatch(created["Group"]["GroupARN"])
    assert [group["GroupName"] for group in listed["Groups"]] == ["Default", "AdminGroup"]
    assert listed["Groups"][1] == created["Group"]
