"""How template.yaml wires the app: tracing everywhere, the table name passed in, the outputs."""

import ast
from pathlib import Path

import pytest

from tests.template_reader import (
    REPO_ROOT,
    Template,
    api_routes,
    load_template,
    properties,
    resource,
    serverless_functions,
    table_definition,
)

TEMPLATE = load_template()
FUNCTIONS = serverless_functions(TEMPLATE)
# The outputs tests/integration/test_api_gateway.py and the README read after `sam deploy`.
REQUIRED_OUTPUTS = ("HelloWorldApi", "SamDdbApi", "HelloWorldFunction", "SamDdbFunction", "DemoTableName")
PROD_URL_PREFIX = "https://${ServerlessRestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/Prod/"
# Outputs whose value is a URL on the implicit API, and outputs named after a function.
API_OUTPUTS = [
    name
    for name, output in TEMPLATE.get("Outputs", {}).items()
    if "${ServerlessRestApi}" in str(output["Value"].get("Fn::Sub", ""))
]
FUNCTION_OUTPUTS = [name for name in TEMPLATE.get("Outputs", {}) if name in FUNCTIONS]


def test_globals_turn_on_tracing_for_functions_and_the_api(template: Template):
    function_globals = template["Globals"]["Function"]
    api_globals = template["Globals"]["Api"]

    assert function_globals["Tracing"] == "Active"
    assert function_globals["Timeout"] == 3
    assert function_globals["Runtime"] == "python3.11"
    assert api_globals["TracingEnabled"] is True


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_no_function_overrides_the_global_tracing_timeout_or_runtime(template: Template, function_id: str):
    assert not {"Tracing", "Timeout", "Runtime"} & set(properties(template, function_id))


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_no_explicit_api_bypasses_the_global_tracing(template: Template, function_id: str):
    # Api events without RestApiId use the implicit ServerlessRestApi, which takes Globals.Api.
    for name, event in properties(template, function_id).get("Events", {}).items():
        assert event["Type"] == "Api", f"{function_id} event {name} is {event['Type']}, not an Api event"
        assert "RestApiId" not in event["Properties"]


def test_ddb_function_gets_the_table_name_by_reference(template: Template):
    table_name = properties(template, "SamDdbFunction")["Environment"]["Variables"]["TABLE_NAME"]

    assert table_name == {"Ref": "DynamoTable"}
    assert resource(template, "DynamoTable")["Type"] == "AWS::DynamoDB::Table"


def string_literals_outside_docstrings(source: str) -> list[str]:
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def hard_coded_names(directory: Path, name: str) -> list[str]:
    """Python files under `directory` whose code (docstrings aside) has `name` in a string literal."""
    return sorted(
        str(path.relative_to(directory))
        for path in directory.rglob("*.py")
        if any(name in literal for literal in string_literals_outside_docstrings(path.read_text()))
    )


def test_ddb_code_does_not_hard_code_the_table_name(template: Template):
    table_name = table_definition(template)["TableName"]

    assert hard_coded_names(REPO_ROOT / "sam_ddb", table_name) == []


def test_hard_coded_name_check_finds_a_literal_but_not_a_docstring(tmp_path: Path):
    (tmp_path / "bad.py").write_text('"""Writes to the Demo table."""\nTABLE = "Demo"\n')
    (tmp_path / "good.py").write_text(
        '"""Writes to the Demo table."""\nimport os\nTABLE = os.environ["TABLE_NAME"]\n'
    )

    assert hard_coded_names(tmp_path, "Demo") == ["bad.py"]


def test_outputs_exist(template: Template):
    assert set(REQUIRED_OUTPUTS) <= set(template["Outputs"])


@pytest.mark.parametrize("output", API_OUTPUTS)
def test_api_outputs_are_the_prod_urls_of_the_routes(template: Template, output: str):
    url = template["Outputs"][output]["Value"]["Fn::Sub"]
    assert url.startswith(PROD_URL_PREFIX)
    assert url.endswith("/")
    path = "/" + url.removeprefix(PROD_URL_PREFIX).removesuffix("/")

    # The URL is a route of the template, served by the function the output is named after.
    serving = [function_id for function_id, route, _ in api_routes(template) if route == path]
    assert serving == [output.removesuffix("Api") + "Function"]


@pytest.mark.parametrize("function_id", FUNCTION_OUTPUTS)
def test_function_outputs_are_the_function_arns(template: Template, function_id: str):
    assert template["Outputs"][function_id]["Value"] == {"Fn::GetAtt": [function_id, "Arn"]}


def test_table_name_output_is_the_table(template: Template):
    assert template["Outputs"]["DemoTableName"]["Value"] == {"Ref": "DynamoTable"}
