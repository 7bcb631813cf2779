"""Shared by every test directory: the function packages importable, and the `sam build`s
of the tutorial and of tests/fixture_app, each run once per test session."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from emulator.dynamodb.moto_process import MotoProcess

REPO_ROOT = Path(__file__).resolve().parent.parent

# `pytest` started as .venv/bin/pytest (as the Makefile does) does not put the working directory on
# sys.path, and the handlers are imported as `hello_world.app` and `sam_ddb.app`.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


ROOT = REPO_ROOT
FIXTURE_APP = REPO_ROOT / "tests" / "fixture_app"
API_APP = REPO_ROOT / "tests" / "api_app"
RUNTIME_DIR = ROOT / "build" / "lambda-runtime"


@dataclass(frozen=True)
class SamBuild:
    """A finished `sam build`: the built template (its CodeUri point at artifacts) and what it printed."""

    template: Path
    stdout: str


def sam_cli_env(app_dir: Path) -> dict[str, str]:
    """Environment for the SAM CLI: no telemetry, and no version check against PyPI.

    The CLI keeps its settings in a metadata.json; a private one that says "checked just now" keeps
    it off the network and leaves the user's ~/.aws-sam alone.
    """
    app_dir.mkdir(parents=True, exist_ok=True)
    (app_dir / "metadata.json").write_text(
        json.dumps({"telemetryEnabled": False, "lastVersionCheck": time.time()})
    )
    return {**os.environ, "SAM_CLI_TELEMETRY": "0", "__SAM_CLI_APP_DIR": str(app_dir)}


def sam_build(template: Path, build_dir: Path) -> SamBuild:
    """Run the real `sam build` of `template` into `build_dir`."""
    env = sam_cli_env(build_dir.parent / f"{build_dir.name}-sam-cli")
    sam = ROOT / ".venv" / "bin" / "sam"
    # A cache of its own: concurrent builds sharing .aws-sam/cache trip over each other. And no cached
    # build (samconfig.toml's `cached = true`): a cached build keeps its dependencies in .aws-sam/deps
    # under the working directory, the project's own, and at its end deletes the folders there that its
    # own cache does not list: another build's (`make run`'s, a bench's), mid-copy. A test's cache is
    # new every session, so it would reuse nothing anyway.
    cache_dir = build_dir.parent / f"{build_dir.name}-cache"
    command = [
        str(sam), "build", "--template", str(template), "--build-dir", str(build_dir),
        "--cache-dir", str(cache_dir), "--no-cached",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=template.parent, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"sam build failed:\n{result.stdout}\n{result.stderr}"
    return SamBuild(build_dir / "template.yaml", result.stdout)


@pytest.fixture(scope="session")
def sam_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """For the SAM CLI commands tests run themselves (sam validate), in the Makefile's region."""
    return {**sam_cli_env(tmp_path_factory.mktemp("sam-cli-app")), "AWS_DEFAULT_REGION": "ap-northeast-1"}


@pytest.fixture(scope="session")
def fixture_app_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The edge-case functions under fixture_app/, built."""
    return sam_build(FIXTURE_APP / "template.yaml", tmp_path_factory.mktemp("fixture-build")).template


@pytest.fixture(scope="session")
def api_app_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/api_app/: HTTP APIs, explicit REST APIs and their features in one template, built."""
    return sam_build(API_APP / "template.yaml", tmp_path_factory.mktemp("api-build")).template


@pytest.fixture(scope="session")
def tutorial_app_build(tmp_path_factory: pytest.TempPathFactory) -> SamBuild:
    """The project's own template.yaml (hello_world, sam_ddb), built once for the whole session."""
    return sam_build(ROOT / "template.yaml", tmp_path_factory.mktemp("tutorial-build"))


@pytest.fixture(scope="session")
def tutorial_app_template(tutorial_app_build: SamBuild) -> Path:
    """The built template of the tutorial: its CodeUri point at the artifacts next to it."""
    return tutorial_app_build.template


@pytest.fixture(scope="session")
def lambda_runtime_dir() -> Path:
    """The local /var/runtime (awslambdaric + boto3) that `make setup` installs."""
    if not (RUNTIME_DIR / ".installed").exists():
        pytest.fail(f"{RUNTIME_DIR} is missing: run `make setup` (emulator/lambda_/runtime-requirements.txt)")
    return RUNTIME_DIR


def _running_moto() -> Iterator["MotoProcess"]:
    """moto in a child process, as the stack runs it."""
    # Imported here: this module puts the project on sys.path first (above).
    from emulator.dynamodb.moto_process import MotoProcess

    process = MotoProcess()
    process.start()
    yield process
    process.stop()


@pytest.fixture()
def moto() -> Iterator["MotoProcess"]:
    """A moto of the test's own (a test that kills it or needs it empty)."""
    yield from _running_moto()


@pytest.fixture(scope="module")
def shared_moto() -> Iterator["MotoProcess"]:
    """One moto for the module; its tests keep apart by the names they use (tables, groups,
    queues)."""
    yield from _running_moto()
