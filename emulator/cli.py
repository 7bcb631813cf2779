"""`python -m emulator`: run the built template locally (API Gateway, Lambda, DynamoDB, X-Ray).

Everything binds 127.0.0.1. The exit code is 2, with one line on stderr and no traceback,
when the stack cannot start (no build, a broken template, a port in use); 0 after Ctrl-C or
SIGTERM or SIGHUP, once every server and every function process is stopped; a second signal
stops it at once.
"""

import argparse
import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from rich.console import COLOR_SYSTEMS, Console
from rich.markup import escape
from rich.style import Style

from emulator.apigateway.gateway import DEFAULT_PORT
from emulator.app.errors import TemplateError
from emulator.app.model import DEFAULT_REGION, DEFAULT_STACK_NAME, AppSpec
from emulator.app.parameter_overrides import parse_overrides, samconfig_overrides
from emulator.dynamodb.service import DEFAULT_PORT as DEFAULT_DYNAMODB_PORT
from emulator.edge.server import DEFAULT_PORT as DEFAULT_ENDPOINT_PORT
from emulator.lambda_.invoke_api import DEFAULT_PORT as DEFAULT_LAMBDA_PORT
from emulator.local_credentials import FAKE_CREDENTIALS
from emulator.stack import Stack, StackConfig, StartupError
from emulator.tracing.sampling import SAMPLING_MODES

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
DEFAULT_XRAY_PORT = 2000  # the X-Ray daemon's port, UDP and TCP
DEFAULT_CONSOLE_PORT = 2001  # the X-Ray console's web page, beside the daemon
EXIT_STARTUP_ERROR = 2
# Function log lines get one of these colours each, so interleaved output stays readable.
_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Run the SAM app (the `sam build` output) locally: API Gateway, Lambda, DynamoDB, X-Ray.",
        epilog="Every server binds 127.0.0.1. Ctrl-C, SIGTERM or SIGHUP stops everything; a second, at once.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--template",
        type=Path,
        default=Path("template.yaml"),
        help="the source template (to spot a stale build)",
    )
    add("--build-dir", type=Path, default=Path(".aws-sam/build"), help="the `sam build` output to run")
    add("--runtime-dir", type=Path, default=Path("build/lambda-runtime"),
        help="the local Lambda runtime (`make setup` installs it)")  # fmt: skip
    add("--port", type=int, default=DEFAULT_PORT, help="API Gateway port (0: any free port)")
    add("--dynamodb-port", "--services-port", dest="dynamodb_port", type=int, default=DEFAULT_DYNAMODB_PORT,
        help="DynamoDB (moto) port (0: any free port)")  # fmt: skip
    add("--lambda-port", type=int, default=DEFAULT_LAMBDA_PORT,
        help="Invoke API port, as `sam local start-lambda` (0: any free port, -1: none)")  # fmt: skip
    add("--endpoint-port", type=int, default=DEFAULT_ENDPOINT_PORT,
        help="one endpoint for DynamoDB, Logs, SQS, X-Ray and Lambda, routed by the service a request is "
        "signed for, as LocalStack's (AWS_ENDPOINT_URL; 0: any free port, -1: none)")  # fmt: skip
    add("--xray-port", type=int, default=DEFAULT_XRAY_PORT,
        help="X-Ray daemon (UDP) and API (TCP) port (0: any free port)")  # fmt: skip
    add("--console-port", type=int, default=DEFAULT_CONSOLE_PORT,
        help="the X-Ray console (web page) port (0: any free port, -1: no console)")  # fmt: skip
    add(
        "--xray-db",
        type=Path,
        default=Path("build/xray/traces.db"),
        help="where the local X-Ray keeps its traces",
    )
    add("--xray-daemon-address", metavar="HOST:PORT",
        help="send segments to this X-Ray daemon instead of starting the local X-Ray")  # fmt: skip
    add("--data-dir", type=Path, default=Path("build/dynamodb"),
        help="where table items are kept between runs (delete it to start empty)")  # fmt: skip
    add("--endpoints-file", type=Path, default=Path("build/endpoints.json"),
        help="where the running stack's URLs are written (`make map` and `make traces` read it)")  # fmt: skip
    add(
        "--stack-name",
        default=DEFAULT_STACK_NAME,
        help="names the functions and the stage segment as a deploy would",
    )
    add("--region", default=DEFAULT_REGION, help="the region the ARNs, moto and the AWS CLI lines use")
    add("--parameter-overrides", nargs="+", default=[], metavar="NAME=VALUE",
        help="template parameter values, as `sam deploy --parameter-overrides` takes them; they win over "
        "samconfig.toml's parameter_overrides (beside --template), which win over the Defaults")  # fmt: skip
    add("--sampling", choices=SAMPLING_MODES, default="all",
        help="all: trace every request; default: as AWS's Default rule (1 a second, then 5%%)")  # fmt: skip
    add("--no-watch", dest="watch", action="store_false",
        help="do not watch the functions' sources and the template (by default an edit is rebuilt with "
        "`sam build <Function>` and reloaded)")  # fmt: skip
    return parser.parse_args(argv)


