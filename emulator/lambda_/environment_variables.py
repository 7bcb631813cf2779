"""The environment variables Lambda gives a python3.11 function, and nothing of the host's.

Reserved and defined runtime variables as the Lambda developer guide lists them, then the
template's variables, then the local stack's (endpoint, daemon address, fake credentials).
Only PATH and HOME come from the developer's own environment: anything else there (real
AWS credentials, AWS_PROFILE, a virtualenv) must not reach a function.
"""

import os
import secrets
import time
from pathlib import Path

from emulator.app.model import FunctionSpec
from emulator.tracing.segment_sender import parse_daemon_address

# Lambda's own default; the local stack's base_env normally overrides it.
DEFAULT_XRAY_DAEMON_ADDRESS = "127.0.0.1:2000"
LAMBDA_PATH = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
# The function's /opt locally (a folder per function, see emulator/lambda_/layers.py).
LOCAL_OPT_DIR = "LOCAL_LAMBDA_OPT_DIR"


def log_stream_name(now: float | None = None) -> str:
    """`2024/05/01/[$LATEST]<32 hex>`: one stream per execution environment."""
    day = time.strftime("%Y/%m/%d", time.gmtime(time.time() if now is None else now))
    return f"{day}/[$LATEST]{secrets.token_hex(16)}"


def opt_python_path(spec: FunctionSpec, opt_dir: Path | None) -> list[str]:
    """What Lambda's sys.path has of /opt, after the function's code and before the runtime:
    /opt/python/lib/python3.x/site-packages, then /opt/python."""
    if opt_dir is None:
        return []
    return [str(opt_dir / "python" / "lib" / spec.runtime / "site-packages"), str(opt_dir / "python")]


def lambda_environment(
    spec: FunctionSpec,
    *,
    runtime_dir: Path,
    runtime_api: str,
    base_env: dict[str, str],
    log_stream: str | None = None,
    opt_dir: Path | None = None,
) -> dict[str, str]:
    """`log_stream`: the execution environment's stream (a new name if None); `opt_dir`: the
    folder that stands for /opt, the function's layers merged (emulator/lambda_/layers.py)."""
    daemon_address = base_env.get("AWS_XRAY_DAEMON_ADDRESS", DEFAULT_XRAY_DAEMON_ADDRESS)
    daemon_host, daemon_port = parse_daemon_address(daemon_address)
    code_dir = str(spec.code_dir)
    env = {
        "PATH": os.environ.get("PATH", LAMBDA_PATH),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        # The function's artifacts first, then its layers (/opt), then what the runtime provides;
        # `-S` keeps the interpreter's own site-packages out, so a missing requirement fails as in
        # Lambda.
        "PYTHONPATH": os.pathsep.join([code_dir, *opt_python_path(spec, opt_dir), str(runtime_dir)]),
        "LAMBDA_TASK_ROOT": code_dir,
        "LAMBDA_RUNTIME_DIR": str(runtime_dir),
        "_HANDLER": spec.handler,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream or log_stream_name(),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": daemon_address,
        "_AWS_XRAY_DAEMON_ADDRESS": daemon_host,
        "_AWS_XRAY_DAEMON_PORT": str(daemon_port),
    }
    if "HOME" in os.environ:
        env["HOME"] = os.environ["HOME"]
    # Lambda's PATH ends with /opt/bin and its LD_LIBRARY_PATH with /opt/lib: a layer's
    # executables and shared libraries, found after everything else.
    if opt_dir is not None:
        env["PATH"] = os.pathsep.join([env["PATH"], str(opt_dir / "bin")])
        env["LD_LIBRARY_PATH"] = str(opt_dir / "lib")
        # Not Lambda's: where the function's /opt is locally, for code that reads a layer's files.
        env[LOCAL_OPT_DIR] = str(opt_dir)
    env.update(spec.environment)
    env.update(base_env)
    # Reserved: neither the template nor the local stack may change how the runtime is wired.
    env["AWS_LAMBDA_RUNTIME_API"] = runtime_api
    env["_HANDLER"] = spec.handler
    return env
