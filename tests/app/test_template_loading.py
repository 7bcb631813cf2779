"""emulator.app.template: a SAM template, as `sam build` leaves it, read into an AppSpec."""

import re
import shutil
import textwrap
from pathlib import Path

import pytest

from emulator.app.model import Route
from emulator.app.template import TemplateError, api_id_for, load_app, physical_name

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_TEMPLATE = ROOT / "tests" / "fixture_app" / "template.yaml"


def write_app(tmp_path: Path, body: str, code_dirs: tuple[str, ...] = ("fn",)) -> Path:
    for name in code_dirs:
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "app.py").write_text("def handler(event, context):\n    return {}\n")
    template = tmp_path / "template.yaml"
    header = "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\n"
    template.write_text(header + textwrap.dedent(body))
    return template


def test_tutorial_build_gives_both_routes_the_table_and_tracing(tutorial_app_template):
    app = load_app(tutorial_app_template)
    assert app.stage == "Prod" and app.api_tracing is True
    assert sorted(app.routes, key=lambda r: r.path) == [
        Route("POST", "/ddb", "SamDdbFunction"),
        Route("GET", "/hello", "HelloWorldFunction"),
    ]
    hello, ddb = app.functions["HelloWorldFunction"], app.functions["SamDdbFunction"]
    # Globals.Function reached both functions.
    for function in (hello, ddb):
        assert (function.runtime, function.timeout, function.memory_size) == ("python3.11", 3, 128)
        assert (function.tracing, function.architecture) == ("Active", "x86_64")
        assert function.handler == "app.lambda_handler"
        assert (function.code_dir / "app.py").is_file()
        assert function.code_dir.parent == tutorial_app_template.parent
    assert ddb.environment == {"TABLE_NAME": "Demo"}
    # LoggingConfig.LogGroup: !Ref of a named log group resolves to its LogGroupName.
    assert hello.log_group_name == "/aws/lambda/sam-app/HelloWorldFunction"
    assert ddb.log_group_name == "/aws/lambda/sam-app/SamDdbFunction"
    [table] = app.tables
    assert table.table_name == "Demo"
    assert table.create_table_args["BillingMode"] == "PAY_PER_REQUEST"
    assert [k["AttributeName"] for k in table.create_table_args["KeySchema"]] == ["Key", "CreateDate"]


def test_names_are_cloudformation_like_and_stable_across_loads(tutorial_app_template):
    first, second = load_app(tutorial_app_template), load_app(tutorial_app_template)
    name = first.functions["HelloWorldFunction"].function_name
    assert re.fullmatch(r"sam-app-HelloWorldFunction-[A-Z0-9]{12}", name)
    assert name == second.functions["HelloWorldFunction"].function_name
    assert re.fullmatch(r"[a-z0-9]{10}", first.api_id) and first.api_id == second.api_id
    other = load_app(tutorial_app_template, stack_name="other-stack")
    assert other.api_id != first.api_id
    assert other.functions["HelloWorldFunction"].function_name.startswith("other-stack-HelloWorldFunction-")


def test_fixture_app_globals_merge_env_and_override_timeout(fixture_app_template):
    app = load_app(fixture_app_template)
    echo, sleepy = app.functions["EchoFunction"], app.functions["SleepyFunction"]
    assert echo.environment == {"FROM_GLOBALS": "globals-value", "TABLE_NAME": "Items"}
    assert sleepy.environment == {"FROM_GLOBALS": "globals-value"}
    assert (echo.timeout, sleepy.timeout) == (3, 1)
    # No LoggingConfig: Lambda's default log group.
    assert echo.log_group_name == f"/aws/lambda/{echo.function_name}"
    assert echo.memory_size == 256
    assert {(r.method, r.path) for r in app.routes if r.function == "EchoFunction"} == {
        ("ANY", "/echo"),
        ("GET", "/items/{id}"),
        ("ANY", "/files/{proxy+}"),
    }


