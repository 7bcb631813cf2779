"""The local stack: the one place that wires the parts together and starts and stops them.

`python -m emulator` (cli.py), the tests and `make bench` all run the stack through this
module, so what they test and measure is what a user runs. The parts start in the order
a request needs them, each on 127.0.0.1:

    DynamoDB (moto, a child process) → X-Ray (daemon + API, a child process)
    → Lambda (a worker pool per function) → API Gateway (the HTTP port users call)
    → the edge (one endpoint for every local AWS service, routed by signature)

and stop in reverse, each at most once, whatever failed on the way up.
"""

import contextlib
import functools
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from emulator.apigateway.gateway import Gateway
from emulator.app.errors import TemplateError
from emulator.app.model import DEFAULT_REGION, DEFAULT_STACK_NAME, AppSpec
from emulator.app.template import load_app
from emulator.dir_lock import LockHeld, hold_lock
from emulator.dynamodb.service import DynamoDBService, ServicesError
from emulator.edge.server import EdgeServer
from emulator.lambda_.async_invoke import AsyncInvoker
from emulator.lambda_.async_journal import AsyncEventJournal
from emulator.lambda_.event_sources.context import EventSourceContext, Stopper
from emulator.lambda_.event_sources.schedules import Clock, start_schedules
from emulator.lambda_.event_sources.sqs_poller import start_sqs_pollers
from emulator.lambda_.event_sources.stream_poller import start_stream_pollers
from emulator.lambda_.invoke_api import InvokeApiServer
from emulator.lambda_.service import LambdaService
from emulator.local_credentials import FAKE_CREDENTIALS
from emulator.logs.service import CloudWatchLogs
from emulator.loopback import HOST, check_port_free, free_port
from emulator.reload.sam_build import default_sam_cli
from emulator.reload.watcher import CodeWatcher, StaleBuild, TemplateSettings, stale_functions
from emulator.sqs.queues import QueueError, create_queues
from emulator.tracing.sampling import make_sampler
from emulator.tracing.segment_sender import SegmentSender
from emulator.xray.process import XRayProcess

_Part = TypeVar("_Part")
# Function log lines: (source, line), source being a function's logical id or name.
LogSink = Callable[[str, str], None]


class StartupError(Exception):
    """The stack cannot start; the message is the one line the user sees."""


@dataclass
class StackConfig:
    """What to run and where. Port 0 picks a free port."""

    built_template: Path  # the `sam build` output's template.yaml
    runtime_dir: Path  # the local /var/runtime (awslambdaric + boto3), `make setup` installs it
    port: int = 0  # API Gateway
    lambda_port: int | None = 0  # Lambda's Invoke API (`sam local start-lambda`); None: not served
    dynamodb_port: int = 0
    # One endpoint for DynamoDB, Logs, SQS, X-Ray and Lambda (`AWS_ENDPOINT_URL`); None: not served.
    endpoint_port: int | None = 0
    xray_port: int = 0
    console_port: int | None = None  # the X-Ray console (web page); None: not served
    xray_db: Path | None = None  # None: a store that lives as long as the stack
    # Send segments to a daemon that is already running (the real X-Ray daemon, or a test's
    # UDP socket) instead of starting the local X-Ray.
    xray_daemon_address: str | None = None
    data_dir: Path | None = None  # where table items are kept between runs; None: memory only
    endpoints_file: Path | None = None  # where to write the endpoints for `make map` / `make traces`
    stack_name: str = DEFAULT_STACK_NAME
    region: str = DEFAULT_REGION
    # Template parameter values, as `sam deploy --parameter-overrides` gives them; others keep their Default.
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    max_workers_per_function: int = 4
    sampling: str = "all"  # "default": as AWS's Default sampling rule (1 a second, then 5 %)
    log: LogSink | None = None  # function and access log lines
    # The source template the build came from: a function whose CodeUri folder is newer than the
    # build is refused (or, with `watch`, rebuilt before anything is served). None: not checked.
    source_template: Path | None = None
    # Watch the functions' sources and the template; rebuild and reload what changes.
    watch: bool = False
    sam_cli: Path = field(default_factory=default_sam_cli)
    progress: Callable[[str], None] = field(default=lambda message: None)
    # The time the rules and schedules run on. None: the system's. Tests alone set it, to bring
    # a rule's far time (cron at 03:00) within seconds; the CLI has no option for it.
    schedule_clock: Clock | None = None


