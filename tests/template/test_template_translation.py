"""What CloudFormation gets after the SAM transform: tracing really reaches the stage and functions."""

import copy
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from tests.template_reader import Template

FUNCTIONS = ("HelloWorldFunction", "SamDdbFunction")


class NoManagedPolicies:
    """The template attaches no managed policies, so the translator never needs IAM's list of them."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def translated(template: Template) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        # The transform fills in AWS::Region; no AWS call is made.
        monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
        sam_template = copy.deepcopy(template)
        # The transform takes code from S3; `sam validate` swaps local CodeUri folders the same way.
        for logical_id in FUNCTIONS:
            properties = sam_template["Resources"][logical_id]["Properties"]
            properties["CodeUri"] = f"s3://placeholder-bucket/{properties['CodeUri']}"
        return transform(sam_template, {}, NoManagedPolicies())


def resources_of_type(translated: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {
        logical_id: resource
        for logical_id, resource in translated["Resources"].items()
        if resource["Type"] == resource_type
    }


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


def test_the_rest_api_serves_both_routes(translated: dict[str, Any]):
    (api,) = resources_of_type(translated, "AWS::ApiGateway::RestApi").values()
    paths = api["Properties"]["Body"]["paths"]

    assert {path: set(methods) for path, methods in paths.items()} == {"/hello": {"get"}, "/ddb": {"post"}}


def test_sam_generates_no_roles(translated: dict[str, Any]):
    # Only the two explicit least-privilege roles: none added by SAM with broader defaults.
    assert set(resources_of_type(translated, "AWS::IAM::Role")) == {
        "HelloWorldFunctionRole",
        "SamDdbFunctionRole",
    }
