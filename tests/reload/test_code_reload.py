"""Edits picked up while the stack runs (emulator/reload): a copy of a one-function app is built
with the real `sam build`, run by the real stack, edited, and asked over real HTTP."""

import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from emulator.stack import Stack, StackConfig, StartupError
from tests.conftest import ROOT, sam_cli_env
from tests.stack_helpers import SegmentCollector, request

pytestmark = pytest.mark.slow

SAM = ROOT / ".venv" / "bin" / "sam"
RELOAD_TIMEOUT = 120.0  # a first `sam build` may be slow on a busy machine; only a bound

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  AnswerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: answer/
      Handler: app.handler
      Runtime: python3.11
      Timeout: 30
      Events:
        Answer:
          Type: Api
          Properties:
            Path: /answer
            Method: get
"""

HANDLER = """\
import json
import os
import time
from pathlib import Path

ANSWER = "{answer}"


def handler(event, context):
    query = event.get("queryStringParameters") or {{}}
    if "wait_for" in query:  # hold this request until the test says go
        while not Path(query["wait_for"]).exists():
            time.sleep(0.01)
    return {{"statusCode": 200, "body": json.dumps({{"answer": ANSWER, "pid": os.getpid()}})}}
"""


def write_handler(app: Path, answer: str) -> None:
    (app / "answer" / "app.py").write_text(HANDLER.format(answer=answer))


class Lines:
    """The stack's log lines, waited for by content."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self._cond = threading.Condition()

    def __call__(self, source: str, line: str) -> None:
        with self._cond:
            self.lines.append((source, line))
            self._cond.notify_all()

    def wait_for(self, source: str, text: str, after: int = 0) -> str:
        deadline = time.monotonic() + RELOAD_TIMEOUT
        with self._cond:
            while True:
                for found_source, line in self.lines[after:]:
                    if found_source == source and text in line:
                        return line
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no {source!r} line with {text!r}; lines: {self.lines}"
                self._cond.wait(remaining)


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A one-function app, `sam build` as `make build` runs it (its own .aws-sam)."""
    app = tmp_path / "app"
    (app / "answer").mkdir(parents=True)
    (app / "template.yaml").write_text(TEMPLATE)
    (app / "answer" / "requirements.txt").write_text("")
    write_handler(app, "v1")
    # The stack's own `sam build`s inherit this: no telemetry, no version check.
    env = sam_cli_env(tmp_path / "sam-cli")
    for name in ("SAM_CLI_TELEMETRY", "__SAM_CLI_APP_DIR"):
        monkeypatch.setenv(name, env[name])
    built = subprocess.run([str(SAM), "build"], cwd=app, env=env, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    return app


@contextmanager
def start_stack(app: Path, runtime_dir: Path, lines: Lines, *, watch: bool) -> Iterator[Stack]:
    collector = SegmentCollector()
    config = StackConfig(
        built_template=app / ".aws-sam" / "build" / "template.yaml",
        runtime_dir=runtime_dir,
        xray_daemon_address=collector.address,
        source_template=app / "template.yaml",
        watch=watch,
        sam_cli=SAM,
        log=lines,
    )
    try:
        with Stack(config) as stack:
            yield stack
    finally:
        collector.close()


def answers(url: str, count: int = 8) -> list[str]:
    """`count` requests at once; each one's answer."""

    def ask(_: int) -> str:
        response = request("GET", f"{url}/answer")
        assert response.status == 200, response.body
        return str(response.json()["answer"])

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(ask, range(count)))


def test_an_edit_is_rebuilt_and_every_later_request_runs_it(app: Path, lambda_runtime_dir: Path) -> None:
    lines = Lines()
    with start_stack(app, lambda_runtime_dir, lines, watch=True) as stack:
        assert answers(stack.url) == ["v1"] * 8  # warm workers of the old code, up to 4
        # One request still running on the old code when the edit lands.
        go = app.parent / "go"
        held: dict[str, str] = {}

        def hold() -> None:
            held.update(request("GET", f"{stack.url}/answer?wait_for={go}").json())

        holder = threading.Thread(target=hold)
        holder.start()
        mark = len(lines.lines)
        write_handler(app, "v2")
        line = lines.wait_for("reload", "AnswerFunction reloaded", after=mark)
        assert "answer/app.py" in line
        assert "edit applied to its build" in line  # a source edit: no sam build needed

        # After the reload line: the new code only, from every worker.
        assert answers(stack.url) == ["v2"] * 8
        # The request that began before it finishes on the old code.
        go.touch()
        holder.join(timeout=30)
        assert held["answer"] == "v1"
        assert answers(stack.url) == ["v2"] * 8


