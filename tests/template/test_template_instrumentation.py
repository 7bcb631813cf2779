"""The Instrumentation parameter: one template, the functions traced with the X-Ray SDK (app.py) or
with OpenTelemetry (otel_app.py), and everything else (tracing, roles, events) the same."""

from typing import Any

from samtranslator.translator.transform import transform

from tests.template.sam_transform import REGION, NoManagedPolicies, resources_of_type, with_code_in_s3
from tests.template_reader import REPO_ROOT, Template, properties, serverless_functions

HANDLERS = {"xray-sdk": "app.lambda_handler", "opentelemetry": "otel_app.lambda_handler"}


def translated_with(template: Template, instrumentation: str, monkeypatch: Any) -> dict[str, Any]:
    """The CloudFormation template, the parameter given as `sam deploy --parameter-overrides` gives it."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return transform(with_code_in_s3(template), {"Instrumentation": instrumentation}, NoManagedPolicies())


def test_the_parameter_defaults_to_the_x_ray_sdk_and_allows_only_the_two_variants(template: Template):
    parameter = template["Parameters"]["Instrumentation"]
    assert parameter["Default"] == "xray-sdk"
    assert parameter["AllowedValues"] == list(HANDLERS)
    assert template["Conditions"]["UseOpenTelemetry"] == {
        "Fn::Equals": [{"Ref": "Instrumentation"}, "opentelemetry"]
    }


def test_every_function_chooses_its_handler_by_the_parameter_and_has_both(template: Template):
    for function_id in serverless_functions(template):
        props = properties(template, function_id)
        assert props["Handler"] == {
            "Fn::If": ["UseOpenTelemetry", HANDLERS["opentelemetry"], HANDLERS["xray-sdk"]]
        }
        for handler in HANDLERS.values():
            assert (REPO_ROOT / props["CodeUri"] / f"{handler.split('.')[0]}.py").is_file()


def test_both_variants_deploy_active_tracing_and_the_same_resources(template: Template, monkeypatch):
    # The handler is resolved by CloudFormation at deploy time (the condition stays in the template);
    # the tracing and everything else is the same whichever variant is chosen.
    translated = {value: translated_with(template, value, monkeypatch) for value in HANDLERS}
    assert set(translated["xray-sdk"]["Resources"]) == set(translated["opentelemetry"]["Resources"])
    for value, cloudformation in translated.items():
        functions = resources_of_type(cloudformation, "AWS::Lambda::Function")
        assert set(functions) == set(serverless_functions(template)), value
        for function in functions.values():
            assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}
            assert function["Properties"]["Handler"]["Fn::If"][0] == "UseOpenTelemetry"
        assert cloudformation["Conditions"]["UseOpenTelemetry"]
