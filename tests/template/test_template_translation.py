"""What CloudFormation gets after the SAM transform: tracing really reaches the stage and functions."""

from typing import Any

import pytest

from tests.template.sam_transform import resources_of_type, translate
from tests.template_reader import Template, api_routes, load_template, properties, serverless_functions

FUNCTIONS = serverless_functions(load_template())


@pytest.fixture(scope="module")
def translated(template: Template) -> dict[str, Any]:
    return translate(template)


def test_the_prod_stage_has_tracing_enabled(translated: dict[str, Any]):
    stages = resources_of_type(translated, "AWS::ApiGateway::Stage")

    assert list(stages) == ["ServerlessRestApiProdStage"]
    stage = stages["ServerlessRestApiProdStage"]["Properties"]
    assert stage["StageName"] == "Prod"
    assert stage["TracingEnabled"] is True


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_functions_have_active_tracing(translated: dict[str, Any], function_id: str):
    function = translated["Resources"][function_id]

    assert function["Type"] == "AWS::Lambda::Function"
    assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}


def test_the_rest_api_serves_every_route_of_the_template(template: Template, translated: dict[str, Any]):
    (api,) = resources_of_type(translated, "AWS::ApiGateway::RestApi").values()
    paths = api["Properties"]["Body"]["paths"]
    routes: dict[str, set[str]] = {}
    for _, path, method in api_routes(template):
        routes.setdefault(path, set()).add(method)

    assert {path: set(methods) for path, methods in paths.items()} == routes


def test_sam_generates_a_role_only_for_a_function_without_one(template: Template, translated: dict[str, Any]):
    # Each function runs with its explicit least-privilege role; SAM adds one with broader managed
    # policies only for a function that has no Role, which test_template_permissions then rejects.
    declared = {
        logical_id
        for logical_id, definition in template["Resources"].items()
        if definition["Type"] == "AWS::IAM::Role"
    }
    without_role = {
        f"{function_id}Role"
        for function_id in serverless_functions(template)
        if "Role" not in properties(template, function_id)
    }

    assert set(resources_of_type(translated, "AWS::IAM::Role")) == declared | without_role
