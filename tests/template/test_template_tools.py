"""The template passes the tools that deploy it: cfn-lint, `sam validate --lint` and `sam build`."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.template_reader import (
    REPO_ROOT,
    TEMPLATE_PATH,
    Template,
    load_template,
    properties,
    serverless_functions,
)

# The tools are installed next to the interpreter running the tests (.venv/bin).
TOOLS_DIR = Path(sys.executable).parent
TOOL_TIMEOUT_SECONDS = 300


def tool(name: str) -> str:
    path = TOOLS_DIR / name
    assert path.exists(), f"{name} is not installed in {TOOLS_DIR}; run `make setup`"
    return str(path)


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


def pinned_requirements(code_dir: Path) -> list[tuple[str, str]]:
    """(name, version) of each `name==version` line of the function's requirements.txt, if it has one."""
    path = code_dir / "requirements.txt"
    pins = []
    for line in path.read_text().splitlines() if path.exists() else []:
        pin = line.split("#")[0].strip()
        if "==" in pin:
            name, version = pin.split("==", 1)
            pins.append((name.strip(), version.strip()))
    return pins


def imported_packages(module: Path) -> set[str]:
    """The top-level packages a module imports, e.g. {"json", "aws_xray_sdk"}."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.slow
def test_sam_build_produces_every_function_with_its_dependencies(template: Template, tutorial_app_build):
    # The session's one `sam build` of template.yaml (tests/conftest.py), which the local stack runs too.
    build_dir = tutorial_app_build.template.parent

    assert "Build Succeeded" in tutorial_app_build.stdout
    built = load_template(tutorial_app_build.template)
    for function_id in serverless_functions(template):
        source = properties(template, function_id)
        code_dir = REPO_ROOT / source["CodeUri"]
        function_dir = build_dir / function_id
        assert properties(built, function_id)["CodeUri"] == function_id
        # What its requirements.txt pins is vendored into the artifact.
        for name, version in pinned_requirements(code_dir):
            assert (function_dir / f"{name.replace('-', '_')}-{version}.dist-info").is_dir(), name
        # Every handler the Instrumentation parameter can choose is in the artifact, with the SDK it
        # imports: the X-Ray SDK (app.py) or OpenTelemetry's (otel_app.py).
        for handler in handler_choices(source["Handler"]):
            handler_file = handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
            assert (function_dir / handler_file).is_file()
            imported = imported_packages(code_dir / handler_file)
            if "aws_xray_sdk" in imported:
                assert (function_dir / "aws_xray_sdk" / "core" / "__init__.py").is_file()
            if "opentelemetry" in imported:
                assert (function_dir / "opentelemetry" / "sdk" / "trace" / "__init__.py").is_file()


def handler_choices(handler: object) -> list[str]:
    """A Handler, or both branches of `!If [Condition, a, b]`."""
    if isinstance(handler, dict) and set(handler) == {"Fn::If"}:
        _, when_true, when_false = handler["Fn::If"]
        return [*handler_choices(when_true), *handler_choices(when_false)]
    assert isinstance(handler, str), f"a Handler must be a string or an Fn::If, got {handler!r}"
    return [handler]
