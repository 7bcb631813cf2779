"""The SAM transform run locally, as `sam validate` and CloudFormation run it."""

import copy
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from tests.template_reader import Template, properties, serverless_functions

# The transform fills in AWS::Region; no AWS call is made.
REGION = "ap-northeast-1"
PLACEHOLDER_BUCKET = "s3://placeholder-bucket"


class NoManagedPolicies:
    """The template attaches no managed policies by name, so the translator never needs IAM's list of them."""

    def load(self) -> dict[str, str]:
        return {}


def with_code_in_s3(template: Template) -> Template:
    """A copy whose functions take their code from S3, as the transform requires.

    `sam validate` swaps local CodeUri folders the same way; every function is swapped, so a new
    function does not reach the translator with a folder it rejects as "not a valid S3 Uri".
    """
    sam_template = copy.deepcopy(template)
    for function_id in serverless_functions(sam_template):
        function = properties(sam_template, function_id)
        code_uri = function.get("CodeUri")
        if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
            function["CodeUri"] = f"{PLACEHOLDER_BUCKET}/{code_uri}"
    return sam_template


def translate(template: Template) -> dict[str, Any]:
    """The CloudFormation template the SAM transform makes of this one."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        return transform(with_code_in_s3(template), {}, NoManagedPolicies())


def resources_of_type(translated: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {
        logical_id: resource
        for logical_id, resource in translated["Resources"].items()
        if resource["Type"] == resource_type
    }
