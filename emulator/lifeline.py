"""A pipe the stack holds for as long as it lives, so that its children end when it dies.

Every child of the stack (moto, the X-Ray server, each function's worker) gets the read end;
only the stack holds the write end, and never writes to it. When the stack's process ends
for any reason (SIGKILL and the out-of-memory killer included) the kernel closes the write
end, every child's read returns end-of-file at once, and the child exits. Nothing is polled,
and there is no lock a dying process can leave held.

Why not PR_SET_PDEATHSIG: it fires when the *thread* that started the child exits, and the
stack starts workers from short-lived request threads.
"""

import os
import select
import signal
import sys
import threading
from collections.abc import Callable, Sequence

ENV_VAR = "SAM_APP_LIFELINE_FD"

_lock = threading.Lock()
_read_fd: int | None = None


def _parent_read_fd() -> int:
    """The read end of this process's lifeline (made once; the write end is never inherited:
    os.pipe() descriptors are close-on-exec, and only the read end is passed on)."""
    global _read_fd
    with _lock:
        if _read_fd is None:
            read_fd, write_fd = os.pipe()
            # Held, never written, never closed: the kernel closes it when this process ends.
            _keep_open.append(write_fd)
            _read_fd = read_fd
        return _read_fd


_keep_open: list[int] = []


def child_options(env: dict[str, str]) -> tuple[dict[str, str], tuple[int, ...]]:
    """The environment and `pass_fds` for a subprocess.Popen that should die with us."""
    read_fd = _parent_read_fd()
    return {**env, ENV_VAR: str(read_fd)}, (read_fd,)


def watch_parent(on_parent_gone: Callable[[], None]) -> bool:
    """In a child: call `on_parent_gone` (on a thread) when the stack that started us ends.

    False when this process was not started with a lifeline (run by hand, say).
    """
    value = os.environ.pop(ENV_VAR, None)
    if value is None:
        return False
    read_fd = int(value)
    # Not to be inherited further: the function's own child processes have their own lives.
    os.set_inheritable(read_fd, False)

    def wait_for_end() -> None:
        wait_for_eof(read_fd)
        on_parent_gone()

    threading.Thread(target=wait_for_end, name="lifeline", daemon=True).start()
    return True


def wait_for_eof(read_fd: int) -> None:
    """Block until the write end is closed. Every child shares one open pipe, so its flags too:
    the wait must not depend on the descriptor being blocking."""
    while True:
        select.select([read_fd], [], [])
        try:
            if not os.read(read_fd, 1):
                return
        except BlockingIOError:
            continue


# The same watch, as source a worker runs before awslambdaric: the function's process must not
# import this package (its sys.path is the function's code and the runtime, as in Lambda).
# The worker leads its own process group, so the group kill also takes whatever the function
# started.
_WORKER_PRELUDE = f"""\
import atexit, os, runpy, select, signal, threading
def _lifeline(fd):
    while True:
        select.select([fd], [], [])
        try:
            if not os.read(fd, 1):
                break
        except BlockingIOError:
            continue
    os.killpg(os.getpgrp(), signal.SIGKILL)
def _at_exit(fd):
    # awslambdaric may notice first (its Runtime API is gone) and exit before the thread
    # above runs: whatever the function started must still go. Readable with nothing to read
    # is end-of-file; the descriptor's flags are shared with every child, so left as they are.
    if select.select([fd], [], [], 0)[0] and not os.read(fd, 1):
        os.killpg(os.getpgrp(), signal.SIGKILL)
_fd = os.environ.pop({ENV_VAR!r}, None)
if _fd is not None:
    os.set_inheritable(int(_fd), False)
    threading.Thread(target=_lifeline, args=(int(_fd),), name="lifeline", daemon=True).start()
    atexit.register(_at_exit, int(_fd))
del _fd, _lifeline, _at_exit
runpy.run_module({{module!r}}, run_name="__main__", alter_sys=True)
"""


def python_module_command(module: str, args: Sequence[str], python_options: Sequence[str] = ()) -> list[str]:
    """`python [options] -m module args...`, but killed with its whole group when the stack
    ends. For processes that cannot import this package (the functions' workers)."""
    return [sys.executable, *python_options, "-c", _WORKER_PRELUDE.format(module=module), *args]


def exit_now() -> None:
    """What a child does by default when the stack is gone: it has nobody left to serve."""
    os.kill(os.getpid(), signal.SIGKILL)
