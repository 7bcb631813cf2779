"""Least privilege, read from the roles' policies in template.yaml."""

from typing import Any

import pytest

from tests.template_reader import Template, properties, resource

FUNCTIONS = ("HelloWorldFunction", "SamDdbFunction")
XRAY_WRITE_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
LOG_WRITE_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}

Statement = dict[str, Any]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def get_att_arn(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def role_of(template: Template, function_id: str) -> str:
    """The logical id of the role the function runs with (Role: !GetAtt <Role>.Arn)."""
    role = properties(template, function_id)["Role"]
    assert set(role) == {"Fn::GetAtt"} and role["Fn::GetAtt"][1] == "Arn", role
    return role["Fn::GetAtt"][0]


def log_group_of(template: Template, function_id: str) -> str:
    return properties(template, function_id)["LoggingConfig"]["LogGroup"]["Ref"]


def statements(template: Template, role_id: str) -> list[Statement]:
    """Every statement of the role's inline policies, with Action and Resource as lists."""
    found = []
    for policy in properties(template, role_id).get("Policies", []):
        for statement in as_list(policy["PolicyDocument"]["Statement"]):
            found.append(
                {
                    **statement,
                    "Action": as_list(statement["Action"]),
                    "Resource": as_list(statement["Resource"]),
                }
            )
    return found


def allowed(template: Template, role_id: str, prefix: str) -> list[tuple[str, Any]]:
    """(action, resource) pairs the role allows for one service prefix, e.g. "dynamodb"."""
    return [
        (action, res)
        for statement in statements(template, role_id)
        for action in statement["Action"]
        if action.startswith(f"{prefix}:")
        for res in statement["Resource"]
    ]


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_function_runs_with_its_own_role_and_no_sam_generated_policies(template: Template, function_id: str):
    function = properties(template, function_id)
    role_id = role_of(template, function_id)

    assert resource(template, role_id)["Type"] == "AWS::IAM::Role"
    # Policies on the function would make SAM generate a role and ignore these least-privilege ones.
    assert "Policies" not in function
    assert [role_of(template, other) for other in FUNCTIONS].count(role_id) == 1


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_role_has_no_managed_policies_and_only_lambda_may_assume_it(template: Template, function_id: str):
    role = properties(template, role_of(template, function_id))

    assert "ManagedPolicyArns" not in role
    assert "PermissionsBoundary" not in role
    (trust,) = as_list(role["AssumeRolePolicyDocument"]["Statement"])
    assert trust["Effect"] == "Allow"
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert as_list(trust["Action"]) == ["sts:AssumeRole"]


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_role_allows_only_named_actions(template: Template, function_id: str):
    for statement in statements(template, role_of(template, function_id)):
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement
        assert "NotResource" not in statement
        for action in statement["Action"]:
            assert "*" not in action, f"wildcard action {action}"


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_logs_only_to_its_own_log_group(template: Template, function_id: str):
    role_id = role_of(template, function_id)
    own_group = log_group_of(template, function_id)

    assert resource(template, own_group)["Type"] == "AWS::Logs::LogGroup"
    assert {action for action, _ in allowed(template, role_id, "logs")} == LOG_WRITE_ACTIONS
    resources = [res for _, res in allowed(template, role_id, "logs")]
    assert resources
    assert all(res == get_att_arn(own_group) for res in resources)


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_sends_traces_and_nothing_else_on_every_resource(template: Template, function_id: str):
    role_id = role_of(template, function_id)

    assert {action for action, _ in allowed(template, role_id, "xray")} == XRAY_WRITE_ACTIONS
    # X-Ray has no resource-level permissions: "*" is the only possible resource, and the only
    # actions allowed on "*" are these two.
    on_every_resource = {
        action
        for statement in statements(template, role_id)
        if "*" in statement["Resource"]
        for action in statement["Action"]
    }
    assert on_every_resource == XRAY_WRITE_ACTIONS


def test_ddb_function_may_only_put_items_into_the_demo_table(template: Template):
    role_id = role_of(template, "SamDdbFunction")

    assert allowed(template, role_id, "dynamodb") == [("dynamodb:PutItem", get_att_arn("DynamoTable"))]


def test_ddb_role_grants_no_other_services(template: Template):
    role_id = role_of(template, "SamDdbFunction")

    prefixes = {
        action.split(":")[0] for statement in statements(template, role_id) for action in statement["Action"]
    }
    assert prefixes == {"logs", "xray", "dynamodb"}


def test_hello_role_has_no_data_access(template: Template):
    role_id = role_of(template, "HelloWorldFunction")

    prefixes = {
        action.split(":")[0] for statement in statements(template, role_id) for action in statement["Action"]
    }
    assert prefixes == {"logs", "xray"}
