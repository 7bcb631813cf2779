"""Reading a table's stream in moto shard by shard, as Lambda's poller does, and finding its
place again when the iterators it held are gone.

The template's StreamArn (!GetAtt Table.StreamArn) is a label made up when the template is read
(intrinsics.py: .../stream/1970-01-01T00:00:00.000): the stream moto made has its own label, so
the table's LatestStreamArn (DescribeTable) names the stream read.

Where a shard is, is the sequence number of the last record read from it. An iterator lasts 15
minutes in AWS, and none of moto's survive a restart of moto (emulator/dynamodb/moto_process.py
restarts it from its journal): a read that fails makes the poller call `lose_iterators`, and the
next read asks for an iterator AFTER_SEQUENCE_NUMBER of that record. moto numbers a shard's
records from a fixed first number, so a replayed journal gives every record its old number; a
moto without a data directory comes back with the table created anew and its stream empty, and
then the old number is past the stream's end: the shard is read again from its start (the
records written since the restart), and a line says so.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from emulator.app.errors import TemplateError
from emulator.app.model import StreamEventSpec
from emulator.lambda_.event_sources.stream_records import lambda_record, sequence_number

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# GetRecords returns at most this many records a call.
GET_RECORDS_LIMIT = 1000


@dataclass
class Shard:
    shard_id: str
    parent_id: str | None
    iterator: str | None = None
    last_read: str | None = None  # the sequence number of the last record read from it
    last_change: str = ""  # that record's change (fingerprint()), to know it again after a restart
    exhausted: bool = False  # closed, and every record read: GetRecords gave no next iterator
    # Records read but not yet delivered (a batching window is filling, or a batch was cut short).
    pending: list[dict[str, Any]] = field(default_factory=list)
    pending_since: float | None = None  # monotonic time the first pending record was read


class StreamReader:
    def __init__(
        self,
        spec: StreamEventSpec,
        dynamodb: "DynamoDBClient",
        streams: Any,  # a boto3 dynamodbstreams client (no type stubs installed for it)
        region: str,
        log: Callable[[str], None],
    ) -> None:
        self.spec = spec
        self.where = f"{spec.function}.Events.{spec.event_id}"
        self._dynamodb = dynamodb
        self._streams = streams
        self._region = region
        self._log = log
        self.stream_arn = ""
        self.shards: dict[str, Shard] = {}
        self._stale = True  # the stream and its shards are to be looked up (again)

    def find_stream(self) -> str:
        """The table's stream ARN in moto; a TemplateError naming the event and the table when
        there is none (the table is not in the template, or has no StreamSpecification)."""
        table = self.spec.table_name
        try:
            description = self._dynamodb.describe_table(TableName=table)["Table"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            raise TemplateError(
                f"{self.where}: the DynamoDB event reads the stream of table {table!r}, which the "
                "template does not create"
            ) from None
        arn = description.get("LatestStreamArn")
        specification = description.get("StreamSpecification")
        enabled = specification is not None and specification.get("StreamEnabled")
        if not arn or not enabled:
            raise TemplateError(
                f"{self.where}: table {table!r} has no stream: give it a StreamSpecification "
                "(StreamViewType) for the DynamoDB event to read"
            )
        return arn

    def refresh(self) -> None:
        """Look the stream and its shards up, when first read or after iterators were lost."""
        if not self._stale:
            return
        arn = self.find_stream()
        if self.stream_arn and arn != self.stream_arn:
            self._check_places(arn)
        self.stream_arn = arn
        for description in self._describe_shards(arn):
            shard_id = description["ShardId"]
            if shard_id not in self.shards:
                self.shards[shard_id] = Shard(shard_id, description.get("ParentShardId"))
        self._stale = False

    def lose_iterators(self) -> None:
        """After a failed read: every shard is asked for a new iterator at its place."""
        for shard in self.shards.values():
            shard.iterator = None
        self._stale = True

    def readable_shards(self) -> list[Shard]:
        """Shards with records to come, a child only once its parent is read to the end (the
        order of a key's changes runs from parent to child)."""
        return [shard for shard in self.shards.values() if not shard.exhausted and self._parent_done(shard)]

    def _parent_done(self, shard: Shard) -> bool:
        parent = self.shards.get(shard.parent_id) if shard.parent_id else None
        return parent is None or parent.exhausted

    def read(self, shard: Shard, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` records after the shard's place, in Lambda's shape; the place moves on."""
        if shard.iterator is None:
            shard.iterator = self.start_iterator(shard)
        limit = min(limit, GET_RECORDS_LIMIT)
        try:
            answer = self._streams.get_records(ShardIterator=shard.iterator, Limit=limit)
        except ClientError as error:
            # An iterator lasts 15 minutes (a batch retried that long leaves its iterator stale):
            # a new one at the same place, as Lambda's poller would ask for.
            if error.response.get("Error", {}).get("Code") != "ExpiredIteratorException":
                raise
            shard.iterator = self.start_iterator(shard)
            answer = self._streams.get_records(ShardIterator=shard.iterator, Limit=limit)
        records = [
            lambda_record(dict(record), region=self._region, stream_arn=self.stream_arn)
            for record in answer.get("Records", [])
        ]
        next_iterator = answer.get("NextShardIterator")
        shard.iterator = next_iterator
        if next_iterator is None:
            shard.exhausted = True
        if records:
            shard.last_read = sequence_number(records[-1])
            shard.last_change = fingerprint(records[-1])
        return records

    # -- where to start ---------------------------------------------------------------------

    def start_iterator(self, shard: Shard) -> str:
        """An iterator at the shard's place: after its last record read, or at the mapping's
        StartingPosition (a child shard: its first record) when none was read yet."""
        if shard.last_read is None:
            kind = self.spec.starting_position if shard.parent_id is None else "TRIM_HORIZON"
            answer = self._streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard.shard_id, ShardIteratorType=kind
            )
        else:
            answer = self._streams.get_shard_iterator(
                StreamArn=self.stream_arn,
                ShardId=shard.shard_id,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                SequenceNumber=shard.last_read,
            )
        return answer["ShardIterator"]

    def _check_places(self, arn: str) -> None:
        """The table was created again in moto (a restart): each shard's place must still hold
        the record last read (the same change at the same number), or the stream is a new one,
        read from its start."""
        for shard in self.shards.values():
            if shard.last_read is None or self._holds(
                arn, shard.shard_id, shard.last_read, shard.last_change
            ):
                continue
            self._log(
                f"{self.where}: the stream of table {self.spec.table_name!r} was created anew (DynamoDB "
                "restarted without a data directory): reading it from its first record"
            )
            shard.last_read = None
            shard.iterator = self._streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard.shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            shard.exhausted = False

    def resume(self, kept: dict[str, tuple[str, str]]) -> int:
        """Go on after the records a previous run delivered (stream_positions.py), for each shard
        whose kept record the stream still holds; the others start at StartingPosition, with a
        line. Returns how many shards resumed."""
        resumed = 0
        for shard_id, (number, change) in kept.items():
            shard = self.shards.get(shard_id)
            if shard is None:
                continue
            if self._holds(self.stream_arn, shard_id, number, change):
                shard.last_read, shard.last_change, shard.iterator = number, change, None
                resumed += 1
                continue
            self._log(
                f"{self.where}: the record delivered last time ({number}) is not in the stream of table "
                f"{self.spec.table_name!r} any more: starting at {self.spec.starting_position}"
            )
        return resumed

    def _holds(self, arn: str, shard_id: str, number: str, change: str) -> bool:
        """Whether the shard's record at `number` is this change."""
        try:
            answer = self._streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=number
            )
            found = self._streams.get_records(ShardIterator=answer["ShardIterator"], Limit=1)["Records"]
        except ClientError:
            return False  # moto refuses a number before the shard's first: not this stream's record
        there = [lambda_record(dict(record), region=self._region, stream_arn=arn) for record in found]
        return bool(there) and (sequence_number(there[0]), fingerprint(there[0])) == (number, change)

    def _describe_shards(self, arn: str) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        start: str | None = None
        while True:
            paging = {"ExclusiveStartShardId": start} if start else {}
            page = self._streams.describe_stream(StreamArn=arn, **paging)["StreamDescription"]
            shards.extend(dict(shard) for shard in page.get("Shards", []))
            start = page.get("LastEvaluatedShardId")
            if not start:
                return shards


def fingerprint(record: dict[str, Any]) -> str:
    """What a record says changed: the same for a record replayed from moto's journal (whose
    eventID and creation time are new), different for another change at the same number."""
    dynamodb = record["dynamodb"]
    change = [record["eventName"], *(dynamodb.get(key) for key in ("Keys", "NewImage", "OldImage"))]
    return json.dumps(change, sort_keys=True, default=repr)
