"""Ships the functions' log lines to CloudWatch Logs (moto) in batches, off the request path.

Lambda does not write a function's lines to CloudWatch as they are printed: its log agent
buffers them and sends them in batches. So does this. `put()` only stamps a line with the
time (ms since the epoch, as CloudWatch keeps it) and appends it to a buffer; one thread
sends what is buffered every FLUSH_INTERVAL_SECONDS as PutLogEvents calls, one stream at a
time, each within CloudWatch's limits (10,000 events, 1 MiB counting 26 bytes per event,
256 KiB per event). A stream is created on its first line and its log group too, if it does
not exist (Lambda creates a function's default group the same way); a group created here
gets the retention the template gives it.

A line is never dropped for a refusal it can outlive: when moto is down (restarting, from its
journal) the batch waits and is sent again. Only a buffer over MAX_BUFFERED_BYTES (moto gone
for a long time) drops its oldest lines, counted and said once. `close()` sends everything
buffered before it returns (a stack stop), up to a deadline.

Within a stream the timestamps never go backwards: PutLogEvents refuses a batch out of
order, and the order the lines were written in (a handler's output before its END) is the one
to keep even if the system clock steps back.
"""

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from emulator.local_credentials import FAKE_CREDENTIALS, local_session

# How often the buffer is sent: Lambda's own agent delivers within about a second.
FLUSH_INTERVAL_SECONDS = 0.2
# PutLogEvents' limits.
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD_BYTES
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000
# Lines kept while moto cannot take them; beyond this the oldest go.
MAX_BUFFERED_BYTES = 64 * 1024 * 1024
# Between two attempts while moto is unreachable.
RETRY_SECONDS = 0.5
# How long close() keeps trying to send what is buffered.
CLOSE_TIMEOUT_SECONDS = 10.0


# The shipper's own client: it retries by itself, so botocore must neither retry nor wait long.
CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=10, retries={"total_max_attempts": 1})


def logs_client(endpoint_url: str, region: str) -> Any:
    """A CloudWatch Logs client for the local endpoint, as the shipper uses it."""
    return local_session().client(
        "logs", endpoint_url=endpoint_url, region_name=region, config=CLIENT_CONFIG, **FAKE_CREDENTIALS
    )


@dataclass(frozen=True)
class LogLine:
    group: str
    stream: str
    timestamp_ms: int
    message: str


def split_message(message: str) -> list[str]:
    """`message` in pieces CloudWatch takes (at most MAX_EVENT_BYTES of UTF-8 each), never
    cutting a character in two."""
    data = message.encode()
    if len(data) <= MAX_EVENT_BYTES:
        return [message]
    pieces = []
    while data:
        cut = min(len(data), MAX_EVENT_BYTES)
        # A continuation byte (10xxxxxx) would begin the next piece: step back to a character.
        while cut < len(data) and data[cut] & 0xC0 == 0x80:
            cut -= 1
        pieces.append(data[:cut].decode())
        data = data[cut:]
    return pieces


def batches(lines: list[LogLine]) -> list[list[LogLine]]:
    """One stream's lines, in order, cut into PutLogEvents calls within CloudWatch's limits."""
    result: list[list[LogLine]] = []
    current: list[LogLine] = []
    size = 0
    for line in lines:
        cost = len(line.message.encode()) + EVENT_OVERHEAD_BYTES
        if current and (
            len(current) >= MAX_BATCH_EVENTS
            or size + cost > MAX_BATCH_BYTES
            or line.timestamp_ms - current[0].timestamp_ms > MAX_BATCH_SPAN_MS
        ):
            result.append(current)
            current, size = [], 0
        current.append(line)
        size += cost
    if current:
        result.append(current)
    return result