class Stack:
    """`start()` brings every part up (StartupError on any problem, with what started already
    stopped again); `stop()` ends them in reverse. Also a context manager."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self._exit = contextlib.ExitStack()
        self.app: AppSpec | None = None
        self.dynamodb: DynamoDBService | None = None
        self.logs: CloudWatchLogs | None = None
        self.xray: XRayProcess | None = None
        self.lambda_service: LambdaService | None = None
        self.async_invoker: AsyncInvoker | None = None
        self.invoke_api: InvokeApiServer | None = None
        self.gateway: Gateway | None = None
        self.edge: EdgeServer | None = None
        self.watcher: CodeWatcher | None = None
        self.daemon_address = ""

    # -- what a client needs -----------------------------------------------------------

    @property
    def url(self) -> str:
        return self._running(self.gateway).url

    @property
    def dynamodb_endpoint(self) -> str:
        return self._running(self.dynamodb).endpoint_url

    @property
    def logs_endpoint(self) -> str:
        """CloudWatch Logs: moto's endpoint too (it routes by the service a request is signed for)."""
        return self._running(self.logs).endpoint_url

    @property
    def lambda_endpoint(self) -> str | None:
        """Lambda's Invoke API (`aws lambda invoke --endpoint-url`), if served."""
        return self.invoke_api.url if self.invoke_api is not None else None

    @property
    def endpoint_url(self) -> str | None:
        """The one endpoint for every local AWS service (`AWS_ENDPOINT_URL`), if served."""
        return self.edge.url if self.edge is not None else None

    @property
    def xray_api_url(self) -> str | None:
        """None when segments go to a daemon the stack did not start."""
        return self.xray.api_url if self.xray is not None else None

    @property
    def console_url(self) -> str | None:
        """The X-Ray console's page, when the local X-Ray serves it."""
        return self.xray.console_url if self.xray is not None else None

    def endpoints(self) -> dict[str, str | None]:
        return {
            "apigateway": self.url,
            "dynamodb": self.dynamodb_endpoint,
            "logs": self.logs_endpoint,
            "sqs": self.dynamodb_endpoint,
            "lambda": self.lambda_endpoint,
            "xray_daemon": self.daemon_address,
            "xray_api": self.xray_api_url,
            "console": self.console_url,
            "endpoint": self.endpoint_url,
        }

    # -- start and stop -----------------------------------------------------------------

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def read_template(self) -> AppSpec:
        """What the stack will run (read once; `start()` reads it if nobody did before)."""
        if self.app is None:
            config = self.config
            try:
                self.app = load_app(
                    config.built_template,
                    stack_name=config.stack_name,
                    region=config.region,
                    parameter_overrides=config.parameter_overrides,
                )
            except TemplateError as error:
                raise StartupError(str(error)) from None
        return self.app

    def _start(self) -> None:
        config = self.config
        app = self.read_template()
        runtime_dir = config.runtime_dir.resolve()
        if not (runtime_dir / ".installed").exists():
            raise StartupError(f"{runtime_dir} is missing: run `make setup` first")
        if config.data_dir is not None:
            self._lock_data_dir(config.data_dir)
        # Refuse a taken port before anything starts, so nothing has to be torn down; port 0
        # becomes a free port now, so the progress lines can say which.
        ports = [(config.port, "API"), (config.dynamodb_port, "DynamoDB (moto)")]
        ports.append((config.lambda_port or 0, "Lambda"))
        ports.append((config.endpoint_port or 0, "the AWS endpoint"))
        for port, what in ports:
            if port:
                self._check_port(port, what)
        if config.xray_daemon_address is None:
            if config.xray_port:
                self._check_port(config.xray_port, "X-Ray")
            if config.console_port:
                self._check_port(config.console_port, "the X-Ray console")
        config.port = config.port or free_port(HOST)
        # The edge starts last (it routes to the others), but the functions are told its address
        # when Lambda starts: its port is chosen now.
        if config.endpoint_port is not None:
            config.endpoint_port = config.endpoint_port or free_port(HOST)

        config.progress(f"starting DynamoDB (moto) on {HOST}:{config.dynamodb_port or '(any free port)'}")
        self.dynamodb = DynamoDBService(
            app.tables,
            region=app.region,
            port=config.dynamodb_port,
            log=config.progress,
            data_dir=config.data_dir,
        )
        self._start_part(self.dynamodb.start, self.dynamodb.stop)
        self._create_queues(app)
        # The functions' log lines go to CloudWatch Logs in the same moto; stopped after Lambda
        # (what the workers wrote last is sent) and before moto.
        self.logs = CloudWatchLogs(app, endpoint_url=self.dynamodb_endpoint, log=config.progress)
        self._start_part(self.logs.start, self.logs.stop)

        if config.xray_daemon_address is None:
            config.progress(
                f"starting X-Ray (daemon and API) on {HOST}:{config.xray_port or '(any free port)'}"
            )
            db_path = config.xray_db or self._scratch_dir() / "traces.db"
            self.xray = XRayProcess(
                host=HOST,
                port=config.xray_port,
                db_path=db_path,
                region=config.region,
                # The console reads function logs from CloudWatch Logs, which moto serves.
                console_port=config.console_port,
                logs_url=self.dynamodb_endpoint,
                log=config.progress,
            )
            self._start_part(self.xray.start, self.xray.stop)
            self.daemon_address = self.xray.daemon_address
        else:
            self.daemon_address = config.xray_daemon_address

        # One sender for the segments API Gateway and Lambda write themselves.
        sender = SegmentSender(self.daemon_address)
        self._exit.callback(sender.close)
        config.progress(f"starting Lambda ({len(app.functions)} functions)")
        self.lambda_service = LambdaService(
            app.functions,
            runtime_dir=runtime_dir,
            base_env=self._function_environment(),
            max_workers_per_function=config.max_workers_per_function,
            log=config.log,
            segment_sender=sender,
            cloudwatch=self.logs.put,
        )
        # Registered before Lambda's close, so it runs after: the reload builds are removed once
        # no worker runs from them.
        self._exit.callback(self._remove_reload_builds)
        self._exit.callback(self.lambda_service.close)
        log = config.log
        # Lambda's queue for Event invokes and schedules; closed before the workers are.
        # With a data directory its events are on disk before they are accepted, and what is
        # left queued at a stop runs at the next start.
        journal = None
        if config.data_dir is not None:
            journal = AsyncEventJournal(config.data_dir / "lambda-async")
            self._exit.callback(journal.close)
        self.async_invoker = AsyncInvoker(
            self.lambda_service,
            sqs_endpoint_url=self.dynamodb_endpoint,
            region=app.region,
            log=(lambda line: log("lambda", line)) if log else config.progress,
            workers=config.max_workers_per_function,
            journal=journal,
        )
        self._exit.callback(self.async_invoker.close)
        if config.source_template is not None:
            self._check_sources(config.source_template, app)
        if config.lambda_port is not None:
            where = config.lambda_port or "(any free port)"
            config.progress(f"starting Lambda's Invoke API on {HOST}:{where}")
            self.invoke_api = self._start_invoke_api(app, config.lambda_port)
        config.progress(f"starting API Gateway on {HOST}:{config.port}")
        access_log = (lambda line: log("api", line)) if log else None
        self.gateway = Gateway(
            app,
            self.lambda_service,
            host=HOST,
            port=config.port,
            segment_sender=sender,
            log=access_log,
            sampler=make_sampler(config.sampling),
        )
        self._start_part(self.gateway.start, self.gateway.stop)
        self._start_event_sources(app, sender)
        if config.endpoint_port is not None:
            config.progress(
                f"starting the AWS endpoint on {HOST}:{config.endpoint_port or '(any free port)'}"
            )
            self.edge = self._start_edge(config.endpoint_port)
        if config.endpoints_file is not None:
            self._write_endpoints(config.endpoints_file)

    def _create_queues(self, app: AppSpec) -> None:
        """The template's queues, in the same moto: before Lambda (a function may send to one on
        its first request), and again whenever moto restarts (empty without a data dir)."""
        if not app.queues:
            return
        assert self.dynamodb is not None
        endpoint, progress = self.dynamodb_endpoint, self.config.progress
        try:
            create_queues(app.queues, endpoint, app.region, progress)
        except QueueError as error:
            raise StartupError(str(error)) from None

        def create_again() -> None:
            try:
                create_queues(app.queues, endpoint, app.region, progress)
            except QueueError as error:
                progress(f"could not create the queues again after the restart: {error}")

        self.dynamodb.restart_hooks.append(create_again)

    def _check_sources(self, source_template: Path, app: AppSpec) -> None:
        """A build older than its sources is never served silently: refused, or with `watch`
        rebuilt first; then, with `watch`, every edit is rebuilt and reloaded."""
        config = self.config
        assert self.lambda_service is not None
        settings = TemplateSettings(app.stack_name, app.region, dict(config.parameter_overrides))
        if not config.watch:
            try:
                stale = stale_functions(settings.load(source_template), config.built_template)
            except TemplateError as error:
                raise StartupError(str(error)) from None
            for logical_id, newer in stale.items():
                raise StartupError(
                    f"{logical_id}: its build is older than {newer}: run `make build` (or `sam build`) "
                    "again, or run without --no-watch to have it rebuilt"
                )
            return
        log = config.log
        report = (lambda line: log("reload", line)) if log else config.progress
        self.watcher = CodeWatcher(
            self.lambda_service,
            source_template=source_template,
            built_template=config.built_template,
            sam_cli=config.sam_cli,
            settings=settings,
            report=report,
        )
        watcher = self.watcher
        try:
            watcher.start()
        except StaleBuild as error:
            raise StartupError(str(error)) from None
        finally:
            self._exit.callback(watcher.stop)

    def _start_event_sources(self, app: AppSpec, sender: SegmentSender) -> None:
        """Queues and streams polled, schedules run: after the gateway, so that a message waiting
        in a queue from the last run meets a stack that is up. Stopped before Lambda closes."""
        assert self.lambda_service is not None
        log = self.config.log
        context = EventSourceContext(
            app=app,
            lambda_service=self.lambda_service,
            async_invoker=self._running(self.async_invoker),
            endpoint_url=self.dynamodb_endpoint,
            segment_sender=sender,
            log=(lambda line: log("events", line)) if log else self.config.progress,
            data_dir=self.config.data_dir,
        )
        starters: list[Callable[[EventSourceContext], Stopper | None]] = [
            start_sqs_pollers,
            start_stream_pollers,
            functools.partial(start_schedules, clock=self.config.schedule_clock),
        ]
        for start in starters:
            try:
                stop = start(context)
            except OSError as error:
                raise StartupError(f"cannot start the event sources: {error.strerror or error}") from None
            except TemplateError as error:
                # What the template asks for that the running services cannot give (a DynamoDB
                # event on a table without a stream): one line, as a template error read earlier.
                raise StartupError(str(error)) from None
            if stop is not None:
                self._exit.callback(stop)

    def _start_invoke_api(self, app: AppSpec, port: int) -> InvokeApiServer:
        assert self.lambda_service is not None
        try:
            server = InvokeApiServer(
                self.lambda_service,
                self._running(self.async_invoker),
                region=app.region,
                account_id=app.account_id,
                port=port,
            )
        except OSError as error:
            raise StartupError(f"cannot start Lambda's Invoke API: {error.strerror or error}") from None
        self._start_part(server.start, server.stop)
        return server

    def _start_edge(self, port: int) -> EdgeServer:
        # Keyed by the name a request is signed for; moto serves DynamoDB and Logs on one port.
        upstreams = {
            "dynamodb": self.dynamodb_endpoint,
            "logs": self.logs_endpoint,
            "sqs": self.dynamodb_endpoint,
            "xray": self.xray_api_url,
            "lambda": self.lambda_endpoint,
        }
        try:
            server = EdgeServer(upstreams, port=port)
        except OSError as error:
            raise StartupError(f"cannot start the AWS endpoint: {error.strerror or error}") from None
        self._start_part(server.start, server.stop)
        return server

    def _remove_reload_builds(self) -> None:
        if self.watcher is not None:
            self.watcher.remove_build_dirs()

    def _lock_data_dir(self, data_dir: Path) -> None:
        """One stack per data directory: two would each journal their own writes into it and
        each see only its own. Held until stop()."""
        try:
            lock = hold_lock(data_dir / "stack.lock", "another local stack")
        except LockHeld as error:
            raise StartupError(f"{error}; stop that one first, or give this one another --data-dir") from None
        self._exit.enter_context(lock)

    def _scratch_dir(self) -> Path:
        """A folder removed when the stack stops."""
        return Path(self._exit.enter_context(tempfile.TemporaryDirectory(prefix="sam-app-stack-")))

    def _function_environment(self) -> dict[str, str]:
        """What every function gets on top of Lambda's own variables: the local endpoints.

        AWS_ENDPOINT_URL is the edge, so a function's boto3 reaches every local service (SQS,
        Lambda, X-Ray, Logs) as in AWS; DynamoDB, on the tutorial's request path, is moto itself,
        one hop shorter. Without the edge, moto serves it all (X-Ray and Lambda calls then get
        moto's own, empty, answers)."""
        endpoint_port = self.config.endpoint_port
        return {
            "AWS_ENDPOINT_URL": f"http://{HOST}:{endpoint_port}" if endpoint_port else self.dynamodb_endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint,
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": "testing",
            "AWS_XRAY_DAEMON_ADDRESS": self.daemon_address,
        }

    def _write_endpoints(self, path: Path) -> None:
        """So that `make map` and `make traces` find this stack's X-Ray API on any port."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(self.endpoints(), indent=2) + "\n")
        os.replace(partial, path)
        self._exit.callback(lambda: path.unlink(missing_ok=True))

    @staticmethod
    def _check_port(port: int, what: str) -> None:
        try:
            check_port_free(HOST, port, what)
        except OSError as error:
            raise StartupError(f"{error.strerror}; choose another with the command line options") from None

    def _start_part(self, start: Callable[[], None], stop: Callable[[], None]) -> None:
        try:
            start()
        except OSError as error:
            raise StartupError(f"cannot start: {error.strerror or error}") from None
        except ServicesError as error:
            raise StartupError(str(error)) from None
        self._exit.callback(stop)

    def stop(self) -> None:
        self._exit.close()

    @staticmethod
    def _running(part: _Part | None) -> _Part:
        if part is None:
            raise RuntimeError("the stack is not started")
        return part

    def __enter__(self) -> "Stack":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
