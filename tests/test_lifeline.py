"""The lifeline's wait: it ends at end-of-file and only then, whatever flags the shared pipe has."""

import os
import threading

import pytest

from emulator.lifeline import wait_for_eof


@pytest.mark.parametrize("blocking", [True, False], ids=["blocking", "non-blocking"])
def test_the_wait_lasts_until_the_write_end_is_closed(blocking: bool):
    read_fd, write_fd = os.pipe()
    # Every child shares the read end's open file description: one of them making it
    # non-blocking (a worker's exit hook once did) must not end the others' waits.
    os.set_blocking(read_fd, blocking)
    waiter = threading.Thread(target=wait_for_eof, args=(read_fd,), daemon=True)
    try:
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive(), "the wait ended while the write end was open"
        os.close(write_fd)
        waiter.join(5)
        assert not waiter.is_alive(), "the wait did not end at end-of-file"
    finally:
        os.close(read_fd)
