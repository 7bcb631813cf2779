"""`make help` is how a newcomer finds the commands: it must list every target the Makefile has."""

import re
import subprocess

from tests.conftest import REPO_ROOT


def test_make_help_lists_every_target():
    makefile = (REPO_ROOT / "Makefile").read_text()
    # Rules a user can type: `name:` at the start of a line (not variables, not file targets).
    targets = set(re.findall(r"^([a-z][a-z-]*):(?!=)", makefile, flags=re.MULTILINE))
    assert {"run", "test", "help"} <= targets

    printed = subprocess.run(
        ["make", "--no-print-directory", "-s", "help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    listed = set(re.findall(r"^\s*make ([a-z-]+)\s", printed, flags=re.MULTILINE))
    assert listed == targets


def _make_eval(recipe: str) -> subprocess.CompletedProcess[str]:
    """`recipe` run by make as a rule of the project's Makefile (its variables and functions)."""
    return subprocess.run(
        ["make", "--no-print-directory", "-s", "--eval", f"progress-check:\n\t{recipe}\n", "progress-check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )


def test_the_first_run_shows_one_line_per_package_with_a_count():
    pip_output = (
        "Collecting aws-sam-cli==1.170.0 (from -r requirements-dev.txt (line 1))\\n"
        "  Downloading aws_sam_cli-1.170.0-py3-none-any.whl (6.1 MB)\\n"
        "Collecting moto==5.2.5\\n"
        "Installing collected packages: moto, aws-sam-cli\\n"
        "Successfully installed aws-sam-cli-1.170.0 moto-5.2.5\\n"
    )
    shown = _make_eval(f"@printf '{pip_output}' | $(call pip_progress,2)")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "  [1/2] aws-sam-cli==1.170.0",
        "  [2/2] moto==5.2.5",
        "  installing 2 packages (unpacking; the slow part) ...",
        "  done",
    ]


def test_a_failed_install_still_fails_the_make_step():
    failed = _make_eval("@set -o pipefail; printf 'Collecting x\\n' | (cat; exit 1) | $(call pip_progress,0)")
    assert failed.returncode != 0
    assert "[1] x" in failed.stdout


def test_setup_installs_without_quiet_so_it_shows_progress():
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "--quiet" not in makefile
    assert makefile.count("| $(call pip_progress") == 3  # pip, the tools, the runtime
