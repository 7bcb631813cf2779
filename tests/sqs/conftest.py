"""moto in a child process, as the stack runs it, for the SQS tests; and an SQS client of it."""

from pathlib import Path
from typing import Any

import pytest

from emulator.dynamodb.moto_process import MotoProcess
from emulator.sqs.queues import sqs_client
from tests.conftest import REPO_ROOT, sam_build

SQS_APP = REPO_ROOT / "tests" / "sqs_app"

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"


@pytest.fixture()
def sqs(shared_moto: MotoProcess) -> Any:
    return sqs_client(shared_moto.endpoint_url, REGION)


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


@pytest.fixture(scope="session")
def sqs_app_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/sqs_app/, built by the real `sam build` once for the session."""
    return sam_build(SQS_APP / "template.yaml", tmp_path_factory.mktemp("sqs-build")).template
