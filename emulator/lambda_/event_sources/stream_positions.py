"""Where each DynamoDB event was delivered up to, kept in the data directory across runs.

In AWS an event source mapping keeps its place in the stream for as long as it exists; it does
not start again at its StartingPosition when nothing changed. With a data directory the local
tables and their streams come back on every start (moto replays its journal), so without a kept
place a TRIM_HORIZON mapping would hand the function every change ever made, on every start.
So each shard's last delivered (or dropped) record is written down after every batch, as its
sequence number and its change (stream_reader.fingerprint), and the next start goes on after it
when the stream still holds that record. Without a data directory nothing is kept: the tables
start empty too.
"""

import json
import os
import threading
from pathlib import Path
from typing import Any

FILE_NAME = "dynamodb-stream-positions.json"


class StreamPositions:
    """One file for every DynamoDB event of the stack, rewritten whole (and fsynced) after
    each batch; None as the folder keeps nothing."""

    def __init__(self, folder: Path | None) -> None:
        self._path = folder / FILE_NAME if folder is not None else None
        self._lock = threading.Lock()
        self._positions: dict[str, Any] = self._read()

    def shards(self, mapping: str, table: str) -> dict[str, tuple[str, str]]:
        """The kept place of each shard of `mapping` (Function.Events.Id) on `table`: (sequence
        number, change). Empty when none was kept, or it was kept for another table."""
        with self._lock:
            kept = self._positions.get(mapping)
        if not isinstance(kept, dict) or kept.get("table") != table:
            return {}
        shards = kept.get("shards")
        if not isinstance(shards, dict):
            return {}
        return {
            shard_id: (str(place["sequence_number"]), str(place["change"]))
            for shard_id, place in shards.items()
            if isinstance(place, dict) and "sequence_number" in place and "change" in place
        }

    def keep(self, mapping: str, table: str, shard_id: str, sequence_number: str, change: str) -> None:
        if self._path is None:
            return
        with self._lock:
            kept = self._positions.get(mapping)
            if not isinstance(kept, dict) or kept.get("table") != table:
                kept = self._positions[mapping] = {"table": table, "shards": {}}
            kept["shards"][shard_id] = {"sequence_number": sequence_number, "change": change}
            self._write()

    def _read(self) -> dict[str, Any]:
        if self._path is None:
            return {}
        try:
            positions = json.loads(self._path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            # A file that cannot be read is a place lost, not a stack that cannot start: the
            # mappings begin at their StartingPosition, as on a first run.
            return {}
        return positions if isinstance(positions, dict) else {}

    def _write(self) -> None:
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        partial = self._path.with_name(self._path.name + ".partial")
        with open(partial, "w") as file:
            json.dump(self._positions, file, indent=1, sort_keys=True)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, self._path)
