"""The journal's file format: whole records back in order, a torn end never read as a record."""

import threading
import zlib
from pathlib import Path

import pytest

from emulator.dynamodb.journal import Journal, journal_numbers, journal_path, read_records


def test_records_come_back_in_order_across_a_rotation(tmp_path: Path):
    journal = Journal(tmp_path, 1)
    tickets = [journal.append(f"write {i}".encode()) for i in range(3)]
    assert journal.rotate() == 2
    tickets.append(journal.append(b"write 3"))
    journal.wait_durable(tickets[-1])
    journal.close()
    assert tickets == [1, 2, 3, 4]
    assert journal_numbers(tmp_path) == [1, 2]
    assert read_records(journal_path(tmp_path, 1)).records == [b"write 0", b"write 1", b"write 2"]
    assert read_records(journal_path(tmp_path, 2)).records == [b"write 3"]


@pytest.mark.parametrize("cut", [1, 4, 7, 8, 9, 20])
def test_a_record_cut_short_by_a_crash_is_not_read(tmp_path: Path, cut: int):
    journal = Journal(tmp_path, 1)
    journal.append(b"acknowledged")
    journal.append(b"x" * 20)
    journal.close()
    path = journal_path(tmp_path, 1)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - cut])
    read = read_records(path)
    assert read.records == [b"acknowledged"]
    assert read.torn_bytes == 28 - cut


def test_a_record_whose_checksum_does_not_match_ends_the_read(tmp_path: Path):
    journal = Journal(tmp_path, 1)
    journal.append(b"first")
    journal.append(b"second")
    journal.close()
    path = journal_path(tmp_path, 1)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # a flipped bit in the last payload
    path.write_bytes(bytes(data))
    read = read_records(path)
    assert read.records == [b"first"] and read.torn_bytes == 8 + len(b"second")
    assert zlib.crc32(b"second") != zlib.crc32(bytes(data[-6:]))


def test_concurrent_writers_each_return_only_once_their_record_is_synced(tmp_path: Path, monkeypatch):
    journal = Journal(tmp_path, 1)
    lock = threading.Lock()
    synced_upto: list[int] = []
    real_fsync = __import__("os").fsync

    def counting_fsync(fd: int) -> None:
        real_fsync(fd)
        synced_upto.append(journal._appended)

    monkeypatch.setattr("emulator.dynamodb.journal.os.fsync", counting_fsync)
    returned: list[tuple[int, int]] = []

    def writer(index: int) -> None:
        for _ in range(50):
            with lock:
                ticket = journal.append(f"{index}".encode())
            journal.wait_durable(ticket)
            # The newest fsync at the time this writer returns covered its record.
            returned.append((ticket, max(synced_upto)))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.close()
    assert len(returned) == 400
    assert all(synced >= ticket for ticket, synced in returned)
    assert len(read_records(journal_path(tmp_path, 1)).records) == 400
