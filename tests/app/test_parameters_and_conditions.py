"""Parameter overrides (as `sam deploy --parameter-overrides` and samconfig.toml give them), Conditions
and Fn::If: the local stack runs the variant a deploy with the same values would create."""

from pathlib import Path

import pytest

from emulator.app.errors import TemplateError
from emulator.app.intrinsics import Resolver
from emulator.app.parameter_overrides import parse_overrides, samconfig_overrides
from emulator.app.template import load_app
from emulator.cli import parameter_overrides
from emulator.stack import StartupError

DOCUMENT = {
    "Parameters": {
        "Instrumentation": {
            "Type": "String",
            "Default": "xray-sdk",
            "AllowedValues": ["xray-sdk", "opentelemetry"],
        },
        "Debug": {"Type": "String", "Default": "false"},
    },
    "Conditions": {
        "UseOpenTelemetry": {"Fn::Equals": [{"Ref": "Instrumentation"}, "opentelemetry"]},
        "UseXRaySdk": {"Fn::Not": [{"Condition": "UseOpenTelemetry"}]},
        "OtelAndDebug": {
            "Fn::And": [{"Condition": "UseOpenTelemetry"}, {"Fn::Equals": [{"Ref": "Debug"}, True]}]
        },
        "Either": {"Fn::Or": [{"Condition": "UseXRaySdk"}, {"Condition": "UseOpenTelemetry"}]},
        "Loop": {"Condition": "Loop"},
    },
    "Resources": {},
}
HANDLER = {"Fn::If": ["UseOpenTelemetry", "otel_app.lambda_handler", "app.lambda_handler"]}


def resolver(**overrides: str) -> Resolver:
    return Resolver(
        DOCUMENT,
        stack_name="sam-app",
        region="ap-northeast-1",
        account_id="123456789012",
        parameter_overrides=overrides,
    )


def test_fn_if_takes_the_default_without_overrides_and_the_override_with_one():
    assert resolver().resolve(HANDLER, "Handler") == "app.lambda_handler"
    assert resolver(Instrumentation="opentelemetry").resolve(HANDLER, "Handler") == "otel_app.lambda_handler"
    assert (
        resolver(Instrumentation="opentelemetry").resolve({"Ref": "Instrumentation"}, "x") == "opentelemetry"
    )


def test_condition_functions_evaluate_as_cloudformation_does():
    plain, otel, otel_debug = resolver(), resolver(Instrumentation="opentelemetry"), None
    otel_debug = resolver(Instrumentation="opentelemetry", Debug="true")
    assert (plain.condition("UseXRaySdk", "x"), otel.condition("UseXRaySdk", "x")) == (True, False)
    # YAML's true compares equal to the text "true", as CloudFormation compares values as text.
    assert (otel.condition("OtelAndDebug", "x"), otel_debug.condition("OtelAndDebug", "x")) == (False, True)
    assert plain.condition("Either", "x") and otel.condition("Either", "x")


def test_aws_no_value_in_a_branch_removes_the_property():
    value = {
        "Layers": {"Fn::If": ["UseOpenTelemetry", ["arn:layer"], {"Ref": "AWS::NoValue"}]},
        "Handler": "a.b",
    }
    assert resolver().resolve(value, "Properties") == {"Handler": "a.b"}
    assert resolver(Instrumentation="opentelemetry").resolve(value, "Properties")["Layers"] == ["arn:layer"]


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"Instrumentaton": "opentelemetry"}, "no such parameter (the template has: Instrumentation, Debug)"),
        ({"Instrumentation": "otel"}, "not one of its AllowedValues (xray-sdk, opentelemetry)"),
    ],
)
def test_an_override_cloudformation_would_refuse_is_refused(overrides: dict[str, str], words: str):
    with pytest.raises(TemplateError, match=r".*" + words.replace("(", r"\(").replace(")", r"\)")):
        resolver(**overrides)


def test_unknown_or_looping_conditions_are_errors_naming_them():
    with pytest.raises(TemplateError, match='no condition named "Nope"'):
        resolver().resolve({"Fn::If": ["Nope", 1, 2]}, "Handler")
    with pytest.raises(TemplateError, match=r"Conditions\.Loop refers to itself"):
        resolver().condition("Loop", "x")


def test_both_sam_cli_spellings_are_read():
    assert parse_overrides(["Instrumentation=opentelemetry Debug=true"]) == {
        "Instrumentation": "opentelemetry",
        "Debug": "true",
    }
    assert parse_overrides(["ParameterKey=Instrumentation,ParameterValue=opentelemetry", "Note='a b'"]) == {
        "Instrumentation": "opentelemetry",
        "Note": "a b",
    }
    with pytest.raises(TemplateError, match="write it as Name=Value"):
        parse_overrides(["opentelemetry"])


