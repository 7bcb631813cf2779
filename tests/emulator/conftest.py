"""Builds shared by the local stack's tests: `sam build` once per session, into tmp dirs."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_APP = Path(__file__).resolve().parent / "fixture_app"
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
        pytest.fail(f"{RUNTIME_DIR} is missing: run `make setup` (it installs emulator/lambda-runtime.txt)")
    return RUNTIME_DIR
