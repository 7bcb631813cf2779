"""Least privilege, read from the roles' policies in template.yaml."""

import pytest

from tests.template.role_policies import (
    allowed,
    as_list,
    functions_with_own_role,
    get_att_arn,
    log_group_of,
    own_role,
    role_of,
    service_prefixes,
    statements,
)
from tests.template_reader import Template, load_template, properties, resource, serverless_functions

TEMPLATE = load_template()
FUNCTIONS = serverless_functions(TEMPLATE)
# A function without a Role of its own fails only the first test, with what to add; the tests of
# what a role allows need a role to read.
FUNCTIONS_WITH_ROLES = functions_with_own_role(TEMPLATE, FUNCTIONS)
XRAY_WRITE_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
LOG_WRITE_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_function_runs_with_its_own_role_and_no_sam_generated_policies(template: Template, function_id: str):
    function = properties(template, function_id)
    role_id = role_of(template, function_id)

    assert resource(template, role_id)["Type"] == "AWS::IAM::Role"
    # Policies on the function would make SAM generate a role and ignore these least-privilege ones.
    assert "Policies" not in function
    assert [own_role(template, other) for other in FUNCTIONS].count(role_id) == 1


@pytest.mark.parametrize("function_id", FUNCTIONS_WITH_ROLES)
def test_role_has_no_managed_policies_and_only_lambda_may_assume_it(template: Template, function_id: str):
    role = properties(template, role_of(template, function_id))

    assert "ManagedPolicyArns" not in role
    assert "PermissionsBoundary" not in role
    (trust,) = as_list(role["AssumeRolePolicyDocument"]["Statement"])
    assert trust["Effect"] == "Allow"
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert as_list(trust["Action"]) == ["sts:AssumeRole"]


@pytest.mark.parametrize("function_id", FUNCTIONS_WITH_ROLES)
def test_role_allows_only_named_actions(template: Template, function_id: str):
    for statement in statements(template, role_of(template, function_id)):
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement
        assert "NotResource" not in statement
        for action in statement["Action"]:
            assert "*" not in action, f"wildcard action {action}"


@pytest.mark.parametrize("function_id", FUNCTIONS_WITH_ROLES)
def test_logs_only_to_its_own_log_group(template: Template, function_id: str):
    role_id = role_of(template, function_id)
    own_group = log_group_of(template, function_id)

    assert resource(template, own_group)["Type"] == "AWS::Logs::LogGroup"
    assert {action for action, _ in allowed(template, role_id, "logs")} == LOG_WRITE_ACTIONS
    resources = [res for _, res in allowed(template, role_id, "logs")]
    assert resources
    assert all(res == get_att_arn(own_group) for res in resources)


@pytest.mark.parametrize("function_id", FUNCTIONS_WITH_ROLES)
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
    assert service_prefixes(template, role_of(template, "SamDdbFunction")) == {"logs", "xray", "dynamodb"}


def test_hello_role_has_no_data_access(template: Template):
    assert service_prefixes(template, role_of(template, "HelloWorldFunction")) == {"logs", "xray"}