def test_an_edit_that_does_not_compile_is_reported_and_the_previous_code_serves(
    app: Path, lambda_runtime_dir: Path
) -> None:
    lines = Lines()
    with start_stack(app, lambda_runtime_dir, lines, watch=True) as stack:
        assert answers(stack.url) == ["v1"] * 8
        mark = len(lines.lines)
        (app / "answer" / "app.py").write_text("def handler(event, context)\n    return 1\n")
        line = lines.wait_for("reload", "AnswerFunction not reloaded", after=mark)
        assert "app.py, line 1" in line and "previous code keeps serving" in line
        assert answers(stack.url) == ["v1"] * 8
        # Fixed, it reloads.
        mark = len(lines.lines)
        write_handler(app, "v3")
        lines.wait_for("reload", "AnswerFunction reloaded", after=mark)
        assert answers(stack.url) == ["v3"] * 8


def test_a_build_older_than_its_sources_is_refused_without_watch_and_rebuilt_with_it(
    app: Path, lambda_runtime_dir: Path
) -> None:
    write_handler(app, "edited after the build")
    refused = pytest.raises(StartupError, match=r"AnswerFunction: its build is older than .*app\.py")
    with refused, start_stack(app, lambda_runtime_dir, Lines(), watch=False):
        pass
    lines = Lines()
    with start_stack(app, lambda_runtime_dir, lines, watch=True) as stack:
        # Rebuilt before the first request: the stale build is never served.
        assert any("newer than its build: rebuilding" in line for _, line in lines.lines)
        assert answers(stack.url) == ["edited after the build"] * 8


def test_the_template_is_watched_too(app: Path, lambda_runtime_dir: Path) -> None:
    lines = Lines()
    with start_stack(app, lambda_runtime_dir, lines, watch=True) as stack:
        assert answers(stack.url) == ["v1"] * 8
        mark = len(lines.lines)
        template = app / "template.yaml"
        template.write_text(
            TEMPLATE.replace(
                "      Timeout: 30\n",
                "      Timeout: 30\n      Environment:\n        Variables:\n          GREETING: hi\n",
            )
        )
        lines.wait_for("reload", "template reloaded", after=mark)
        spec = stack.lambda_service.functions["AnswerFunction"] if stack.lambda_service else None
        assert spec is not None and spec.environment.get("GREETING") == "hi"


LAYERED_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  WordsLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: words_layer/
      CompatibleRuntimes: [python3.11]
    Metadata:
      BuildMethod: python3.11
  AnswerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: answer/
      Handler: app.handler
      Runtime: python3.11
      Layers: [!Ref WordsLayer]
      Events:
        Answer:
          Type: Api
          Properties:
            Path: /answer
            Method: get
"""

LAYERED_HANDLER = """\
import json

import words


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"answer": words.ANSWER})}
"""


def test_an_edit_of_a_layer_rebuilds_the_functions_that_use_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lambda_runtime_dir: Path
) -> None:
    app = tmp_path / "layered"
    (app / "answer").mkdir(parents=True)
    (app / "words_layer").mkdir()
    (app / "template.yaml").write_text(LAYERED_TEMPLATE)
    (app / "answer" / "app.py").write_text(LAYERED_HANDLER)
    (app / "answer" / "requirements.txt").write_text("")
    (app / "words_layer" / "requirements.txt").write_text("")
    (app / "words_layer" / "words.py").write_text('ANSWER = "from layer v1"\n')
    env = sam_cli_env(tmp_path / "sam-cli")
    for name in ("SAM_CLI_TELEMETRY", "__SAM_CLI_APP_DIR"):
        monkeypatch.setenv(name, env[name])
    built = subprocess.run([str(SAM), "build"], cwd=app, env=env, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr

    lines = Lines()
    with start_stack(app, lambda_runtime_dir, lines, watch=True) as stack:
        assert answers(stack.url) == ["from layer v1"] * 8
        assert stack.watcher is not None and (app / "words_layer").resolve() in stack.watcher.watched
        mark = len(lines.lines)
        (app / "words_layer" / "words.py").write_text('ANSWER = "from layer v2"\n')
        line = lines.wait_for("reload", "AnswerFunction reloaded", after=mark)
        assert "words_layer/words.py" in line
        assert answers(stack.url) == ["from layer v2"] * 8


def test_a_requirements_edit_goes_through_sam_build(app: Path, lambda_runtime_dir: Path) -> None:
    lines = Lines()
    with start_stack(app, lambda_runtime_dir, lines, watch=True) as stack:
        assert answers(stack.url) == ["v1"] * 8
        mark = len(lines.lines)
        (app / "answer" / "requirements.txt").write_text("# no dependencies yet\n")
        write_handler(app, "v4")
        line = lines.wait_for("reload", "AnswerFunction reloaded", after=mark)
        assert "sam build" in line and "requirements.txt" in line
        assert answers(stack.url) == ["v4"] * 8
