"""The functions' roles and what their inline policies allow, read from the template."""

from typing import Any

import pytest

from tests.template_reader import Template, properties

Statement = dict[str, Any]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def get_att_arn(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def own_role(template: Template, function_id: str) -> str | None:
    """The logical id of the template's role given as `Role: !GetAtt <Role>.Arn`, else None."""
    role = properties(template, function_id).get("Role")
    if isinstance(role, dict) and set(role) == {"Fn::GetAtt"} and role["Fn::GetAtt"][1] == "Arn":
        return role["Fn::GetAtt"][0]
    return None


def missing_role_message(function_id: str) -> str:
    """What to add to a function that has no Role: one line, for the test summary."""
    role_id = f"{function_id}Role"
    return (
        f"{function_id} has no Role of its own: add an AWS::IAM::Role {role_id} that allows only its own "
        f"log group and X-Ray writes (as the other functions' roles do) and `Role: !GetAtt {role_id}.Arn` "
        "to the function; without it SAM generates a role with broad managed policies"
    )


def role_of(template: Template, function_id: str) -> str:
    """The function's own role; a function without one fails the test with what to add."""
    role_id = own_role(template, function_id)
    if role_id is not None:
        return role_id
    role = properties(template, function_id).get("Role")
    if role is None:
        pytest.fail(missing_role_message(function_id), pytrace=False)
    pytest.fail(
        f"{function_id} has Role: {role}; its policies cannot be read from the template: give it "
        "`Role: !GetAtt <an AWS::IAM::Role in this template>.Arn`",
        pytrace=False,
    )


def functions_with_own_role(template: Template, function_ids: list[str]) -> list[str]:
    """The functions whose role the policy tests can read; the others fail the one test that needs a Role."""
    return [function_id for function_id in function_ids if own_role(template, function_id) is not None]


def log_group_of(template: Template, function_id: str) -> str:
    log_group = properties(template, function_id).get("LoggingConfig", {}).get("LogGroup")
    if not (isinstance(log_group, dict) and set(log_group) == {"Ref"}):
        pytest.fail(
            f"{function_id} has no log group of its own: add an AWS::Logs::LogGroup and "
            "`LoggingConfig: {LogGroup: !Ref <it>}` to the function, so its role can be limited to it",
            pytrace=False,
        )
    return log_group["Ref"]


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


def service_prefixes(template: Template, role_id: str) -> set[str]:
    """The services the role allows anything on, e.g. {"logs", "xray"}."""
    return {
        action.split(":")[0] for statement in statements(template, role_id) for action in statement["Action"]
    }
