"""A function added the usual SAM way (a folder with app.py, CodeUri, Handler, an Api event and no
Role of its own) is picked up by the template tests and fails only the least-privilege check, with
what to add; nothing fails with an error from inside the SAM translator."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.template.role_policies import functions_with_own_role, missing_role_message, role_of
from tests.template.sam_transform import resources_of_type, translate
from tests.template_reader import REPO_ROOT, TEMPLATE_PATH, api_routes, load_template, serverless_functions

NEW_FUNCTION = "NewFunction"
NEW_FUNCTION_YAML = """\
  NewFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: new_function/
      Handler: app.lambda_handler
      Events:
        New:
          Type: Api
          Properties:
            Path: /new
            Method: get
"""
NEW_FUNCTION_APP = 'def lambda_handler(event, context):\n    return {"statusCode": 200, "body": "new"}\n'
TEMPLATE_TESTS = ("test_template_permissions.py", "test_template_translation.py", "test_template_wiring.py")


@pytest.fixture
def new_function_template(tmp_path: Path) -> Path:
    """A copy of template.yaml with NewFunction added as the first resource, next to its code."""
    text = TEMPLATE_PATH.read_text()
    assert text.count("\nResources:\n") == 1
    path = tmp_path / "template.yaml"
    path.write_text(text.replace("\nResources:\n", f"\nResources:\n{NEW_FUNCTION_YAML}", 1))
    (tmp_path / "new_function").mkdir()
    (tmp_path / "new_function" / "app.py").write_text(NEW_FUNCTION_APP)
    return path


def test_the_transform_takes_a_function_with_local_code_and_no_role(new_function_template: Path):
    template = load_template(new_function_template)

    translated = translate(template)

    assert translated["Resources"][NEW_FUNCTION]["Properties"]["TracingConfig"] == {"Mode": "Active"}
    assert (NEW_FUNCTION, "/new", "get") in api_routes(template)
    # What the least-privilege check guards against: a role SAM makes, with managed policies.
    generated = resources_of_type(translated, "AWS::IAM::Role")[f"{NEW_FUNCTION}Role"]
    assert generated["Properties"]["ManagedPolicyArns"]


def test_the_least_privilege_check_says_what_to_add(new_function_template: Path):
    template = load_template(new_function_template)

    with pytest.raises(pytest.fail.Exception) as failure:
        role_of(template, NEW_FUNCTION)

    message = str(failure.value)
    assert message == missing_role_message(NEW_FUNCTION)
    assert "\n" not in message
    assert message.startswith("NewFunction has no Role of its own: add an AWS::IAM::Role NewFunctionRole")
    assert "`Role: !GetAtt NewFunctionRole.Arn`" in message
    # The tests of what a role allows run for the functions that have one.
    assert NEW_FUNCTION in serverless_functions(template)
    assert NEW_FUNCTION not in functions_with_own_role(template, serverless_functions(template))


def test_the_template_tests_fail_only_on_the_missing_role(new_function_template: Path, tmp_path: Path):
    report = tmp_path / "report.xml"
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
        *(str(Path(__file__).parent / name) for name in TEMPLATE_TESTS),
    ]  # fmt: skip
    env = {**os.environ, "TEMPLATE_UNDER_TEST": str(new_function_template)}

    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)

    cases = ET.parse(report).getroot().iter("testcase")
    outcomes = {case.get("name"): [(child.tag, child.get("message")) for child in case] for case in cases}
    not_passed = {name: problems for name, problems in outcomes.items() if problems}
    assert not_passed == {
        f"test_function_runs_with_its_own_role_and_no_sam_generated_policies[{NEW_FUNCTION}]": [
            ("failure", f"Failed: {missing_role_message(NEW_FUNCTION)}")
        ]
    }, result.stdout
    assert result.returncode == 1
    # NewFunction was tested, not left out.
    assert outcomes[f"test_functions_have_active_tracing[{NEW_FUNCTION}]"] == []
    assert outcomes[f"test_no_explicit_api_bypasses_the_global_tracing[{NEW_FUNCTION}]"] == []
