"""The issue's kill table, short: the stack under concurrent writes, ended each way a machine
ends it; every write answered 200 is stored, and the stack and its children end.

`make soak` runs the same rounds with 10,000 requests and prints the figures.
"""

import pytest

from bench.soak import FAULTS, run_round

REQUESTS_PER_ROUND = 120
CLIENTS = 8


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_acknowledged_write_survives(fault, tutorial_app_template, lambda_runtime_dir, tmp_path):
    result = run_round(fault, tutorial_app_template.parent, tmp_path, REQUESTS_PER_ROUND, CLIENTS)
    assert result.acknowledged > 0, f"no write was acknowledged before the fault: {result.statuses}"
    assert result.lost == 0, f"{result.lost} of {result.acknowledged} acknowledged writes lost"
    assert result.shutdown_seconds is not None, "the stack did not end: it hung and was killed"
    assert result.children_seconds is not None, "a child of the stack outlived it"
    # Never a 500. A 503 is sam_ddb's own answer while moto restarts (DynamoDB unreachable),
    # a 502 the invocation whose worker was killed: both as AWS would answer.
    assert "500" not in result.statuses, result.statuses