def parameter_overrides(template: Path, given: list[str]) -> dict[str, str]:
    """What `sam deploy` would use: samconfig.toml's parameter_overrides, then the command line's."""
    try:
        return samconfig_overrides(template.parent / "samconfig.toml") | parse_overrides(given)
    except TemplateError as error:
        raise StartupError(str(error)) from None


def built_template(template: Path, build_dir: Path) -> Path:
    """The `sam build` output for `template`, refusing a missing or stale build."""
    built = build_dir / "template.yaml"
    if not built.is_file():
        raise StartupError(f"no build at {built}: run `make build` (or `sam build`) first")
    if template.is_file() and template.stat().st_mtime > built.stat().st_mtime:
        raise StartupError(f"{built} is older than {template}: run `make build` (or `sam build`) again")
    return built


class LogLines:
    """Writes log lines to the terminal behind a coloured prefix (a function name, `api`).

    These run for every request, so the prefix is rendered once and each line is written
    as it is: rich's markup parsing would cost ~0.1 ms a line on the request path.
    """

    def __init__(self, console: Console, app: AppSpec) -> None:
        self._file = console.file
        self._lock = threading.Lock()
        self._prefixes: dict[str, str] = {"api": self._render(console, "api", Style(bold=True))}
        for index, function in enumerate(app.functions.values()):
            style = Style(color=_COLOURS[index % len(_COLOURS)])
            for name in (function.logical_id, function.function_name):
                self._prefixes[name] = self._render(console, name, style)

    @staticmethod
    def _render(console: Console, name: str, style: Style) -> str:
        # Plain text when the output is not a colour terminal (a file, NO_COLOR).
        if console.color_system is None:
            return name
        # Style.render takes the ColorSystem, Console.color_system gives its name.
        return style.render(name, color_system=COLOR_SYSTEMS[console.color_system])

    def __call__(self, source: str, line: str) -> None:
        prefix = self._prefixes.get(source, source)
        # A closed terminal must not stop the stack's threads: the lines are lost, the
        # requests go on.
        with self._lock, contextlib.suppress(OSError):
            self._file.write(f"{prefix} {line.rstrip()}\n")
            self._file.flush()


def aws_command(region: str) -> str:
    """An AWS CLI command line that works as printed: moto keeps its data per region and
    needs a signed request (any credentials) to find it."""
    aws = ".venv/bin/aws" if Path(".venv/bin/aws").exists() else "aws"
    credentials = " ".join(f"{name.upper()}={value}" for name, value in FAKE_CREDENTIALS.items())
    return f"{credentials} AWS_DEFAULT_REGION={region} {aws}"


def sam_command(region: str, logs_endpoint: str) -> str:
    """A SAM CLI command line for the local CloudWatch Logs: `sam logs` takes no --endpoint-url,
    so botocore's endpoint variable for the service points it there."""
    sam = ".venv/bin/sam" if Path(".venv/bin/sam").exists() else "sam"
    credentials = " ".join(f"{name.upper()}={value}" for name, value in FAKE_CREDENTIALS.items())
    return f"{credentials} AWS_DEFAULT_REGION={region} AWS_ENDPOINT_URL_CLOUDWATCH_LOGS={logs_endpoint} {sam}"