class LogShipper:
    """`put()` from any thread; a thread of its own sends. `flush()` waits for what was put so
    far to be acknowledged; `close()` flushes and stops."""

    def __init__(
        self,
        make_client: Callable[[], Any],
        *,
        retention_days: dict[str, int] | None = None,
        flush_interval: float = FLUSH_INTERVAL_SECONDS,
        max_buffered_bytes: int = MAX_BUFFERED_BYTES,
        log: Callable[[str], None] | None = None,
    ) -> None:
        # A boto3 CloudWatch Logs client, made in the sending thread and used only there.
        self._make_client = make_client
        self._retention_days = dict(retention_days or {})
        self._flush_interval = flush_interval
        self._max_buffered_bytes = max_buffered_bytes
        self._log = log
        self._condition = threading.Condition()
        self._buffer: deque[LogLine] = deque()
        self._buffered_bytes = 0
        self._last_timestamp: dict[tuple[str, str], int] = {}
        self._put = 0  # lines put since the start
        self._done = 0  # lines sent (or dropped) since the start
        self._dropped = 0
        self._closing = False
        self._flush_now = False
        self._known_streams: set[tuple[str, str]] = set()
        self._thread = threading.Thread(target=self._run, name="log-shipper", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        return self._dropped

    def put(self, group: str, stream: str, message: str, timestamp_ms: int | None = None) -> None:
        """Buffer one line (never blocks on CloudWatch)."""
        with self._condition:
            if self._closing:
                return
            now = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
            key = (group, stream)
            now = max(now, self._last_timestamp.get(key, now))
            self._last_timestamp[key] = now
            for piece in split_message(message):
                self._buffer.append(LogLine(group, stream, now, piece))
                self._buffered_bytes += len(piece) + EVENT_OVERHEAD_BYTES
                self._put += 1
            while self._buffered_bytes > self._max_buffered_bytes and len(self._buffer) > 1:
                self._drop_oldest()
            self._condition.notify_all()

    def _drop_oldest(self) -> None:
        line = self._buffer.popleft()
        self._buffered_bytes -= len(line.message) + EVENT_OVERHEAD_BYTES
        self._done += 1
        self._dropped += 1
        if self._dropped == 1 and self._log is not None:
            self._log("CloudWatch Logs (moto) is not taking log lines; the oldest buffered ones are dropped")
        self._condition.notify_all()

    def flush(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> bool:
        """Wait until every line put before this call is in CloudWatch; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            target = self._put
            self._flush_now = True
            self._condition.notify_all()
            while self._done < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._condition.wait(remaining)
        return True

    def close(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> None:
        """Send what is buffered (for at most `timeout`), then stop the thread."""
        self.flush(timeout)
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        self._thread.join(timeout)

    # -- the sending thread ------------------------------------------------------------------

    def _run(self) -> None:
        client: Any = None
        while True:
            with self._condition:
                while not self._buffer and not self._closing:
                    self._condition.wait()
                if self._closing and not self._buffer:
                    return
                # Let a request's lines gather into one call, unless someone waits for them.
                deadline = time.monotonic() + self._flush_interval
                while not self._flush_now and not self._closing:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._condition.wait(remaining)
                self._flush_now = False
                taken = list(self._buffer)
            try:
                if client is None:
                    client = self._make_client()
                self._send(client, taken)
            except (BotoCoreError, ClientError, OSError):
                # moto is restarting or refused a batch it may take later: keep the lines.
                with self._condition:
                    if self._closing:
                        self._give_up()
                        return
                    self._condition.wait(RETRY_SECONDS)

    def _send(self, client: Any, taken: list[LogLine]) -> None:
        """Send `taken` (the head of the buffer), stream by stream in order; each batch leaves the
        buffer once CloudWatch has acknowledged it, so a failure resends only what is left."""
        by_stream: dict[tuple[str, str], list[LogLine]] = {}
        for line in taken:
            by_stream.setdefault((line.group, line.stream), []).append(line)
        for (group, stream), lines in by_stream.items():
            for batch in batches(lines):
                try:
                    self._put_batch(client, group, stream, batch)
                except ClientError as error:
                    if _retriable(error):
                        raise
                    # CloudWatch will never take this batch: sending it again would hold up
                    # every line behind it.
                    with self._condition:
                        self._dropped += len(batch)
                    if self._log is not None:
                        self._log(f"CloudWatch Logs refused {len(batch)} lines for {group} {stream}: {error}")
                self._acknowledged(batch)

    def _acknowledged(self, batch: list[LogLine]) -> None:
        sent = set(map(id, batch))
        with self._condition:
            kept: deque[LogLine] = deque()
            for line in self._buffer:
                if id(line) in sent:
                    self._buffered_bytes -= len(line.message) + EVENT_OVERHEAD_BYTES
                    self._done += 1
                else:
                    kept.append(line)
            self._buffer = kept
            self._condition.notify_all()

    def _put_batch(self, client: Any, group: str, stream: str, batch: list[LogLine]) -> None:
        events = [{"timestamp": line.timestamp_ms, "message": line.message} for line in batch]
        if (group, stream) not in self._known_streams:
            self._create_stream(client, group, stream)
        try:
            client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
            # Deleted meanwhile (or moto restarted without a data directory): make it again.
            self._known_streams.discard((group, stream))
            self._create_stream(client, group, stream)
            client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    def _create_stream(self, client: Any, group: str, stream: str) -> None:
        try:
            client.create_log_stream(logGroupName=group, logStreamName=stream)
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                ensure_log_group(client, group, self._retention_days.get(group))
                client.create_log_stream(logGroupName=group, logStreamName=stream)
            elif _code(error) != "ResourceAlreadyExistsException":
                raise
        self._known_streams.add((group, stream))

    def _give_up(self) -> None:
        """Closing and moto still cannot take them: what is left is counted as dropped."""
        lost = len(self._buffer)
        if lost and self._log is not None:
            self._log(f"{lost} log lines could not be written to CloudWatch Logs (moto) before the stop")
        self._done += lost
        self._dropped += lost
        self._buffer.clear()
        self._buffered_bytes = 0
        self._condition.notify_all()


def ensure_log_group(client: Any, group: str, retention_days: int | None) -> bool:
    """Create `group` (with its retention) unless it exists; True if it was created."""
    try:
        client.create_log_group(logGroupName=group)
    except ClientError as error:
        if _code(error) == "ResourceAlreadyExistsException":
            return False
        raise
    if retention_days is not None:
        client.put_retention_policy(logGroupName=group, retentionInDays=retention_days)
    return True


def _retriable(error: ClientError) -> bool:
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return (
        status >= 500
        or status == 429
        or _code(error) in ("ThrottlingException", "ServiceUnavailableException")
    )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
