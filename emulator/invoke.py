"""`python -m emulator.invoke FUNCTION [--event FILE]` (`make invoke`): `sam local invoke`, without
Docker. One function on one event through Lambda's Invoke API, with `X-Amz-Log-Type: Tail`:
prints the function's log lines, its result and the X-Ray trace id.

When a local stack is running (its endpoints file names a Lambda endpoint that answers), the
event goes to that stack's Lambda, so its tables and its X-Ray see the call. Otherwise a stack
is started for this one call (on free ports, with the same tables and trace store as `make run`)
and stopped after it.
"""

import argparse
import base64
import contextlib
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from emulator.app.model import DEFAULT_REGION, DEFAULT_STACK_NAME
from emulator.cli import EXIT_STARTUP_ERROR, built_template, parameter_overrides
from emulator.stack import Stack, StackConfig, StartupError

# How long a call may take: the function's own Timeout is at most 900 s in Lambda.
INVOKE_TIMEOUT_SECONDS = 910.0


@dataclass(frozen=True)
class Answer:
    status: int
    payload: bytes
    function_error: str | None
    log: str
    trace_id: str
    error_type: str | None  # Lambda refused the call (x-amzn-ErrorType)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulator.invoke",
        description="Run one function on one event through the local Lambda (as `sam local invoke`).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("function", help="the function: its logical id (as sam local invoke takes it), name or ARN")
    add("--event", "-e", type=Path, help="a file with the event (JSON); none: {}")
    add("--template", type=Path, default=Path("template.yaml"), help="the source template")
    add("--build-dir", type=Path, default=Path(".aws-sam/build"), help="the `sam build` output to run")
    add("--runtime-dir", type=Path, default=Path("build/lambda-runtime"), help="the local Lambda runtime")
    add("--endpoints-file", type=Path, default=Path("build/endpoints.json"),
        help="a running stack's endpoints: its Lambda is used when it answers")  # fmt: skip
    add("--data-dir", type=Path, default=Path("build/dynamodb"), help="the tables, as `make run` keeps them")
    add(
        "--xray-db",
        type=Path,
        default=Path("build/xray/traces.db"),
        help="the traces, as `make run` keeps them",
    )
    add(
        "--parameter-overrides", nargs="+", default=[], metavar="NAME=VALUE", help="template parameter values"
    )
    return parser.parse_args(argv)


def invoke(endpoint: str, function: str, event: bytes) -> Answer:
    url = f"{endpoint}/2015-03-31/functions/{quote(function, safe='')}/invocations"
    headers = {"X-Amz-Invocation-Type": "RequestResponse", "X-Amz-Log-Type": "Tail"}
    call = urllib.request.Request(url, data=event, headers=headers, method="POST")
    try:
        response = urllib.request.urlopen(call, timeout=INVOKE_TIMEOUT_SECONDS)
    except urllib.error.HTTPError as refused:
        response = refused
    with response:
        body = response.read()
        found = response.headers
        return Answer(
            status=response.status,
            payload=body,
            function_error=found.get("X-Amz-Function-Error"),
            log=base64.b64decode(found.get("X-Amz-Log-Result") or "").decode(errors="replace"),
            trace_id=(found.get("X-Amzn-Trace-Id") or "").removeprefix("Root="),
            error_type=found.get("x-amzn-ErrorType"),
        )


def running_endpoint(endpoints_file: Path) -> str | None:
    """The Lambda endpoint of a stack that is running now, if any."""
    try:
        endpoint = json.loads(endpoints_file.read_text()).get("lambda")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(endpoint, str):
        return None
    try:  # anything that answers HTTP there is the stack (a 404 for this path)
        urllib.request.urlopen(f"{endpoint}/", timeout=2)
    except urllib.error.HTTPError:
        return endpoint
    except OSError:
        return None
    return endpoint


@contextlib.contextmanager
def own_stack(args: argparse.Namespace) -> Iterator[str]:
    """A stack for this one call, every port free, its function lines on stderr as they come."""
    config = StackConfig(
        built_template=built_template(args.template, args.build_dir),
        runtime_dir=args.runtime_dir,
        xray_db=args.xray_db,
        data_dir=args.data_dir,
        stack_name=DEFAULT_STACK_NAME,
        region=DEFAULT_REGION,
        parameter_overrides=parameter_overrides(args.template, args.parameter_overrides),
        source_template=args.template if args.template.is_file() else None,
        log=lambda source, line: None,  # the Tail has the invocation's lines
        progress=lambda message: print(f"… {message}", file=sys.stderr, flush=True),
    )
    with Stack(config) as stack:
        endpoint = stack.lambda_endpoint
        assert endpoint is not None
        yield endpoint


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        event = args.event.read_bytes() if args.event is not None else b"{}"
    except OSError as error:
        print(f"error: cannot read the event: {error}", file=sys.stderr)
        return EXIT_STARTUP_ERROR
    endpoint = running_endpoint(args.endpoints_file)
    try:
        if endpoint is not None:
            print(f"… invoking through the running stack's Lambda at {endpoint}", file=sys.stderr)
            answer = invoke(endpoint, args.function, event)
        else:
            with own_stack(args) as own:
                answer = invoke(own, args.function, event)
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_STARTUP_ERROR
    if answer.error_type is not None:
        message = json.loads(answer.payload or b"{}").get("message", "")
        print(f"error: {answer.error_type}: {message}", file=sys.stderr)
        return 1
    sys.stderr.write(answer.log)
    print(answer.payload.decode(errors="replace"))
    if answer.function_error:
        print(f"function error: {answer.function_error}", file=sys.stderr)
    # Stored in the stack's X-Ray (build/xray/traces.db, which `make run` serves too).
    print(
        f"trace id: {answer.trace_id}  (with the stack running: make traces ARGS='--id {answer.trace_id}')",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