def print_banner(stack: Stack, console: Console) -> None:
    assert stack.app is not None and stack.gateway is not None
    app = stack.app
    console.print()
    console.print(f"[bold green]{escape(app.stack_name)}[/] is running locally:")
    if app.parameters:
        values = " ".join(f"{name}={value}" for name, value in app.parameters.items())
        console.print(f"  parameters: {escape(values)}", highlight=False)
    for api, routes in stack.gateway.routes_by_api():
        if not routes:
            continue
        kind = "HTTP API" if api.kind == "HTTP" else "REST API"
        console.print(f"  {kind} {escape(api.logical_id)}, stage {escape(api.stage)}:", highlight=False)
        for route, route_url in routes:
            function = app.functions[route.function].function_name
            # An HTTP API names its catch-all route $default; a 1.0 payload is worth saying.
            notes = "  $default" if route.path == "$default" else ""
            if api.kind == "HTTP" and route.payload_format == "1.0":
                notes += "  (payload 1.0)"
            line = f"    {route.method:<7} {route_url}{notes}  [dim]→ {escape(function)}[/]"
            console.print(line, highlight=False)
    aws = aws_command(app.region)
    print_try_it(stack, console)
    print_event_sources(stack, console, aws)
    endpoint = stack.dynamodb_endpoint
    console.print(f"\nDynamoDB (moto): {endpoint}", highlight=False)
    for table in app.tables:
        console.print(
            f"  {aws} dynamodb scan --table-name {table.table_name} --endpoint-url {endpoint}",
            highlight=False,
        )
    # CloudWatch Logs is moto's endpoint too: moto routes a request by the service it is signed for.
    logs = stack.logs_endpoint
    console.print(f"\nCloudWatch Logs (moto): {logs}", highlight=False)
    groups = sorted({function.log_group_name for function in app.functions.values()})
    for group in groups:
        console.print(
            f"  {aws} logs filter-log-events --log-group-name {group} --endpoint-url {logs}", highlight=False
        )
    if groups:
        console.print(
            f"  {sam_command(app.region, logs)} logs --cw-log-group {groups[0]} --tail", highlight=False
        )
    lambda_url = stack.lambda_endpoint
    if lambda_url is not None:
        console.print(f"\nLambda (Invoke API, as sam local start-lambda): {lambda_url}", highlight=False)
        first = next(iter(app.functions), None)
        if first is not None:
            console.print(
                f"  {aws} lambda invoke --function-name {first} --endpoint-url {lambda_url} "
                "--log-type Tail /dev/stdout",
                highlight=False,
            )
    console.print(f"\nX-Ray daemon: {stack.daemon_address} (UDP)", highlight=False)
    api_url = stack.xray_api_url
    if api_url is not None:
        console.print(f"X-Ray API: {api_url}", highlight=False)
        window = "--start-time $(($(date +%s)-600)) --end-time $(date +%s)"
        console.print(f"  {aws} xray get-trace-summaries --endpoint-url {api_url} {window}")
        console.print("  make map                  the service map")
        console.print("  make traces ARGS=--latest the newest trace's timeline")
    if stack.console_url is not None:
        console.print(f"\nX-Ray console: [bold]{stack.console_url}[/] (map, traces, logs)", highlight=False)
    print_endpoint(stack, console)
    if stack.watcher is not None:
        watched = ", ".join(_relative(path) for path in stack.watcher.watched)
        console.print(f"\nWatching {escape(watched)}: an edit is rebuilt and reloaded (--no-watch: off)")
    console.print("\n[bold]Ready.[/] Ctrl-C stops everything.")


# The tutorial's two routes, and the body its README posts.
TUTORIAL_ROUTES = {("GET", "/hello"), ("POST", "/ddb")}
TRY_IT_LIMIT = 6  # curl lines shown; the route list above has them all


def print_try_it(stack: Stack, console: Console) -> None:
    """A curl line per route to start from: the tutorial's own two, or for another template the
    first few routes, path parameters filled with an example value."""
    assert stack.gateway is not None
    routes = [(route, url) for _, listed in stack.gateway.routes_by_api() for route, url in listed]
    if {(route.method, route.path) for route, _ in routes} >= TUTORIAL_ROUTES:
        url = stack.url
        console.print("\nTry the tutorial:")
        console.print(f"  curl {url}/hello", highlight=False)
        console.print(f'  curl -X POST {url}/ddb -d \'{{"key": "my-first-key"}}\'', highlight=False)
        return
    lines = []
    for route, route_url in routes:
        if route.method == "OPTIONS":
            continue
        method = "GET" if route.method == "ANY" else route.method
        target = re.sub(r"\{[^}/]+\+\}", "some/path", re.sub(r"\{[^}/+]+\}", "example", route_url))
        command = f"curl {target}" if method == "GET" else f"curl -X {method} {target}"
        if method in ("POST", "PUT", "PATCH"):
            command += " -H 'Content-Type: application/json' -d '{}'"
        if route.authorizer is not None:
            command += f"   # guarded by {route.authorizer}"
        lines.append(command)
    if lines:
        console.print("\nTry it:")
        for line in lines[:TRY_IT_LIMIT]:
            console.print(f"  {line}", highlight=False)


