"""Layers built by `sam build` and InlineCode (tests/layer_app/), through the real stack.

Lambda extracts a function's layers into /opt in the order of its Layers, a later layer's file
replacing an earlier one's, and puts /opt/python/lib/python3.11/site-packages and /opt/python on
sys.path after the function's code and before the runtime's; the local stack gives each function a
folder that stands for /opt (LOCAL_LAMBDA_OPT_DIR). InlineCode is the function's index.py.
!GetAtt of resources the stack does not create resolve to the values CloudFormation documents.
"""

from pathlib import Path

import pytest

from emulator.app.resource_names import physical_name
from tests.conftest import REPO_ROOT, sam_build
from tests.stack_helpers import RunningStack, request, running_stack

pytestmark = pytest.mark.slow

LAYER_APP = REPO_ROOT / "tests" / "layer_app"


@pytest.fixture(scope="module")
def layer_app_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sam_build(LAYER_APP / "template.yaml", tmp_path_factory.mktemp("layer-build")).template


@pytest.fixture(scope="module")
def stack(layer_app_template, lambda_runtime_dir):
    with running_stack(layer_app_template, lambda_runtime_dir) as running:
        yield running


def test_a_function_imports_a_module_of_its_layer(stack: RunningStack):
    response = request("GET", stack.url + "/layered")
    assert response.status == 200, response.body
    assert response.json()["greeting"] == "hello layers from a layer"


def test_the_later_layer_s_copy_of_a_module_wins(stack: RunningStack):
    assert request("GET", stack.url + "/layered").json()["precedence"] == "override_layer"


def test_opt_is_on_sys_path_after_the_code_and_before_the_runtime(stack: RunningStack, lambda_runtime_dir):
    body = request("GET", stack.url + "/layered").json()
    sys_path = body["sys_path"]
    opt = Path(body["opt_dir"])
    code = sys_path.index(str(stack.app.functions["LayeredFunction"].code_dir))
    site_packages = sys_path.index(str(opt / "python" / "lib" / "python3.11" / "site-packages"))
    python = sys_path.index(str(opt / "python"))
    runtime = sys_path.index(str(lambda_runtime_dir.resolve()))
    assert code < site_packages < python < runtime
    # The folder holds both layers' files, as /opt would; a file both have is the later layer's.
    assert sorted(path.name for path in (opt / "python").glob("*.py")) == ["greeting.py", "precedence.py"]
    assert (opt / "python" / "precedence.py").resolve().parent.parent.name == "OverrideLayer"


def test_a_layer_s_ref_is_its_version_arn(stack: RunningStack):
    assert request("GET", stack.url + "/layered").json()["layer_arn"] == (
        "arn:aws:lambda:ap-northeast-1:123456789012:layer:SharedLayer:1"
    )


def test_inline_code_runs_as_index_py(stack: RunningStack):
    response = request("GET", stack.url + "/inline")
    assert response.status == 200, response.body
    assert response.json() == {"file": "index.py"}


def test_getatt_values_reach_the_function(stack: RunningStack):
    getatt = request("GET", stack.url + "/layered").json()["getatt"]
    inline = stack.app.functions["InlineFunction"]
    assert getatt == {
        "QUEUE_URL": "https://sqs.ap-northeast-1.amazonaws.com/123456789012/layer-app-jobs",
        "QUEUE_ARN": "arn:aws:sqs:ap-northeast-1:123456789012:layer-app-jobs",
        "TOPIC_NAME": physical_name("sam-app", "Alerts"),
        "BUCKET_DOMAIN": "layer-app-files.s3.ap-northeast-1.amazonaws.com",
        "INLINE_ROLE_ARN": f"arn:aws:iam::123456789012:role/{physical_name('sam-app', 'InlineFunctionRole')}",
        "INLINE_ARN": inline.arn,
    }


def test_resources_not_created_are_named_at_start(stack: RunningStack):
    for resource in ("Alerts (AWS::SNS::Topic)", "Files (AWS::S3::Bucket)"):
        assert any(item.startswith(resource + ": not created") for item in stack.app.ignored), resource
    # A queue is created (in the local SQS), so it is not among them.
    assert not any(item.startswith("Jobs ") for item in stack.app.ignored)
