"""emulator.app.intrinsics.Resolver: CloudFormation's intrinsic functions, resolved before a
deployment from pseudo parameters, Parameters' Defaults and the stack's resource names."""

import re

import pytest

from emulator.app.errors import TemplateError
from emulator.app.intrinsics import Resolver
from emulator.app.resource_names import api_id_for, physical_name

STACK = "sam-app"
REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
WHERE = "Resources.Fn.Properties.Environment"

DOCUMENT = {
    "Parameters": {
        "Stage": {"Type": "String", "Default": "dev"},
        "Index": {"Type": "Number", "Default": "1"},
        "TableAttribute": {"Type": "String", "Default": "StreamArn"},
        "NoDefault": {"Type": "String"},
    },
    "Resources": {
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {"StreamSpecification": {"StreamViewType": "NEW_IMAGE"}},
        },
        "NamedTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {"TableName": {"Fn::Sub": "${AWS::StackName}-items-${Stage}"}},
        },
        "Simple": {"Type": "AWS::Serverless::SimpleTable"},
        "Fn": {"Type": "AWS::Serverless::Function"},
        "NamedFn": {"Type": "AWS::Serverless::Function", "Properties": {"FunctionName": "hello"}},
        "Role": {"Type": "AWS::IAM::Role"},
        "NamedRole": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "app-role"}},
        "Logs": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${AWS::StackName}/Fn"}},
        },
        "UnnamedLogs": {"Type": "AWS::Logs::LogGroup"},
        "Queue": {"Type": "AWS::SQS::Queue"},
        "NamedQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "jobs"}},
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "NamedBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "my-bucket"}},
        "Topic": {"Type": "AWS::SNS::Topic"},
        "NamedTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}},
        "Api": {"Type": "AWS::Serverless::Api"},
        "HttpApi": {"Type": "AWS::Serverless::HttpApi"},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {"Name": "nightly"}},
        "Machine": {"Type": "AWS::Serverless::StateMachine", "Properties": {"Name": "orders"}},
        "CfnMachine": {"Type": "AWS::StepFunctions::StateMachine"},
        "Stream": {"Type": "AWS::Kinesis::Stream"},
        "LambdaFn": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "raw"}},
        "Layer": {"Type": "AWS::Serverless::LayerVersion"},
        "CfnLayer": {"Type": "AWS::Lambda::LayerVersion", "Properties": {"LayerName": "deps"}},
        "WithRole": {"Type": "AWS::Serverless::Function", "Properties": {"Role": "arn:aws:iam::1:role/x"}},
        "Other": {"Type": "AWS::Cognito::UserPool"},
    },
}


def resolver(document: dict | None = None) -> Resolver:
    return Resolver(
        DOCUMENT if document is None else document, stack_name=STACK, region=REGION, account_id=ACCOUNT
    )


def resolve(value, where: str = WHERE):
    return resolver().resolve(value, where)


def error_of(value, where: str = WHERE, document: dict | None = None) -> str:
    with pytest.raises(TemplateError) as caught:
        resolver(document).resolve(value, where)
    return str(caught.value)


def generated(logical_id: str) -> str:
    name = physical_name(STACK, logical_id)
    assert re.fullmatch(rf"{STACK}-{logical_id}-[A-Z0-9]{{12}}", name)
    return name


# --- Ref ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pseudo", "expected"),
    [
        ("AWS::Region", REGION),
        ("AWS::StackName", STACK),
        ("AWS::AccountId", ACCOUNT),
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
    ],
)
def test_ref_to_pseudo_parameters(pseudo, expected):
    assert resolve({"Ref": pseudo}) == expected


def test_ref_to_the_stack_id_is_a_stable_cloudformation_arn():
    stack_id = resolve({"Ref": "AWS::StackId"})
    assert re.fullmatch(
        rf"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/[a-z0-9]{{8}}-0000-0000-0000-000000000000",
        stack_id,
    )
    assert resolve({"Ref": "AWS::StackId"}) == stack_id
    other = Resolver({}, stack_name="other-app", region=REGION, account_id=ACCOUNT)
    assert other.resolve({"Ref": "AWS::StackId"}, WHERE) != stack_id


def test_ref_to_a_parameter_gives_its_default():
    assert resolve({"Ref": "Stage"}) == "dev"
    assert resolve({"Ref": "Index"}) == "1"


def test_ref_to_a_parameter_without_default_names_where_and_which():
    assert (
        error_of({"Ref": "NoDefault"}) == f"{WHERE}: parameter NoDefault has no Default to run with locally"
    )


