"""The write-ahead journal of the local DynamoDB: every write moto applied, on disk before its
answer leaves.

DynamoDB acknowledges a write once it is durable. moto keeps its tables in memory, so the
moto process appends each successful mutating request to a journal file and fsyncs it before
it answers; at start the requests are replayed (replay.py), on top of the latest checkpoint
(checkpoint.py), which is what keeps the files short.

Records are `length (4 bytes, big-endian) | CRC-32 of the payload (4 bytes) | payload`. A crash
can leave at most one record half written, at the end of the last file; its CRC does not
match, it was never acknowledged (its fsync had not returned), and reading stops there.

Files are `journal-<n>.log`; a checkpoint numbered n holds everything of the files before n.

Many writers share one fsync (group commit): each appends its record under the caller's lock,
then waits outside it until some fsync has covered its record. Sixteen clients writing at once
cost about one fsync per round, not sixteen.
"""

import os
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_HEADER = struct.Struct(">II")
# A record bigger than this is not one we wrote (DynamoDB's largest request is 16 MB: a
# 25-item BatchWriteItem of 400 KB items is 10 MB).
MAX_RECORD_BYTES = 64 * 1024 * 1024


def journal_path(directory: Path, number: int) -> Path:
    return directory / f"journal-{number:06d}.log"


def journal_numbers(directory: Path) -> list[int]:
    """The journal files present, oldest first."""
    return numbered_files(directory, "journal", ".log")


def numbered_files(directory: Path, stem: str, suffix: str) -> list[int]:
    """The n of every `<stem>-<n><suffix>` in `directory` (n of six digits or more), sorted."""
    name = re.compile(rf"{re.escape(stem)}-(\d{{6,}}){re.escape(suffix)}")
    matches = (name.fullmatch(path.name) for path in directory.glob(f"{stem}-*{suffix}"))
    return sorted(int(match.group(1)) for match in matches if match)


def fsync_directory(directory: Path) -> None:
    """A new or renamed file is only durable once its directory entry is."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class JournalRead:
    records: list[bytes]
    torn_bytes: int  # bytes after the last whole record (an unacknowledged write)


def read_records(path: Path) -> JournalRead:
    """Every whole record of one file, in order."""
    data = path.read_bytes()
    records: list[bytes] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, checksum = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        end = start + length
        if length > MAX_RECORD_BYTES or end > len(data):
            break
        payload = data[start:end]
        if zlib.crc32(payload) != checksum:
            break
        records.append(payload)
        offset = end
    return JournalRead(records, len(data) - offset)


class JournalClosed(Exception):
    pass


class Journal:
    """Appends to `journal-<number>.log` in `directory`; `rotate()` starts the next file."""

    def __init__(self, directory: Path, number: int) -> None:
        self.directory = directory
        self._sync_lock = threading.Lock()
        self._appended = 0  # records appended since this object was made
        self._synced = 0  # records known to be on disk
        self._records_in_file = 0
        self._bytes_in_file = 0
        self.number = number
        self._fd = self._open(number)

    def _open(self, number: int) -> int:
        path = journal_path(self.directory, number)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        fsync_directory(self.directory)
        self._bytes_in_file = os.fstat(fd).st_size
        self._records_in_file = 0
        return fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    @property
    def appended(self) -> int:
        """The ticket of the last record appended (0: none yet)."""
        return self._appended

    @property
    def records_in_file(self) -> int:
        return self._records_in_file

    @property
    def bytes_in_file(self) -> int:
        return self._bytes_in_file

    def append(self, payload: bytes) -> int:
        """Write one record (not yet durable); returns its ticket for `wait_durable`.

        The caller serialises appends (the order of the file is the order moto applied them).
        """
        if self._fd < 0:
            raise JournalClosed("the journal is closed")
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        written = 0
        while written < len(record):  # os.write may write less than asked (a full disk, a signal)
            written += os.write(self._fd, record[written:])
        self._appended += 1
        self._records_in_file += 1
        self._bytes_in_file += len(record)
        return self._appended

    def wait_durable(self, ticket: int) -> None:
        """Return once the record with this ticket is on disk (one fsync may cover many)."""
        with self._sync_lock:
            if self._synced >= ticket:
                return
            covered = self._appended  # everything appended so far goes down with this fsync
            os.fsync(self._fd)
            self._synced = covered

    def rotate(self) -> int:
        """Close this file (fsynced) and go on in the next; returns the new file's number.

        The caller holds the append lock, so nothing is appended meanwhile.
        """
        with self._sync_lock:
            os.fsync(self._fd)
            self._synced = self._appended
            os.close(self._fd)
            self.number += 1
            self._fd = self._open(self.number)
        return self.number

    def close(self) -> None:
        with self._sync_lock:
            if self._fd >= 0:
                os.fsync(self._fd)
                self._synced = self._appended
                os.close(self._fd)
                self._fd = -1


def iter_payloads(directory: Path, first: int) -> Iterator[tuple[int, JournalRead]]:
    """Each journal file numbered `first` or later, oldest first, read whole."""
    for number in journal_numbers(directory):
        if number >= first:
            yield number, read_records(journal_path(directory, number))
