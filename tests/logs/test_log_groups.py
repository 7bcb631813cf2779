"""The template's AWS::Logs::LogGroup resources are read with their names and retention, and
created in moto at start (once: a restart on the same data keeps them as they are)."""

from pathlib import Path

from emulator.app.template import load_app
from emulator.logs.service import CloudWatchLogs
from emulator.logs.shipper import logs_client

ROOT = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-1"


def test_the_tutorials_log_groups_are_read_and_are_the_functions_groups():
    app = load_app(ROOT / "template.yaml")

    groups = {group.logical_id: (group.log_group_name, group.retention_in_days) for group in app.log_groups}

    assert groups == {
        "HelloWorldLogGroup": ("/aws/lambda/sam-app/HelloWorldFunction", 14),
        "SamDdbLogGroup": ("/aws/lambda/sam-app/SamDdbFunction", 14),
    }
    # LoggingConfig.LogGroup (!Ref) points each function at its group.
    assert app.functions["HelloWorldFunction"].log_group_name == groups["HelloWorldLogGroup"][0]
    assert app.functions["SamDdbFunction"].log_group_name == groups["SamDdbLogGroup"][0]


def test_start_creates_them_with_their_retention_and_a_second_start_leaves_them(moto):
    app = load_app(ROOT / "template.yaml", stack_name="other-stack")
    said: list[str] = []

    for _ in range(2):
        logs = CloudWatchLogs(app, endpoint_url=moto.endpoint_url, log=said.append)
        logs.start()
        logs.stop()

    described = logs_client(moto.endpoint_url, REGION).describe_log_groups()["logGroups"]
    assert {(group["logGroupName"], group.get("retentionInDays")) for group in described} == {
        ("/aws/lambda/other-stack/HelloWorldFunction", 14),
        ("/aws/lambda/other-stack/SamDdbFunction", 14),
    }
    assert [line for line in said if line.startswith("created log group")] == [
        "created log group /aws/lambda/other-stack/HelloWorldFunction (HelloWorldLogGroup)",
        "created log group /aws/lambda/other-stack/SamDdbFunction (SamDdbLogGroup)",
    ]