def test_ref_to_nothing_known_is_an_error():
    assert error_of({"Ref": "Missing"}) == f"{WHERE}: !Ref Missing: no such resource or parameter"


def test_ref_needs_a_name():
    assert error_of({"Ref": ["Stage"]}) == f'{WHERE}: Ref needs a name, got ["Stage"]'


def test_ref_to_tables_and_functions_gives_their_names():
    assert resolve({"Ref": "Table"}) == generated("Table")
    assert resolve({"Ref": "Simple"}) == generated("Simple")
    assert resolve({"Ref": "NamedTable"}) == "sam-app-items-dev"
    assert resolve({"Ref": "Fn"}) == generated("Fn")
    assert resolve({"Ref": "NamedFn"}) == "hello"


def test_ref_to_named_resources_uses_their_name_property():
    assert resolve({"Ref": "NamedRole"}) == "app-role"
    assert resolve({"Ref": "Role"}) == generated("Role")
    assert resolve({"Ref": "Logs"}) == "/aws/lambda/sam-app/Fn"
    assert resolve({"Ref": "UnnamedLogs"}) == generated("UnnamedLogs")
    assert resolve({"Ref": "NamedBucket"}) == "my-bucket"


def test_ref_to_the_implicit_api_is_its_rest_api_id():
    api_id = resolve({"Ref": "ServerlessRestApi"})
    assert api_id == api_id_for(STACK)
    assert re.fullmatch(r"[a-z0-9]{10}", api_id)


def test_generated_names_are_the_same_on_every_run():
    assert resolve({"Ref": "Table"}) == resolver().resolve({"Ref": "Table"}, "elsewhere")
    assert resolve({"Ref": "Table"}) != resolve({"Ref": "Simple"})


def test_a_name_property_that_cannot_be_resolved_names_the_property():
    document = {
        "Parameters": {"NoDefault": {"Type": "String"}},
        "Resources": {
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": {"Ref": "NoDefault"}}}
        },
    }
    assert error_of({"Ref": "Table"}, document=document) == (
        "Table.TableName: parameter NoDefault has no Default to run with locally"
    )


def test_a_name_property_that_refers_to_itself_is_an_error_not_a_recursion():
    document = {
        "Resources": {
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": {"Fn::Sub": "${Table}-x"}}}
        }
    }
    assert error_of({"Ref": "Table"}, document=document) == "Table.TableName refers to itself"
    # and the resolver is usable afterwards
    assert resolver(document).resolve({"Ref": "AWS::Region"}, WHERE) == REGION


# --- Fn::GetAtt ---------------------------------------------------------------------------------


def test_getatt_string_form_and_list_form_agree():
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{generated('Table')}"
    assert resolve({"Fn::GetAtt": "Table.Arn"}) == arn
    assert resolve({"Fn::GetAtt": ["Table", "Arn"]}) == arn


def test_getatt_list_form_resolves_its_parts():
    assert resolve({"Fn::GetAtt": ["Table", {"Ref": "TableAttribute"}]}) == (
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{generated('Table')}/stream/1970-01-01T00:00:00.000"
    )


def test_getatt_table_arn_and_stream_arn():
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/sam-app-items-dev"
    assert resolve({"Fn::GetAtt": "NamedTable.Arn"}) == table
    assert resolve({"Fn::GetAtt": "Table.StreamArn"}).endswith("/stream/1970-01-01T00:00:00.000")
    assert resolve({"Fn::GetAtt": "Simple.Arn"}) == (
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{generated('Simple')}"
    )


def test_getatt_function_arn():
    assert (
        resolve({"Fn::GetAtt": "Fn.Arn"}) == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{generated('Fn')}"
    )
    assert resolve({"Fn::GetAtt": "NamedFn.Arn"}) == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:hello"


def test_getatt_role_arn_has_no_region():
    assert resolve({"Fn::GetAtt": "NamedRole.Arn"}) == f"arn:aws:iam::{ACCOUNT}:role/app-role"
    assert resolve({"Fn::GetAtt": "Role.Arn"}) == f"arn:aws:iam::{ACCOUNT}:role/{generated('Role')}"


def test_getatt_log_group_arn_ends_with_a_wildcard():
    assert resolve({"Fn::GetAtt": "Logs.Arn"}) == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/sam-app/Fn:*"
    )
    assert resolve({"Fn::GetAtt": "UnnamedLogs.Arn"}) == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{generated('UnnamedLogs')}:*"
    )


