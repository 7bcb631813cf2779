"""Shared by every test directory: the function packages importable, and the `sam build`s
of the tutorial and of tests/fixture_app, each run once per test session."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# `pytest` started as .venv/bin/pytest (as the Makefile does) does not put the working directory on
# sys.path, and the handlers are imported as `hello_world.app` and `sam_ddb.app`.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


ROOT = REPO_ROOT
FIXTURE_APP = REPO_ROOT / "tests" / "fixture_app"
RUNTIME_DIR = ROOT / "build" / "lambda-runtime"


def sam_build(template: Path, build_dir: Path) -> Path:
    """Run the real `sam build`; return the built template (its CodeUri point at artifacts)."""
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    sam = ROOT / ".venv" / "bin" / "sam"
    # A cache of its own: concurrent builds sharing .aws-sam/cache trip over each other.
    cache_dir = build_dir.parent / f"{build_dir.name}-cache"
    command = [
        str(sam), "build", "--template", str(template), "--build-dir", str(build_dir),
        "--cache-dir", str(cache_dir),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=template.parent, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"sam build failed:\n{result.stdout}\n{result.stderr}"
    return build_dir / "template.yaml"


@pytest.fixture(scope="session")
def fixture_app_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The edge-case functions under fixture_app/, built."""
    return sam_build(FIXTURE_APP / "template.yaml", tmp_path_factory.mktemp("fixture-build"))


@pytest.fixture(scope="session")
def tutorial_app_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's own template.yaml (hello_world, sam_ddb), built."""
    return sam_build(ROOT / "template.yaml", tmp_path_factory.mktemp("tutorial-build"))


@pytest.fixture(scope="session")
def lambda_runtime_dir() -> Path:
    """The local /var/runtime (awslambdaric + boto3) that `make setup` installs."""
    if not (RUNTIME_DIR / ".installed").exists():
        pytest.fail(f"{RUNTIME_DIR} is missing: run `make setup` (emulator/lambda_/runtime-requirements.txt)")
    return RUNTIME_DIR
