"""The template passes the tools that deploy it: cfn-lint, `sam validate --lint` and `sam build`."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.template_reader import REPO_ROOT, TEMPLATE_PATH, load_template

# The tools are installed next to the interpreter running the tests (.venv/bin).
TOOLS_DIR = Path(sys.executable).parent
TOOL_TIMEOUT_SECONDS = 300


def tool(name: str) -> str:
    path = TOOLS_DIR / name
    assert path.exists(), f"{name} is not installed in {TOOLS_DIR}; run `make setup`"
    return str(path)


@pytest.fixture
def sam_env(tmp_path: Path) -> dict[str, str]:
    """Environment for the SAM CLI: no telemetry, and no version check against PyPI.

    The CLI keeps its settings in a metadata.json; a private one that says "checked just now" keeps
    it off the network and leaves the user's ~/.aws-sam alone.
    """
    app_dir = tmp_path / "sam-cli-app-dir"
    app_dir.mkdir()
    (app_dir / "metadata.json").write_text(
        json.dumps({"telemetryEnabled": False, "lastVersionCheck": time.time()})
    )
    return {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "__SAM_CLI_APP_DIR": str(app_dir),
        "AWS_DEFAULT_REGION": "ap-northeast-1",
    }


def run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        check=False,
    )


def test_cfn_lint_reports_nothing():
    result = run([tool("cfn-lint"), str(TEMPLATE_PATH)])

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_sam_validate_lint_reports_nothing(sam_env: dict[str, str]):
    result = run([tool("sam"), "validate", "--lint", "--template", str(TEMPLATE_PATH)], env=sam_env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"{TEMPLATE_PATH} is a valid SAM Template"
    assert result.stderr == ""


@pytest.mark.slow
def test_sam_build_produces_both_functions_with_their_dependencies(sam_env: dict[str, str], tmp_path: Path):
    build_dir = tmp_path / "build"

    result = run(
        [tool("sam"), "build", "--build-dir", str(build_dir), "--template", str(TEMPLATE_PATH)], env=sam_env
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Build Succeeded" in result.stdout
    built = load_template(build_dir / "template.yaml")
    for function_id in ("HelloWorldFunction", "SamDdbFunction"):
        function_dir = build_dir / function_id
        assert built["Resources"][function_id]["Properties"]["CodeUri"] == function_id
        assert (function_dir / "app.py").is_file()
        # requirements.txt of each function pins aws-xray-sdk: it must be vendored into the artifact.
        assert (function_dir / "aws_xray_sdk" / "core" / "__init__.py").is_file()