def test_getatt_queue_arn():
    assert resolve({"Fn::GetAtt": "NamedQueue.Arn"}) == f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs"
    assert resolve({"Fn::GetAtt": "Queue.Arn"}) == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{generated('Queue')}"


def test_getatt_bucket_arn_has_no_region_or_account():
    assert resolve({"Fn::GetAtt": "NamedBucket.Arn"}) == "arn:aws:s3:::my-bucket"
    arn = resolve({"Fn::GetAtt": "Bucket.Arn"})
    assert arn == f"arn:aws:s3:::{generated('Bucket').lower()}"
    assert arn == arn.lower()


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("Table.StreamLabel", "AWS::DynamoDB::Table"),
        ("Fn.Version", "AWS::Serverless::Function"),
        ("Role.RoleName", "AWS::IAM::Role"),
        ("Queue.Url", "AWS::SQS::Queue"),
        ("Bucket.Name", "AWS::S3::Bucket"),
        ("Topic.Arn", "AWS::SNS::Topic"),
        ("Machine.StateMachineArn", "AWS::Serverless::StateMachine"),
        ("Other.Arn", "AWS::Cognito::UserPool"),
    ],
)
def test_getatt_of_an_unsupported_attribute_names_it_and_the_type(target, kind):
    assert (
        error_of({"Fn::GetAtt": target}) == f"{WHERE}: !GetAtt {target} ({kind}) cannot be resolved locally"
    )


def test_getatt_of_the_types_a_sam_template_commonly_references():
    region, account = REGION, ACCOUNT
    expected = {
        "Queue.QueueName": generated("Queue"),
        "NamedQueue.QueueUrl": f"https://sqs.{region}.amazonaws.com/{account}/jobs",
        "NamedTopic.TopicArn": f"arn:aws:sns:{region}:{account}:alerts",
        "NamedTopic.TopicName": "alerts",
        "Topic.TopicName": generated("Topic"),
        "NamedBucket.DomainName": "my-bucket.s3.amazonaws.com",
        "NamedBucket.RegionalDomainName": f"my-bucket.s3.{region}.amazonaws.com",
        # ap-northeast-1 is one of the regions whose website endpoint has a dash.
        "NamedBucket.WebsiteURL": f"http://my-bucket.s3-website-{region}.amazonaws.com",
        "Rule.Arn": f"arn:aws:events:{region}:{account}:rule/nightly",
        "Machine.Arn": f"arn:aws:states:{region}:{account}:stateMachine:orders",
        "Machine.Name": "orders",
        "CfnMachine.Name": generated("CfnMachine"),
        "Stream.Arn": f"arn:aws:kinesis:{region}:{account}:stream/{generated('Stream')}",
        "LambdaFn.Arn": f"arn:aws:lambda:{region}:{account}:function:raw",
        "CfnLayer.LayerVersionArn": f"arn:aws:lambda:{region}:{account}:layer:deps:1",
        # SAM makes the role of a function that names none, <FunctionId>Role.
        "FnRole.Arn": f"arn:aws:iam::{account}:role/{generated('FnRole')}",
    }
    for target, value in expected.items():
        assert resolve({"Fn::GetAtt": target}) == value, target
    role_id = resolve({"Fn::GetAtt": "Role.RoleId"})
    assert re.fullmatch(r"AROA[A-Z0-9]{17}", role_id) and resolve({"Fn::GetAtt": "Role.RoleId"}) == role_id
    root = resolve({"Fn::GetAtt": "Api.RootResourceId"})
    assert re.fullmatch(r"[a-z0-9]{10}", root) and root != resolve({"Ref": "Api"})
    api = resolve({"Ref": "HttpApi"})
    assert (
        resolve({"Fn::GetAtt": "HttpApi.ApiEndpoint"}) == f"https://{api}.execute-api.{region}.amazonaws.com"
    )


def test_ref_of_topics_state_machines_apis_and_layers():
    assert resolve({"Ref": "NamedTopic"}) == f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"
    assert resolve({"Ref": "Machine"}) == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:orders"
    assert re.fullmatch(r"[a-z0-9]{10}", resolve({"Ref": "Api"}))
    assert resolve({"Ref": "Rule"}) == "nightly"
    # SAM names a layer by its logical id unless LayerName says otherwise.
    assert resolve({"Ref": "Layer"}) == f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:Layer:1"
    assert resolve({"Ref": "CfnLayer"}) == f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:deps:1"


