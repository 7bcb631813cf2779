"""`--sampling default`: the stage decides as AWS's Default rule would for requests that come
with no decision; a caller's Sampled=0/1 always wins."""

import re

import pytest

from emulator.stack import Stack, StackConfig
from emulator.tracing.sampling import DefaultRuleSampler, TraceEverything
from emulator.tracing.trace_header import new_trace_id
from tests.stack_helpers import SegmentCollector, request, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(fixture_app_template, lambda_runtime_dir):
    with running_stack(fixture_app_template, lambda_runtime_dir) as running:
        # One second that never ends, and a random source above the 5 %: after the reservoir's
        # one request, nothing more is sampled.
        running.gateway.sampler = DefaultRuleSampler(clock=lambda: 1_000_000.0, random_source=lambda: 0.99)
        yield running


def traced(response) -> tuple[str, bool]:
    match = re.fullmatch(
        r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Sampled=([01])", response.header("X-Amzn-Trace-Id")
    )
    assert match, response.header("X-Amzn-Trace-Id")
    return match.group(1), match.group(2) == "1"


def test_the_first_request_of_the_second_is_traced_and_the_next_are_not(stack):
    decisions = [traced(request("GET", stack.url + "/echo")) for _ in range(3)]
    assert [sampled for _, sampled in decisions] == [True, False, False]
    first, *others = [root for root, _ in decisions]
    assert stack.collector.for_trace(first, origin="AWS::ApiGateway::Stage") != []
    for root in others:
        assert stack.collector.for_trace(root, origin="AWS::ApiGateway::Stage", timeout=0.5) == []


def test_a_callers_decision_wins_over_the_rule(stack):
    root = new_trace_id()
    response = request("GET", stack.url + "/echo", headers={"X-Amzn-Trace-Id": f"Root={root};Sampled=1"})
    assert traced(response) == (root, True)
    assert stack.collector.for_trace(root, origin="AWS::ApiGateway::Stage") != []


@pytest.mark.parametrize("mode, sampler", [("all", TraceEverything), ("default", DefaultRuleSampler)])
def test_the_stack_option_picks_the_sampler(fixture_app_template, lambda_runtime_dir, mode, sampler):
    collector = SegmentCollector()
    config = StackConfig(
        built_template=fixture_app_template,
        runtime_dir=lambda_runtime_dir,
        xray_daemon_address=collector.address,
        sampling=mode,
    )
    try:
        with Stack(config) as running:
            assert running.gateway is not None and isinstance(running.gateway.sampler, sampler)
    finally:
        collector.close()
