"""`python -m emulator`: run the built template locally (API Gateway, Lambda, DynamoDB, X-Ray).

Everything binds 127.0.0.1. The exit code is 2, with one line on stderr and no traceback,
when the stack cannot start (no build, a broken template, a port in use); 0 after Ctrl-C or
SIGTERM, once every server and every function process is stopped.
"""

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.markup import escape
from rich.style import Style

from emulator.gateway import DEFAULT_PORT, Gateway
from emulator.lambda_service import LambdaService
from emulator.model import DEFAULT_REGION, DEFAULT_STACK_NAME, AppSpec
from emulator.segment_sender import SegmentSender
from emulator.services import DEFAULT_PORT as DEFAULT_SERVICES_PORT
from emulator.services import FAKE_CREDENTIALS, Services, ServicesError, check_port_free, free_port
from emulator.template import TemplateError, load_app
from emulator.xray.process import XRayProcess

HOST = "127.0.0.1"
DEFAULT_XRAY_PORT = 2000  # the X-Ray daemon's port, UDP and TCP
EXIT_STARTUP_ERROR = 2
# Function log lines get one of these colours each, so interleaved output stays readable.
_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red")


class StartupError(Exception):
    """The stack cannot start; the message is the one line the user sees."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Run the SAM app (the `sam build` output) locally: API Gateway, Lambda, DynamoDB, X-Ray.",
    )
    parser.add_argument("--template", type=Path, default=Path("template.yaml"), help="the source template")
    parser.add_argument("--build-dir", type=Path, default=Path(".aws-sam/build"), help="`sam build` output")
    parser.add_argument("--runtime-dir", type=Path, default=Path("build/lambda-runtime"),
                        help="the local Lambda runtime (`make setup` installs it)")  # fmt: skip
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="API port (0: any free port)")
    parser.add_argument("--services-port", type=int, default=DEFAULT_SERVICES_PORT,
                        help="DynamoDB (moto) port (0: any free port)")  # fmt: skip
    parser.add_argument("--xray-port", type=int, default=DEFAULT_XRAY_PORT,
                        help="X-Ray daemon and API port (0: any free port)")  # fmt: skip
    parser.add_argument("--xray-db", type=Path, default=Path("build/xray/traces.db"),
                        help="where the local X-Ray keeps its traces")  # fmt: skip
    parser.add_argument("--data-dir", type=Path, default=Path("build/dynamodb"),
                        help="where table items are kept between runs (delete to start empty)")  # fmt: skip
    parser.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    parser.add_argument("--region", default=DEFAULT_REGION)
    return parser.parse_args(argv)


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
        return style.render(name, color_system=console.color_system) if console.color_system else name

    def __call__(self, source: str, line: str) -> None:
        prefix = self._prefixes.get(source, source)
        with self._lock:
            self._file.write(f"{prefix} {line.rstrip()}\n")
            self._file.flush()

    def access(self, line: str) -> None:
        self("api", line)


class Stack:
    """Starts the parts in dependency order; `stop()` ends them in reverse, each at most once."""

    def __init__(self, args: argparse.Namespace, console: Console) -> None:
        self.args = args
        self.console = console
        self._stack = contextlib.ExitStack()
        self.app: AppSpec | None = None
        self.services: Services | None = None
        self.gateway: Gateway | None = None
        self.xray: XRayProcess | None = None
        self.daemon_address = ""

    def progress(self, message: str) -> None:
        self.console.print(f"[dim]…[/] {escape(message)}", highlight=False)

    def start(self) -> None:
        args = self.args
        built = built_template(args.template, args.build_dir)
        try:
            self.app = app = load_app(built, stack_name=args.stack_name, region=args.region)
        except TemplateError as error:
            raise StartupError(str(error)) from None
        self.log_lines = LogLines(self.console, app)
        runtime_dir = args.runtime_dir.resolve()
        if not (runtime_dir / ".installed").exists():
            raise StartupError(f"{runtime_dir} is missing: run `make setup` first")
        # Refuse a taken port before anything starts, so nothing has to be torn down; port 0
        # becomes a free port now, so the progress lines can say which.
        ports = {}
        for name, what in (("port", "API"), ("services_port", "DynamoDB (moto)"), ("xray_port", "X-Ray")):
            port = getattr(args, name)
            if port:
                self._check_port(port, what)
            elif name != "xray_port":  # XRayServer picks one port number for UDP and TCP itself
                port = free_port(HOST)
            ports[name] = port
        args.port, args.services_port = ports["port"], ports["services_port"]

        self.progress(f"starting DynamoDB (moto) on {HOST}:{args.services_port}")
        self.services = Services(app.tables, region=app.region, host=HOST, port=args.services_port,
                                 log=self.progress, data_dir=args.data_dir)  # fmt: skip
        self._start(self.services.start, self.services.stop)

        self.daemon_address = self._start_xray()

        # One sender for the segments API Gateway and Lambda write themselves.
        sender = SegmentSender(self.daemon_address)
        self._stack.callback(sender.close)
        self.progress(f"starting Lambda ({len(app.functions)} functions)")
        lambda_service = self._lambda_service(app, runtime_dir, sender)
        self._stack.callback(lambda_service.close)
        self.progress(f"starting API Gateway on {HOST}:{args.port}")
        self.gateway = Gateway(app, lambda_service, host=HOST, port=args.port, segment_sender=sender,
                               log=self.log_lines.access)  # fmt: skip
        self._start(self.gateway.start, self.gateway.stop)

    def _check_port(self, port: int, what: str) -> None:
        try:
            check_port_free(HOST, port, what)
        except OSError as error:
            raise StartupError(f"{error.strerror}; choose another with the command line options") from None

    def _start(self, start: Callable[[], None], stop: Callable[[], None]) -> None:
        try:
            start()
        except OSError as error:
            raise StartupError(f"cannot start: {error.strerror or error}") from None
        except ServicesError as error:
            raise StartupError(str(error)) from None
        self._stack.callback(stop)

    def _start_xray(self) -> str:
        """The local X-Ray daemon and API, in a process of their own (see xray/process.py)."""
        self.progress(f"starting X-Ray (daemon and API) on {HOST}:{self.args.xray_port or '(any free port)'}")
        self.xray = XRayProcess(host=HOST, port=self.args.xray_port, db_path=self.args.xray_db)
        self._start(self.xray.start, self.xray.stop)
        return self.xray.daemon_address

    def _lambda_service(self, app: AppSpec, runtime_dir: Path, sender: SegmentSender) -> LambdaService:
        assert self.services is not None
        base_env = {
            "AWS_ENDPOINT_URL": self.services.endpoint_url,
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": "testing",
            "AWS_XRAY_DAEMON_ADDRESS": self.daemon_address,
        }
        return LambdaService(app.functions, runtime_dir=runtime_dir, base_env=base_env,
                             log=self.log_lines, segment_sender=sender)  # fmt: skip

    def stop(self) -> None:
        self._stack.close()

    def aws_command(self) -> str:
        """An AWS CLI command line that works as printed: moto keeps its data per region and
        needs a signed request (any credentials) to find it."""
        aws = ".venv/bin/aws" if Path(".venv/bin/aws").exists() else "aws"
        credentials = " ".join(f"{name.upper()}={value}" for name, value in FAKE_CREDENTIALS.items())
        return f"{credentials} AWS_DEFAULT_REGION={self.args.region} {aws}"

    def banner(self) -> None:
        assert self.app is not None and self.gateway is not None and self.services is not None
        app, url, console = self.app, self.gateway.url, self.console
        console.print()
        console.print(f"[bold green]{escape(app.stack_name)}[/] is running locally (stage {app.stage}):")
        for route, route_url in self.gateway.route_urls():
            function = app.functions[route.function].function_name
            console.print(f"  {route.method:<7} {route_url}  [dim]→ {escape(function)}[/]", highlight=False)
        console.print("\nTry the tutorial:")
        console.print(f"  curl {url}/hello", highlight=False)
        console.print(f'  curl -X POST {url}/ddb -d \'{{"key": "my-first-key"}}\'', highlight=False)
        endpoint = self.services.endpoint_url
        aws = self.aws_command()
        console.print(f"\nDynamoDB (moto): {endpoint}", highlight=False)
        for table in app.tables:
            console.print(
                f"  {aws} dynamodb scan --table-name {table.table_name} --endpoint-url {endpoint}",
                highlight=False,
            )
        if self.xray is not None:
            api_url = self.xray.api_url
            console.print(f"\nX-Ray daemon: {self.daemon_address} (UDP)", highlight=False)
            console.print(f"X-Ray API: {api_url}", highlight=False)
            window = "--start-time $(($(date +%s)-600)) --end-time $(date +%s)"
            console.print(f"  {aws} xray get-trace-summaries --endpoint-url {api_url} {window}")
            console.print(f"  make map ARGS='--endpoint-url {api_url}'")
        console.print("\n[bold]Ready.[/] Ctrl-C stops everything.")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    # Both signals end the stack the same way: servers closed, function processes reaped.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    stack = Stack(args, console)
    try:
        try:
            stack.start()
        except StartupError as error:
            errors.print(f"error: {escape(str(error))}")
            return EXIT_STARTUP_ERROR
        if not stop_requested.is_set():
            stack.banner()
        while not stop_requested.wait(0.5):
            pass
        console.print("stopping…")
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
