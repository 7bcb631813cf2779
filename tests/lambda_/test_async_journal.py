"""emulator.lambda_.async_journal: the asynchronous queue's events on disk, as a crash leaves them."""

from pathlib import Path

import pytest

from emulator.dynamodb.journal import journal_numbers, journal_path
from emulator.lambda_ import async_journal
from emulator.lambda_.async_journal import AsyncEventJournal, QueuedEvent


def event(number: int) -> QueuedEvent:
    return QueuedEvent(
        f"request-{number}", "Worker", b'{"n": %d}' % number, "Root=1-abc-def;Sampled=1", 100.0 + number
    )


def test_what_was_queued_and_not_done_is_recovered_after_an_abandoned_run(tmp_path: Path):
    first = AsyncEventJournal(tmp_path)
    for number in range(3):
        first.queued(event(number))
    first.done("request-1")
    # No close(): the process died here. queued() returned only once its record was on disk.
    second = AsyncEventJournal(tmp_path)
    assert second.recovered == [event(0), event(2)]
    second.close()


def test_the_recovered_events_survive_one_more_restart_until_done(tmp_path: Path):
    AsyncEventJournal(tmp_path).queued(event(7))
    again = AsyncEventJournal(tmp_path)
    assert again.recovered == [event(7)]
    # Still pending: the next start gets it too, from the one file left.
    assert AsyncEventJournal(tmp_path).recovered == [event(7)]
    assert len(journal_numbers(tmp_path)) == 1
    again.done("request-7")


def test_a_torn_last_record_was_never_acknowledged(tmp_path: Path):
    journal = AsyncEventJournal(tmp_path)
    journal.queued(event(1))
    journal.close()
    (number,) = journal_numbers(tmp_path)
    with journal_path(tmp_path, number).open("ab") as file:
        file.write(b"\x00\x00\x01\x00garbage")  # a record cut off by a crash mid-append
    assert AsyncEventJournal(tmp_path).recovered == [event(1)]


def test_a_long_run_is_compacted_to_the_pending_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(async_journal, "COMPACT_AFTER_RECORDS", 10)
    journal = AsyncEventJournal(tmp_path)
    journal.queued(event(0))  # never done: must survive every compaction
    for number in range(1, 40):
        journal.queued(event(number))
        journal.done(f"request-{number}")
    size = sum(journal_path(tmp_path, n).stat().st_size for n in journal_numbers(tmp_path))
    assert size < 20 * len(event(0).encode())  # not 79 records' worth
    assert AsyncEventJournal(tmp_path).recovered == [event(0)]