def test_samconfig_deploy_section_wins_over_global_and_the_command_line_over_both(tmp_path: Path):
    (tmp_path / "samconfig.toml").write_text(
        "version = 0.1\n[default.global.parameters]\n"
        'parameter_overrides = "Instrumentation=xray-sdk Debug=true"\n'
        '[default.deploy.parameters]\nparameter_overrides = ["Instrumentation=opentelemetry"]\n'
    )
    assert samconfig_overrides(tmp_path / "samconfig.toml") == {
        "Instrumentation": "opentelemetry",
        "Debug": "true",
    }
    template = tmp_path / "template.yaml"
    assert parameter_overrides(template, ["Debug=false"]) == {
        "Instrumentation": "opentelemetry",
        "Debug": "false",
    }
    assert samconfig_overrides(tmp_path / "missing.toml") == {}
    (tmp_path / "samconfig.toml").write_text("[default\n")
    with pytest.raises(StartupError, match=r"samconfig\.toml: cannot read it"):
        parameter_overrides(template, [])


def test_the_tutorial_template_runs_the_handler_the_parameter_names():
    template = Path(__file__).resolve().parents[2] / "template.yaml"
    handlers = {
        value: {
            f.logical_id: f.handler
            for f in load_app(template, parameter_overrides=overrides).functions.values()
        }
        for value, overrides in (("default", {}), ("otel", {"Instrumentation": "opentelemetry"}))
    }
    assert handlers["default"] == {
        "HelloWorldFunction": "app.lambda_handler",
        "SamDdbFunction": "app.lambda_handler",
    }
    assert handlers["otel"] == {
        "HelloWorldFunction": "otel_app.lambda_handler",
        "SamDdbFunction": "otel_app.lambda_handler",
    }
    assert load_app(template, parameter_overrides={"Instrumentation": "opentelemetry"}).parameters == {
        "Instrumentation": "opentelemetry"
    }


def test_a_resource_whose_condition_is_false_is_not_run(tmp_path: Path):
    (tmp_path / "fn").mkdir()
    (tmp_path / "template.yaml").write_text(
        "Parameters:\n  Extra: {Type: String, Default: 'no'}\n"
        "Conditions:\n  WithExtra: !Equals [!Ref Extra, 'yes']\n"
        "Resources:\n"
        "  Main:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: fn/, Handler: a.h, Runtime: python3.11}\n"
        "  Extra:\n    Type: AWS::Serverless::Function\n    Condition: WithExtra\n"
        "    Properties: {CodeUri: fn/, Handler: b.h, Runtime: python3.11}\n"
    )
    assert list(load_app(tmp_path / "template.yaml").functions) == ["Main"]
    with_extra = load_app(tmp_path / "template.yaml", parameter_overrides={"Extra": "yes"})
    assert list(with_extra.functions) == ["Main", "Extra"]


def test_a_layer_not_in_the_template_is_refused_not_run_without_it(tmp_path: Path):
    (tmp_path / "fn").mkdir()
    (tmp_path / "template.yaml").write_text(
        "Conditions:\n  Never: !Equals [a, b]\n"
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      CodeUri: fn/\n      Handler: a.h\n      Runtime: python3.11\n"
        "      Layers: !If [Never, [arn:aws:lambda:ap-northeast-1:123:layer:otel:1], !Ref AWS::NoValue]\n"
    )
    assert list(load_app(tmp_path / "template.yaml").functions) == ["Fn"]  # no layer chosen: it runs
    text = (tmp_path / "template.yaml").read_text().replace("!If [Never,", "!If [Always,")
    (tmp_path / "template.yaml").write_text(text.replace("Never: !Equals [a, b]", "Always: !Equals [a, a]"))
    refused = r"Fn.Layers: arn:aws:lambda:\S+:1 is not a layer of this template"
    with pytest.raises(TemplateError, match=refused):
        load_app(tmp_path / "template.yaml")


def test_layers_of_the_template_are_the_function_s_built_folders_in_order(tmp_path: Path):
    for folder in ("fn", "FirstLayer", "SecondLayer"):
        (tmp_path / folder).mkdir()
    (tmp_path / "template.yaml").write_text(
        "Resources:\n"
        "  FirstLayer:\n    Type: AWS::Serverless::LayerVersion\n"
        "    Properties:\n      ContentUri: FirstLayer\n"
        "  SecondLayer:\n    Type: AWS::Lambda::LayerVersion\n"
        "    Properties:\n      Content: SecondLayer\n      LayerName: second\n"
        "  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      CodeUri: fn/\n      Handler: a.h\n      Runtime: python3.11\n"
        "      Layers:\n        - !Ref SecondLayer\n"
        "        - arn:aws:lambda:ap-northeast-1:123456789012:layer:FirstLayer:1\n"
    )
    function = load_app(tmp_path / "template.yaml").functions["Fn"]
    assert function.layers == (tmp_path / "SecondLayer", tmp_path / "FirstLayer")
