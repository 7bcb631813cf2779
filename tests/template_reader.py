"""Read template.yaml as CloudFormation tools do, so tests take facts from it rather than restating them."""

import json
import os
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

REPO_ROOT = Path(__file__).resolve().parent.parent
# The template under test; tests/template/test_template_new_function.py points this at a modified copy
# to run the template tests against it in a pytest of its own.
TEMPLATE_PATH = Path(os.environ.get("TEMPLATE_UNDER_TEST", REPO_ROOT / "template.yaml"))
FUNCTION_TYPE = "AWS::Serverless::Function"

# The parts of an AWS::DynamoDB::Table that create_table needs to make the same table.
TABLE_SHAPE_PROPERTIES = ("TableName", "KeySchema", "AttributeDefinitions", "BillingMode")

Template = dict[str, Any]


def load_template(path: Path = TEMPLATE_PATH) -> Template:
    """The template as plain dicts, with short-form tags (!Ref, !GetAtt, !Sub) in their long form."""
    template, problems = decode(str(path))
    if problems or template is None:
        raise ValueError(f"{path} could not be read: {problems}")
    # cfn-lint returns its own dict/str subclasses that carry line numbers; plain JSON types compare
    # and serialise without surprises.
    return json.loads(json.dumps(template))


def resource(template: Template, logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]


def properties(template: Template, logical_id: str) -> dict[str, Any]:
    return resource(template, logical_id).get("Properties", {})


def serverless_functions(template: Template) -> list[str]:
    """Logical ids of the template's AWS::Serverless::Function resources, in template order."""
    return [
        logical_id
        for logical_id, definition in template["Resources"].items()
        if definition["Type"] == FUNCTION_TYPE
    ]


def api_events(template: Template, function_id: str) -> list[dict[str, Any]]:
    """The Properties of the function's Api events (Path, Method, and RestApiId if it has one)."""
    events = properties(template, function_id).get("Events", {})
    return [event.get("Properties", {}) for event in events.values() if event["Type"] == "Api"]


def api_routes(template: Template) -> list[tuple[str, str, str]]:
    """(function id, path, lower-case method) of every Api event in the template."""
    return [
        (function_id, event["Path"], event["Method"].lower())
        for function_id in serverless_functions(template)
        for event in api_events(template, function_id)
    ]


def table_definition(template: Template, logical_id: str = "DynamoTable") -> dict[str, Any]:
    """Keyword arguments for DynamoDB create_table that rebuild the template's table."""
    table = properties(template, logical_id)
    return {name: table[name] for name in TABLE_SHAPE_PROPERTIES if name in table}


def resolve_ref(template: Template, value: Any) -> Any:
    """A literal stays as it is; {"Ref": <table>} becomes the table's name, as CloudFormation resolves it."""
    if not (isinstance(value, dict) and set(value) == {"Ref"}):
        return value
    target = resource(template, value["Ref"])
    if target["Type"] != "AWS::DynamoDB::Table":
        raise NotImplementedError(f"resolving a Ref to {target['Type']} is not needed by these tests")
    return target["Properties"]["TableName"]


def function_environment(template: Template, function_id: str) -> dict[str, str]:
    """The function's environment variables with references resolved."""
    variables = properties(template, function_id).get("Environment", {}).get("Variables", {})
    return {name: resolve_ref(template, value) for name, value in variables.items()}