def print_event_sources(stack: Stack, console: Console, aws: str) -> None:
    """What invokes a function other than a route: queues, streams and schedules, each with the
    command that makes it fire where there is one."""
    app = stack.app
    assert app is not None
    if not (app.sqs_events or app.stream_events or app.schedules):
        return
    endpoint = stack.endpoint_url or stack.dynamodb_endpoint
    console.print("\nEvent sources:")
    queues = {queue.arn: queue for queue in app.queues}
    for event in app.sqs_events:
        queue = queues.get(event.queue_arn)
        name = queue.queue_name if queue else event.queue_arn.rsplit(":", 1)[-1]
        state = "" if event.enabled else "  (Enabled: false, not polled)"
        window = f", window {event.batching_window_s} s" if event.batching_window_s else ""
        console.print(
            f"  {event.function} ← SQS {name} (batch {event.batch_size}{window}){state}", highlight=False
        )
        if event.enabled:
            # The queue's URL as !Ref gives it; moto finds the queue by the name at its end.
            url = f"https://sqs.{app.region}.amazonaws.com/{app.account_id}/{name}"
            send = f"sqs send-message --queue-url {url} --message-body hello"
            console.print(f"    {aws} {send} --endpoint-url {endpoint}", highlight=False)
    for stream in app.stream_events:
        state = "" if stream.enabled else "  (Enabled: false, not read)"
        console.print(
            f"  {stream.function} ← DynamoDB stream of {stream.table_name} "
            f"({stream.starting_position}, batch {stream.batch_size}){state}",
            highlight=False,
        )
    for schedule in app.schedules:
        kind = "EventBridge Scheduler" if schedule.scheduler else "EventBridge rule"
        state = "" if schedule.enabled else "  (DISABLED, never runs)"
        console.print(f"  {schedule.function} ← {schedule.expression} ({kind}){state}", highlight=False)


# botocore's per-service variables: AWS_ENDPOINT_URL_ and the service id, upper case, spaces as _
# (CloudWatch Logs is CLOUDWATCH_LOGS, not LOGS).
ENDPOINT_VARIABLES = (
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_XRAY",
    "AWS_ENDPOINT_URL_LAMBDA",
)


def print_endpoint(stack: Stack, console: Console) -> None:
    """The one endpoint, as the environment variables botocore (boto3, the AWS CLI, the SAM CLI)
    reads: AWS_ENDPOINT_URL for every service, or AWS_ENDPOINT_URL_<SERVICE> for one."""
    endpoint = stack.endpoint_url
    if endpoint is None:
        return
    console.print(
        f"\nOne endpoint for DynamoDB, Logs, SQS, X-Ray and Lambda: [bold]{endpoint}[/]", highlight=False
    )
    console.print(f"  export AWS_ENDPOINT_URL={endpoint}", highlight=False)
    console.print(f"  or for one service: {', '.join(ENDPOINT_VARIABLES)}", highlight=False)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if stop_requested.is_set():
            # A second signal: the user will not wait. Nothing acknowledged is lost (the
            # journal is on disk), and every child ends with us (lifeline.py).
            os.write(2, f"\n{signal.Signals(signum).name} again: stopping at once\n".encode())
            os._exit(128 + signum)
        stop_requested.set()

    # Ctrl-C, `kill`/`timeout`/systemd/an IDE's stop button, and a closed terminal all end the
    # stack the same way: servers closed, function processes reaped.
    for signum in STOP_SIGNALS:
        signal.signal(signum, request_stop)
    stack: Stack | None = None
    try:
        try:
            config = StackConfig(
                built_template=built_template(args.template, args.build_dir),
                runtime_dir=args.runtime_dir,
                port=args.port,
                lambda_port=None if args.lambda_port < 0 else args.lambda_port,
                dynamodb_port=args.dynamodb_port,
                endpoint_port=None if args.endpoint_port < 0 else args.endpoint_port,
                xray_port=args.xray_port,
                console_port=None if args.console_port < 0 else args.console_port,
                xray_db=args.xray_db,
                xray_daemon_address=args.xray_daemon_address,
                data_dir=args.data_dir,
                endpoints_file=args.endpoints_file,
                stack_name=args.stack_name,
                region=args.region,
                parameter_overrides=parameter_overrides(args.template, args.parameter_overrides),
                sampling=args.sampling,
                source_template=args.template if args.template.is_file() else None,
                watch=args.watch,
                progress=lambda message: console.print(f"[dim]…[/] {escape(message)}", highlight=False),
            )
            stack = Stack(config)
            # The log lines' prefixes need the functions' names: the template is read first.
            config.log = LogLines(console, stack.read_template())
            stack.start()
        except StartupError as error:
            errors.print(f"error: {escape(str(error))}")
            return EXIT_STARTUP_ERROR
        if not stop_requested.is_set():
            print_banner(stack, console)
        while not stop_requested.wait(0.5):
            pass
        with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
            console.print("stopping…")
        return 0
    finally:
        if stack is not None:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
