"""The X-Ray service operations over a TraceStore (moto's "models"): inputs already checked
for shape by `api`, outputs are the response dicts botocore's model describes.
"""

import base64
import hashlib
import json
import math
import time
from collections.abc import Callable
from typing import Any

from emulator.xray import filter_sql, summary_pages, traces
from emulator.xray.documents import InvalidDocument, parse_document
from emulator.xray.filters import FilterError, GroupLookup, compile_filter
from emulator.xray.graph import Scope, build_services
from emulator.xray.store import TraceStore

SUMMARIES_PAGE_SIZE = 100
# The rule every X-Ray account starts with; the SDK polls it outside Lambda.
DEFAULT_RULE_NAME = "Default"
DEFAULT_FIXED_RATE = 0.05
DEFAULT_RESERVOIR_SIZE = 1
# How long a reservoir quota holds and how often the SDK should report, in seconds.
TARGET_TTL_SECONDS = 10
TARGET_INTERVAL_SECONDS = 10
LOCAL_ACCOUNT = "000000000000"


class InvalidRequest(ValueError):
    """Answered as 400 InvalidRequestException with this message."""


class JsonText(str):
    """A response already encoded as JSON: the API sends it as it is."""


class XRayBackend:
    def __init__(
        self, store: TraceStore, region: str = "ap-northeast-1", clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.region = region
        self._clock = clock
        self._rules_created = clock()

    def put_trace_segments(self, documents: list[str]) -> dict[str, Any]:
        """Store the valid documents; report the others in UnprocessedTraceSegments."""
        parsed = []
        unprocessed = []
        for text in documents:
            try:
                parsed.append(parse_document(text))
            except InvalidDocument as error:
                unprocessed.append({"Id": _id_of(text), "ErrorCode": "InvalidSegment", "Message": str(error)})
        if parsed:
            # One refused by the database is reported like an invalid one; the others are kept.
            _, failures = self.store.insert_salvaging(parsed)
            unprocessed.extend(
                {"Id": facts.id, "ErrorCode": "StoreError", "Message": f"could not be stored: {error}"}
                for facts, error in failures
            )
        return {"UnprocessedTraceSegments": unprocessed}

    def batch_get_traces(self, trace_ids: list[str]) -> dict[str, Any]:
        found = []
        missing = []
        with self.store.reader() as db:
            for trace_id in dict.fromkeys(trace_ids):
                trace = traces.assemble_trace(db, trace_id.lower())
                if trace is None:
                    missing.append(trace_id)
                else:
                    found.append(trace)
        return {"Traces": found, "UnprocessedTraceIds": missing}

    def get_trace_summaries(
        self,
        start: float,
        end: float,
        time_range_type: str = "TraceId",
        filter_expression: str | None = None,
        next_token: str | None = None,
        groups: GroupLookup | None = None,
    ) -> dict[str, Any]:
        """get_trace_summaries_json's answer, as a dict."""
        answer = self.get_trace_summaries_json(
            start, end, time_range_type, filter_expression, next_token, groups
        )
        result: dict[str, Any] = json.loads(answer)
        return result

    def get_trace_summaries_json(
        self,
        start: float,
        end: float,
        time_range_type: str = "TraceId",
        filter_expression: str | None = None,
        next_token: str | None = None,
        groups: GroupLookup | None = None,
    ) -> JsonText:
        """Trace summaries newest first (the first page holds the most recent traces, as the
        console reads them: "To get the freshest results first, the console starts scanning
        at the end of the time range", xray-console-filters.md). `groups` resolves
        `group.name` / `group.arn` in the filter to the group's own expression.

        The answer is the response body: each TraceSummary is the JSON the index stores, put
        in as it is. Decoding a page's summaries only to encode them again cost ten times
        the query that reads them."""
        try:
            predicate = compile_filter(filter_expression, groups) if filter_expression is not None else None
        except FilterError as error:
            raise InvalidRequest(f"FilterExpression is not valid: {error}") from None
        fingerprint = hashlib.sha256(json.dumps([start, end, time_range_type, filter_expression]).encode())
        after, counted = _read_token(next_token, fingerprint.hexdigest()[:16]) if next_token else (None, None)
        with self.store.reader() as db:
            page = summary_pages.Page(db, start, end, time_range_type, after, counted)
            summaries = page.read(SUMMARIES_PAGE_SIZE, filter_sql.split(predicate))
            processed = page.processed_count()
        rest: dict[str, Any] = {"ApproximateTime": self._clock(), "TracesProcessedCount": processed}
        if page.next_after is not None:
            rest["NextToken"] = _make_token(page.next_after, fingerprint.hexdigest()[:16], processed)
        return JsonText(_body(summaries, json.dumps(rest)))

    def get_service_graph(self, start: float, end: float) -> dict[str, Any]:
        with self.store.reader() as db:
            services = build_services(db, Scope(start=start, end=end))
        return {"StartTime": start, "EndTime": end, "Services": services, "ContainsOldGroupVersions": False}

    def get_trace_graph(self, trace_ids: list[str]) -> dict[str, Any]:
        with self.store.reader() as db:
            services = build_services(db, Scope(trace_ids=tuple(t.lower() for t in trace_ids)))
        return {"Services": services}

    def get_sampling_rules(self) -> dict[str, Any]:
        rule = {
            "RuleName": DEFAULT_RULE_NAME,
            "RuleARN": f"arn:aws:xray:{self.region}:{LOCAL_ACCOUNT}:sampling-rule/{DEFAULT_RULE_NAME}",
            "ResourceARN": "*",
            # The default rule always has the lowest priority.
            "Priority": 10000,
            "FixedRate": DEFAULT_FIXED_RATE,
            "ReservoirSize": DEFAULT_RESERVOIR_SIZE,
            "ServiceName": "*",
            "ServiceType": "*",
            "Host": "*",
            "HTTPMethod": "*",
            "URLPath": "*",
            "Version": 1,
            "Attributes": {},
        }
        record = {"SamplingRule": rule, "CreatedAt": self._rules_created, "ModifiedAt": self._rules_created}
        return {"SamplingRuleRecords": [record]}

    def get_sampling_targets(self, statistics: list[dict[str, Any]]) -> dict[str, Any]:
        now = self._clock()
        targets = []
        unprocessed = []
        for document in statistics:
            if document["RuleName"] != DEFAULT_RULE_NAME:
                unprocessed.append(
                    {"RuleName": document["RuleName"], "ErrorCode": "400", "Message": "no such sampling rule"}
                )
                continue
            targets.append(
                {
                    "RuleName": DEFAULT_RULE_NAME,
                    "FixedRate": DEFAULT_FIXED_RATE,
                    "ReservoirQuota": DEFAULT_RESERVOIR_SIZE,
                    "ReservoirQuotaTTL": now + TARGET_TTL_SECONDS,
                    "Interval": TARGET_INTERVAL_SECONDS,
                }
            )
        return {
            "SamplingTargetDocuments": targets,
            "LastRuleModification": self._rules_created,
            "UnprocessedStatistics": unprocessed,
        }


def _body(summaries: list[str], rest: str) -> str:
    """{"TraceSummaries": [...], then the members of `rest` (a JSON object, never empty).

    One join copies the page's summaries once (a Python loop gathering them was a tenth of a
    page; a join inside a join copied a page-sized string twice, and allocating the second
    often cost more than the query)."""
    head = '{"TraceSummaries":['
    tail = f"],{rest[1:]}"
    if not summaries:
        return head + tail
    parts = list(summaries)
    parts[0] = head + parts[0]
    parts[-1] += tail
    return ",".join(parts)


def _id_of(text: str) -> str:
    try:
        value = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return ""
    return value.get("id", "") if isinstance(value, dict) and isinstance(value.get("id"), str) else ""


def _make_token(after: summary_pages.Keyset, fingerprint: str, processed: int) -> str:
    """The key of the last trace returned (keyset paging: each page costs the same, wherever
    it starts), which query it belongs to, and the window's TracesProcessedCount as the first
    page counted it (every page reports the window's; counting it again on each page would
    cost each page what counting cost the first)."""
    data = {"after": [after.start_time, after.trace_id], "query": fingerprint, "processed": processed}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _read_token(token: str, fingerprint: str) -> tuple[summary_pages.Keyset, int | None]:
    """The key a NextToken stands for, and the count it carries (None in a token without one);
    it must come from the same query."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        start_time, trace_id = data["after"]
        query = data["query"]
        processed = data.get("processed")
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise InvalidRequest("NextToken is not valid") from None
    if (
        not isinstance(start_time, int | float)
        or isinstance(start_time, bool)
        or not math.isfinite(start_time)
        or not isinstance(trace_id, str)
        or not (processed is None or (isinstance(processed, int) and not isinstance(processed, bool)))
        or (processed is not None and processed < 0)
    ):
        raise InvalidRequest("NextToken is not valid")
    if query != fingerprint:
        raise InvalidRequest("NextToken belongs to a different query (StartTime, EndTime or filter changed)")
    return summary_pages.Keyset(float(start_time), trace_id), processed
