"""Edit to new answer: how long after saving a handler the local stack answers with the new code.

A copy of the tutorial (template.yaml, samconfig.toml, hello_world/, sam_ddb/) in a temp folder,
built once with `sam build` as `make build` does, runs in the stack with the watch on (as
`make run`). Each round edits one function's answer and polls its route every 10 ms until the
answer changes: the figure is save → first new answer (the watch, the edit applied to a copy of
the build (emulator/reload/source_edit.py), new workers and their cold start). Beside it, in the
same run and alternating with it, the baseline is a plain `sam build <Function>` of the same edit
run by hand: what rebuilding alone costs, and what every reload cost before the source-edit path.
"""

import http.client
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rich.table import Table

from bench.http_load import Request
from emulator.stack import Stack, StackConfig

ROOT = Path(__file__).resolve().parents[1]
SAM = ROOT / ".venv" / "bin" / "sam"
POLL_SECONDS = 0.01
ANSWER_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Edit:
    logical_id: str
    source: str  # the file edited, relative to the app
    old: str  # the text replaced in it
    request: Callable[[str], Request]  # the route, given the stack's URL


EDITS = (
    Edit("HelloWorldFunction", "hello_world/app.py", '"message": "hello world"',
         lambda url: Request("GET", f"{url}/hello")),
    Edit("SamDdbFunction", "sam_ddb/ddb_request.py", '"message": "succeeded"',
         lambda url: Request("POST", f"{url}/ddb", b'{"key": "bench"}')),
)  # fmt: skip


@dataclass
class ReloadFigures:
    rounds: int
    reload_s: dict[str, list[float]]
    build_s: dict[str, list[float]]

    def table(self) -> Table:
        table = Table(title=f"Edit to new answer with the watch on (s, medians of {self.rounds})")
        for column in ("function", "edit → new answer", "sam build <Function>", "ratio"):
            table.add_column(column, justify="right")
        for logical_id, reloads in self.reload_s.items():
            reload, build = statistics.median(reloads), statistics.median(self.build_s[logical_id])
            table.add_row(logical_id, f"{reload:.2f}", f"{build:.2f}", f"{reload / build:.2f}")
        table.caption = (
            "target: under 3 s; a source edit skips sam build, so the new workers' cold start dominates"
        )
        return table


def _answer(request: Request) -> bytes:
    parts = urlsplit(request.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request(request.method, parts.path, body=request.body)
        return conn.getresponse().read()
    finally:
        conn.close()


def measure(rounds: int = 3) -> ReloadFigures:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    with tempfile.TemporaryDirectory(prefix="sam-app-reload-bench-") as scratch:
        app = Path(scratch) / "app"
        app.mkdir()
        for name in ("template.yaml", "samconfig.toml"):
            shutil.copy(ROOT / name, app / name)
        for folder in ("hello_world", "sam_ddb"):
            shutil.copytree(ROOT / folder, app / folder, ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run([str(SAM), "build"], cwd=app, env=env, check=True, capture_output=True)
        # The baseline builds a copy (its own build.toml, cache and dependencies, as built), so the
        # two never share the SAM CLI's state and the watch does not see the baseline's edits.
        base = Path(scratch) / "baseline"
        shutil.copytree(app, base, symlinks=True)
        graph = base / ".aws-sam" / "build.toml"
        graph.write_text(graph.read_text().replace(str(app), str(base)))
        config = StackConfig(
            built_template=app / ".aws-sam" / "build" / "template.yaml",
            runtime_dir=ROOT / "build" / "lambda-runtime",
            xray_daemon_address="127.0.0.1:9",  # segments to the discard port: not measured here
            source_template=app / "template.yaml",
            watch=True,
            log=lambda source, line: None,  # the function's lines are not measured here
        )
        figures = ReloadFigures(rounds, {}, {})
        with Stack(config) as stack:
            for edit in EDITS:
                request = edit.request(stack.url)
                source = app / edit.source
                original = source.read_text()
                _answer(request)  # warm
                for round_ in range(rounds):
                    # The baseline: the same edit built by hand, `sam build <Function>`.
                    base_source = base / edit.source
                    base_source.write_text(original.replace(edit.old, edit.old[:-1] + f' b{round_}"'))
                    started = time.monotonic()
                    subprocess.run(
                        [str(SAM), "build", edit.logical_id, "--cached", "--build-dir",
                         str(base / ".aws-sam" / "build")],
                        cwd=base, env=env, check=True, capture_output=True,
                    )  # fmt: skip
                    figures.build_s.setdefault(edit.logical_id, []).append(time.monotonic() - started)
                    marker = f" r{round_}"
                    source.write_text(original.replace(edit.old, edit.old[:-1] + f'{marker}"'))
                    started = time.monotonic()
                    _wait_for_answer(request, marker)
                    figures.reload_s.setdefault(edit.logical_id, []).append(time.monotonic() - started)
                source.write_text(original)
        return figures


def _wait_for_answer(request: Request, marker: str) -> None:
    deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
    while marker.encode() not in _answer(request):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no answer with {marker!r} from {request.url}")
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    from rich.console import Console

    Console().print(measure().table())