def test_getatt_of_the_role_of_a_function_that_has_one_is_not_made_up():
    missing = f"{WHERE}: !GetAtt WithRoleRole.Arn: no such resource"
    assert error_of({"Fn::GetAtt": "WithRoleRole.Arn"}) == missing


def test_getatt_of_a_missing_resource():
    assert error_of({"Fn::GetAtt": ["Nope", "Arn"]}) == f"{WHERE}: !GetAtt Nope.Arn: no such resource"


# --- Fn::Sub ------------------------------------------------------------------------------------


def test_sub_with_pseudo_parameters_parameters_and_resources():
    text = "https://${ServerlessRestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}/${Fn}"
    assert resolve({"Fn::Sub": text}) == (
        f"https://{api_id_for(STACK)}.execute-api.{REGION}.amazonaws.com/dev/{generated('Fn')}"
    )


def test_sub_with_resource_attributes():
    assert resolve({"Fn::Sub": "${NamedFn.Arn}|${NamedTable.Arn}"}) == (
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:hello|arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"
        "sam-app-items-dev"
    )


def test_sub_literal_is_written_out_without_the_bang():
    assert resolve({"Fn::Sub": "${!Literal}"}) == "${Literal}"
    assert resolve({"Fn::Sub": "echo ${!HOME} in ${AWS::Region} ${!Stage}"}) == (
        f"echo ${{HOME}} in {REGION} ${{Stage}}"
    )


def test_sub_text_without_variables_is_unchanged():
    assert resolve({"Fn::Sub": "plain $ text {}"}) == "plain $ text {}"


def test_sub_with_a_variables_map():
    value = {
        "Fn::Sub": [
            "${Name}-${Arn}-${Stage}-${Table}-${Custom.Key}",
            {
                "Name": "literal",
                "Arn": {"Fn::GetAtt": ["NamedFn", "Arn"]},
                "Table": "overridden",  # a variable wins over a resource of the same name
                "Custom.Key": {"Ref": "AWS::AccountId"},  # and a dotted one over GetAtt
            },
        ]
    }
    assert resolve(value) == (
        f"literal-arn:aws:lambda:{REGION}:{ACCOUNT}:function:hello-dev-overridden-{ACCOUNT}"
    )


def test_sub_errors_name_where_and_what():
    assert error_of({"Fn::Sub": "${Missing}"}) == f"{WHERE}: !Ref Missing: no such resource or parameter"
    assert error_of({"Fn::Sub": "${Missing.Arn}"}) == f"{WHERE}: !GetAtt Missing.Arn: no such resource"
    assert error_of({"Fn::Sub": "${NoDefault}"}) == (
        f"{WHERE}: parameter NoDefault has no Default to run with locally"
    )
    assert error_of({"Fn::Sub": "${Fn.Version}"}) == (
        f"{WHERE}: !GetAtt Fn.Version (AWS::Serverless::Function) cannot be resolved locally"
    )
    assert error_of({"Fn::Sub": {"Ref": "Stage"}}) == f"{WHERE}: Fn::Sub needs a string"
    assert error_of({"Fn::Sub": ["${X}", {"X": {"Ref": "Missing"}}]}) == (
        f"{WHERE}: !Ref Missing: no such resource or parameter"
    )


# --- Fn::Join, Fn::Select, Fn::Split ------------------------------------------------------------


def test_join_resolves_each_item():
    value = {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "x", {"Ref": "Stage"}, 3]]}
    assert resolve(value) == "sam-app-x-dev-3"
    assert resolve({"Fn::Join": ["", ["a", "b"]]}) == "ab"
    assert resolve({"Fn::Join": [",", []]}) == ""


def test_join_of_a_list_that_is_itself_an_intrinsic():
    assert resolve({"Fn::Join": ["/", {"Fn::Split": [",", "a,b,c"]}]}) == "a/b/c"


def test_split_gives_a_list_and_keeps_empty_parts():
    assert resolve({"Fn::Split": [",", "a,b,,c"]}) == ["a", "b", "", "c"]
    assert resolve({"Fn::Split": ["|", "no-separator"]}) == ["no-separator"]
    assert resolve({"Fn::Split": [":", {"Fn::GetAtt": "NamedQueue.Arn"}]}) == [
        "arn",
        "aws",
        "sqs",
        REGION,
        ACCOUNT,
        "jobs",
    ]