def test_intrinsics_in_environment_resolve(tmp_path):
    template = write_app(
        tmp_path,
        """
        Parameters:
          Stage:
            Type: String
            Default: dev
        Globals:
          Function:
            Runtime: python3.11
            Handler: app.handler
            CodeUri: fn/
            Environment:
              Variables:
                SHARED: from-globals
                OVERRIDDEN: globals
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Environment:
                Variables:
                  OVERRIDDEN: function
                  NAMED: !Ref Named
                  UNNAMED: !Ref Unnamed
                  SIMPLE: !Ref Simple
                  ARN: !GetAtt Named.Arn
                  REGION: !Ref AWS::Region
                  STACK: !Ref AWS::StackName
                  ACCOUNT: !Ref AWS::AccountId
                  SUB: !Sub "${AWS::StackName}-${Named}-${Stage}-${Named.Arn}"
                  SUB_LIST: !Sub ["${X}/${AWS::Region}", {X: !Ref Unnamed}]
                  JOINED: !Join ["-", [a, !Ref Stage]]
                  NUMBER: 42
                  FLAG: true
          Named:
            Type: AWS::DynamoDB::Table
            Properties:
              TableName: !Sub "${AWS::StackName}-named"
              BillingMode: PAY_PER_REQUEST
              AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
              KeySchema: [{AttributeName: pk, KeyType: HASH}]
          Unnamed:
            Type: AWS::DynamoDB::Table
            Properties:
              ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}
              AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
              KeySchema: [{AttributeName: pk, KeyType: HASH}]
          Simple:
            Type: AWS::Serverless::SimpleTable
        """,
    )
    app = load_app(template, stack_name="st", region="eu-west-1")
    env = app.functions["Fn"].environment
    unnamed = physical_name("st", "Unnamed")
    assert re.fullmatch(r"st-Unnamed-[A-Z0-9]{12}", unnamed)
    assert env == {
        "SHARED": "from-globals",
        "OVERRIDDEN": "function",
        "NAMED": "st-named",
        "UNNAMED": unnamed,
        "SIMPLE": physical_name("st", "Simple"),
        "ARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/st-named",
        "REGION": "eu-west-1",
        "STACK": "st",
        "ACCOUNT": "123456789012",
        "SUB": "st-st-named-dev-arn:aws:dynamodb:eu-west-1:123456789012:table/st-named",
        "SUB_LIST": f"{unnamed}/eu-west-1",
        "JOINED": "a-dev",
        "NUMBER": "42",
        "FLAG": "true",
    }
    tables = {t.logical_id: t for t in app.tables}
    assert tables["Simple"].create_table_args == {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    assert tables["Unnamed"].create_table_args["ProvisionedThroughput"] == {
        "ReadCapacityUnits": 1,
        "WriteCapacityUnits": 1,
    }
    assert app.api_tracing is False
    assert app.functions["Fn"].tracing == "PassThrough"


def test_indexes_become_create_table_arguments(tmp_path):
    template = write_app(
        tmp_path,
        """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: fn/, Handler: app.handler, Runtime: python3.11}
          T:
            Type: AWS::DynamoDB::Table
            Properties:
              BillingMode: PAY_PER_REQUEST
              AttributeDefinitions:
                - {AttributeName: pk, AttributeType: S}
                - {AttributeName: sk, AttributeType: S}
                - {AttributeName: g, AttributeType: N}
              KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]
              GlobalSecondaryIndexes:
                - IndexName: byG
                  KeySchema: [{AttributeName: g, KeyType: HASH}]
                  Projection: {ProjectionType: ALL}
                  ContributorInsightsSpecification: {Enabled: true}
              LocalSecondaryIndexes:
                - IndexName: byPkG
                  KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: g, KeyType: RANGE}]
                  Projection: {ProjectionType: KEYS_ONLY}
        """,
    )
    [table] = load_app(template).tables
    args = table.create_table_args
    # ContributorInsightsSpecification is CloudFormation-only: create_table would reject it.
    assert args["GlobalSecondaryIndexes"] == [
        {"IndexName": "byG", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
         "Projection": {"ProjectionType": "ALL"}}
    ]  # fmt: skip
    assert args["LocalSecondaryIndexes"][0]["IndexName"] == "byPkG"


def test_a_route_added_to_a_copy_of_the_template_is_read(tmp_path):
    shutil.copytree(ROOT / "hello_world", tmp_path / "hello_world")
    shutil.copytree(ROOT / "sam_ddb", tmp_path / "sam_ddb")
    text = (ROOT / "template.yaml").read_text()
    extra_event = """
        Goodbye:
          Type: Api
          Properties:
            Path: /goodbye/{name}
            Method: any
"""
    anchor = "            Path: /hello\n            Method: get\n"
    assert anchor in text
    (tmp_path / "template.yaml").write_text(text.replace(anchor, anchor + extra_event))
    app = load_app(tmp_path / "template.yaml")
    assert Route("ANY", "/goodbye/{name}", "HelloWorldFunction") in app.routes


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Resources:\n  Fn: [unclosed\n", r"line \d+\): cannot read the template"),
        ("Resources:\n  T:\n    Type: AWS::SNS::Topic\n", r"no AWS::Serverless::Function resources"),
        (
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
            "    Properties: {CodeUri: nowhere/, Handler: app.handler, Runtime: python3.11}\n",
            r"Fn: CodeUri folder .*nowhere does not exist \(run `make build` / `sam build`\)",
        ),
        (
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
            "    Properties:\n      CodeUri: fn/\n      Handler: app.handler\n      Runtime: python3.11\n"
            "      Environment: {Variables: {X: !Ref Missing}}\n",
            r"Fn\.Environment\.Variables\.X: !Ref Missing: no such resource or parameter",
        ),
    ],
    ids=["broken-yaml", "no-functions", "no-artifact-folder", "unresolvable-ref"],
)
def test_broken_templates_raise_a_one_line_template_error(tmp_path, body, message):
    template = write_app(tmp_path, body)
    with pytest.raises(TemplateError) as caught:
        load_app(template)
    text = str(caught.value)
    assert "\n" not in text
    assert re.search(message, text), text


def test_missing_file_is_a_template_error(tmp_path):
    with pytest.raises(TemplateError, match="file not found"):
        load_app(tmp_path / "absent.yaml")


def test_api_id_is_ten_lowercase_alphanumerics():
    assert re.fullmatch(r"[a-z0-9]{10}", api_id_for("sam-app"))
    assert api_id_for("sam-app") == api_id_for("sam-app")


def test_inline_code_is_the_function_s_index_py(tmp_path: Path):
    template = write_app(
        tmp_path,
        """
        Resources:
          Inline:
            Type: AWS::Serverless::Function
            Properties:
              Handler: index.handler
              Runtime: python3.11
              InlineCode: |
                def handler(event, context):
                    return "inline"
        """,
        code_dirs=(),
    )
    code_dir = load_app(template).functions["Inline"].code_dir
    assert (code_dir / "index.py").read_text() == 'def handler(event, context):\n    return "inline"\n'
    # Never newer than a build: the template says whether the code changed.
    assert (code_dir / "index.py").stat().st_mtime == 0
    assert load_app(template).functions["Inline"].code_dir == code_dir  # the same code, the same folder


def test_a_function_with_neither_code_uri_nor_inline_code_is_refused(tmp_path: Path):
    template = write_app(
        tmp_path,
        """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Handler: index.handler
              Runtime: python3.11
        """,
        code_dirs=(),
    )
    with pytest.raises(TemplateError, match="Fn: neither CodeUri nor InlineCode"):
        load_app(template)