def test_select_picks_by_index():
    assert resolve({"Fn::Select": [0, ["a", "b", "c"]]}) == "a"
    assert resolve({"Fn::Select": ["2", ["a", "b", "c"]]}) == "c"
    assert resolve({"Fn::Select": [{"Ref": "Index"}, ["a", {"Ref": "Stage"}]]}) == "dev"


def test_select_from_split_takes_the_account_out_of_an_arn():
    value = {"Fn::Select": [4, {"Fn::Split": [":", {"Fn::GetAtt": ["NamedFn", "Arn"]}]}]}
    assert resolve(value) == ACCOUNT
    assert resolve({"Fn::Select": [2, {"Fn::Split": ["-", {"Ref": "NamedTable"}]}]}) == "items"


# --- resolve: plain values, nesting, and what cannot be resolved -----------------------------


def test_plain_values_pass_through():
    assert resolve("text") == "text"
    assert resolve(7) == 7
    assert resolve(None) is None
    assert resolve(["a", {"Ref": "Stage"}]) == ["a", "dev"]
    assert resolve({"Key": "value"}) == {"Key": "value"}


def test_nested_mappings_resolve_each_value():
    value = {"Variables": {"TABLE": {"Ref": "Table"}, "REGION": {"Ref": "AWS::Region"}, "N": 1}}
    assert resolve(value) == {"Variables": {"TABLE": generated("Table"), "REGION": REGION, "N": 1}}


def test_errors_deep_in_a_mapping_name_the_path():
    value = {"Variables": {"OK": "x", "BAD": {"Ref": "NoDefault"}}}
    assert error_of(value) == (
        f"{WHERE}.Variables.BAD: parameter NoDefault has no Default to run with locally"
    )


@pytest.mark.parametrize(
    "value",
    [
        {"Fn::ImportValue": "shared-table"},
        {"Fn::GetAZs": ""},
        {"Fn::FindInMap": ["Map", "Key", "Value"]},
        {"Condition": "IsProd"},
    ],
)
def test_functions_that_need_a_deployment_are_errors(value):
    (name,) = value
    assert error_of({"Name": value}) == f"{WHERE}.Name: {name} cannot be resolved locally"


def test_a_resolver_for_an_empty_document_still_knows_the_pseudo_parameters():
    empty = Resolver({}, stack_name=STACK, region=REGION, account_id=ACCOUNT)
    assert empty.resolve({"Ref": "AWS::AccountId"}, WHERE) == ACCOUNT
    with pytest.raises(TemplateError, match="no such resource or parameter"):
        empty.resolve({"Ref": "Table"}, WHERE)


# --- known bugs (the correct behaviour, expected to fail until intrinsics.py is fixed) ---------


@pytest.mark.parametrize(
    "value",
    [
        {"Fn::Select": [3, ["a", "b"]]},  # IndexError
        {"Fn::Select": ["-1", ["a", "b"]]},  # silently gives "b"
        {"Fn::Select": ["first", ["a", "b"]]},  # ValueError from int()
    ],
)
def test_select_with_a_bad_index_is_a_template_error_naming_where(value):
    assert error_of(value).startswith(f"{WHERE}: ")


@pytest.mark.parametrize(
    "value",
    [
        {"Fn::Join": ","},
        {"Fn::Select": [0]},
        {"Fn::Split": "a,b"},
        {"Fn::Sub": ["${X}"]},
        {"Fn::GetAtt": "Table"},
        {"Fn::GetAtt": ["Table", "Arn", "Extra"]},
    ],
)
def test_a_malformed_argument_is_a_template_error_naming_where(value):
    assert error_of(value).startswith(f"{WHERE}: ")


def test_sub_does_not_rewrite_a_substituted_value():
    assert resolve({"Fn::Sub": ["${Value}", {"Value": "${!kept}"}]}) == "${!kept}"


def test_ref_to_a_bucket_is_the_name_in_its_arn():
    name = resolve({"Ref": "Bucket"})
    assert resolve({"Fn::GetAtt": "Bucket.Arn"}) == f"arn:aws:s3:::{name}"


def test_ref_to_a_queue_is_its_url():
    assert resolve({"Ref": "NamedQueue"}) == f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/jobs"


def test_stream_arn_of_a_table_without_a_stream_is_an_error():
    message = error_of({"Fn::GetAtt": "NamedTable.StreamArn"})
    assert message.startswith(f"{WHERE}: !GetAtt NamedTable.StreamArn")
