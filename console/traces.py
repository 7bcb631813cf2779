"""The X-Ray console's Traces page in the terminal: the recent traces, and one trace's timeline.

    python -m console.traces [--minutes 60] [--limit 20] [--filter 'http.status = 400']
    python -m console.traces --latest [--filter 'service("Demo")']
    python -m console.traces --id 1-6666f180-5f2a1b3c4d5e6f708192a3b4
    ... [--endpoint-url http://127.0.0.1:2000 | --aws [--region ap-northeast-1]]

The list is GetTraceSummaries (newest first, only the pages the list needs); the timeline is
BatchGetTraces, drawn as a tree: segments hang under the subsegment whose id is their
parent_id (API Gateway's Lambda call -> the AWS::Lambda segment -> the function's segment),
subsegments the SDK sent on their own under the span they name, and a proportional bar
shows when in the trace each one ran.
"""

import argparse
import json
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from console.xray_client import API_ERRORS, add_source_arguments, one_line, report_api_error, source_from
from emulator.xray.times import epoch_seconds

DEFAULT_LIMIT = 20
BAR_WIDTH = 40
# rich's Tree draws each level 4 cells right of its parent ("├── "); the timeline pads names
# by this so the bars of every depth start in one column.
TREE_INDENT = 4
# A longer name pushes its own line's bar right rather than every line's.
MAX_NAME_COLUMN = 60
FLAG_STYLES = {"fault": "bold red", "error": "bold yellow", "throttle": "bold magenta", "partial": "cyan"}


# --- the list ---------------------------------------------------------------------------------


def fetch_trace_summaries(
    client: Any, start: float, end: float, filter_expression: str | None = None, limit: int | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """TraceSummary items for [start, end], newest first, and whether that is all of them.

    X-Ray answers newest first (the first page holds the most recent traces), so reading
    stops at the page that brings `limit`; the rest of the window is never fetched.
    """
    request: dict[str, Any] = {"StartTime": start, "EndTime": end}
    if filter_expression is not None:
        request["FilterExpression"] = filter_expression
    summaries: list[dict[str, Any]] = []
    complete = True
    for page in client.get_paginator("get_trace_summaries").paginate(**request):
        summaries.extend(page.get("TraceSummaries", []))
        if limit is not None and len(summaries) >= limit and page.get("NextToken"):
            complete = False
            break
    # Within what was read, newest first whatever order the pages had.
    summaries.sort(key=lambda summary: epoch_seconds(summary.get("StartTime")) or 0.0, reverse=True)
    return summaries, complete


def render_trace_summaries(summaries: Iterable[Mapping[str, Any]]) -> RenderableType:
    """TraceSummary items (as boto3 returns them, or their JSON) -> a table, one row a trace."""
    rows = list(summaries)
    if not rows:
        return Text("no traces in this time window", style="yellow")
    table = Table(title_justify="left")
    # The id is what --id takes: never cut or wrapped, so it can be copied whole.
    table.add_column("trace id", no_wrap=True, style="cyan")
    table.add_column("start", no_wrap=True)
    table.add_column("method", no_wrap=True)
    table.add_column("URL", overflow="fold")
    table.add_column("status", justify="right", no_wrap=True)
    table.add_column("response ms", justify="right", no_wrap=True)
    table.add_column("flags", no_wrap=True)
    table.add_column("annotations", overflow="fold")
    for summary in rows:
        http = summary.get("Http") or {}
        status = http.get("HttpStatus")
        response_time = summary.get("ResponseTime")
        table.add_row(
            summary.get("Id", "?"),
            _clock(summary.get("StartTime")),
            http.get("HttpMethod", ""),
            http.get("HttpURL", ""),
            Text(str(status) if status is not None else "", style=_status_style(status)),
            f"{1000 * response_time:.1f}" if response_time is not None else "-",
            _flags(
                error=summary.get("HasError"),
                fault=summary.get("HasFault"),
                throttle=summary.get("HasThrottle"),
                partial=summary.get("IsPartial"),
            ),
            describe_annotations(summary.get("Annotations") or {}),
        )
    return table


def describe_annotations(annotations: Mapping[str, Any]) -> str:
    """TraceSummary.Annotations -> `ColdStart=true, user="alice"` (every distinct value)."""
    parts = []
    for key, values in sorted(annotations.items()):
        for value in values or []:
            parts.append(f"{key}={_annotation_value(value.get('AnnotationValue') or {})}")
    return ", ".join(parts)


def _annotation_value(value: Mapping[str, Any]) -> str:
    # Spelled as in a filter expression, so a value can be pasted into --filter.
    if "BooleanValue" in value:
        return "true" if value["BooleanValue"] else "false"
    if "NumberValue" in value:
        return f"{value['NumberValue']:g}"
    if "StringValue" in value:
        return json.dumps(value["StringValue"])
    return "?"


# --- the timeline -----------------------------------------------------------------------------


@dataclass
class Span:
    """A segment or subsegment of the trace, with the spans drawn under it."""

    document: dict[str, Any]
    segment: bool
    children: list["Span"] = field(default_factory=list)

    @property
    def start(self) -> float:
        return _seconds(self.document.get("start_time")) or 0.0

    @property
    def end(self) -> float | None:
        return _seconds(self.document.get("end_time"))


def _seconds(value: Any) -> float | None:
    """A document's time as a finite float, or None: a response from any X-Ray, or from a
    store older than today's intake checks, may hold a string, NaN or 1e308 there."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) else None


def render_trace_timeline(trace: Mapping[str, Any], bar_width: int = BAR_WIDTH) -> RenderableType:
    """A BatchGetTraces `Trace` (boto3's, or its JSON) -> a tree of its spans on a timeline.

    Each line: name, origin (segments) or namespace (subsegments), start offset from the trace
    start and duration in ms, a bar of `bar_width` cells placing the span in the trace, and its
    error/fault/throttle flags; a span with a cause gets a line for its exception.
    """
    documents = [_document(segment.get("Document")) for segment in trace.get("Segments", [])]
    roots, by_id = _link([document for document in documents if document is not None])
    trace_id = trace.get("Id", "?")
    if not roots:
        return Text(f"trace {trace_id} has no segments", style="yellow")
    spans = list(by_id.values())
    trace_start = min(span.start for span in spans)
    ends = [span.end for span in spans if span.end is not None]
    trace_end = max(ends, default=trace_start)
    total = trace_end - trace_start
    exceptions = _exceptions_by_id(spans)

    depths: dict[int, int] = {}

    def measure(span: Span, depth: int) -> None:
        depths[id(span)] = depth
        for child in span.children:
            measure(child, depth + 1)

    for root in roots:
        measure(root, 1)
    name_column = min(
        MAX_NAME_COLUMN, max(TREE_INDENT * depths[id(span)] + len(_name_text(span)) for span in spans)
    )

    def label(span: Span) -> Text:
        text = Text(no_wrap=False)
        name = _name_text(span)
        text.append_text(name)
        text.append(" " * max(1, name_column - TREE_INDENT * depths[id(span)] - len(name) + 1))
        offset = f"+{1000 * (span.start - trace_start):.1f}"
        text.append(f"{offset:>9} ms ", style="dim")
        end = span.end
        in_progress = end is None or bool(span.document.get("in_progress"))
        duration = f"{1000 * (end - span.start):.1f}" if end is not None else "…"
        text.append(f"{duration:>8} ms ", style="bold" if end is not None else "dim")
        flags = _span_flags(span.document)
        text.append_text(_bar(span.start - trace_start, end, trace_start, total, bar_width, flags))
        # Segments say what they are by origin, subsegments by namespace (aws, remote), as the
        # console does; after the bar, so that long names and types do not push the bars apart.
        kind = span.document.get("origin") if span.segment else span.document.get("namespace")
        if kind:
            text.append(f" {kind}", style="dim")
        if in_progress:
            text.append(" in progress", style="cyan")
        for flag in flags:
            text.append(f" {flag}", style=FLAG_STYLES[flag])
        return text

    def grow(branch: Tree, span: Span, parent: Span | None) -> None:
        node = branch.add(label(span))
        # An inferred segment (DynamoDB's table) repeats its subsegment's cause: say it once.
        repeated = (
            parent is not None
            and span.document.get("inferred")
            and span.document.get("cause") == parent.document.get("cause")
        )
        cause = None if repeated else _cause_line(span.document, exceptions)
        if cause is not None:
            node.add(cause)
        for child in span.children:
            grow(node, child, span)

    duration = trace.get("Duration")
    duration_ms = 1000 * float(duration) if duration is not None else 1000 * total
    header = Text()
    header.append(f"trace {trace_id}", style="bold")
    header.append(
        f"  started {_clock(trace_start)} · {duration_ms:.1f} ms · {len(spans)} segments and subsegments",
        style="dim",
    )
    if trace.get("LimitExceeded"):
        header.append("  (LimitExceeded: X-Ray left out segments)", style="yellow")
    tree = Tree(header)
    for root in roots:
        grow(tree, root, None)
    return tree


def _document(raw: Any) -> dict[str, Any] | None:
    """A Segment's Document: boto3 gives the JSON text; a recorded response may hold the object."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return None
    return raw if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None


def _link(documents: list[dict[str, Any]]) -> tuple[list[Span], dict[str, Span]]:
    """The documents as trees: each one under the span its parent_id names; sorted by start.

    A document is a segment, or a subsegment the SDK sent on its own (`"type": "subsegment"`,
    which X-Ray normally folds into its segment before answering). Parents missing from the
    response (a partial trace) make roots, and so does a document whose parent_id would close
    a loop.
    """
    by_id: dict[str, Span] = {}
    tops: list[Span] = []

    def index(document: dict[str, Any], segment: bool) -> Span | None:
        span_id = document.get("id")
        if not isinstance(span_id, str) or span_id in by_id:
            return None  # a repeated id (a resent document): the first one wins
        span = Span(document=document, segment=segment)
        by_id[span_id] = span
        for child in document.get("subsegments") or []:
            if isinstance(child, dict):
                child_span = index(child, segment=False)
                if child_span is not None:
                    span.children.append(child_span)
        return span

    for document in documents:
        span = index(document, segment=document.get("type") != "subsegment")
        if span is not None:
            tops.append(span)
    # Which top-level document holds each span, to refuse a parent_id that loops back.
    holder: dict[str, Span] = {}

    def hold(top: Span, span: Span) -> None:
        holder[span.document["id"]] = top
        for child in span.children:
            hold(top, child)

    for top in tops:
        hold(top, top)
    attached_to: dict[int, Span] = {}
    roots: list[Span] = []
    for top in tops:
        parent = by_id.get(top.document.get("parent_id") or "")
        ancestor = holder.get(parent.document["id"]) if parent is not None else None
        while ancestor is not None and ancestor is not top:
            ancestor = attached_to.get(id(ancestor))
        if parent is None or ancestor is top:
            roots.append(top)
        else:
            parent.children.append(top)
            attached_to[id(top)] = holder[parent.document["id"]]
    for span in by_id.values():
        span.children.sort(key=lambda child: child.start)
    roots.sort(key=lambda root: root.start)
    return roots, by_id


def _name_text(span: Span) -> Text:
    return Text(str(span.document.get("name", "?")), style="bold" if span.segment else "")


def _bar(
    offset: float, end: float | None, trace_start: float, total: float, width: int, flags: list[str]
) -> Text:
    """`width` cells for the trace; the span's part is filled, at least one cell."""
    stop = total if end is None else end - trace_start
    if not (0 < total < math.inf and math.isfinite(offset) and math.isfinite(stop)):
        # An instant, or times too far apart to place (e.g. a span from -1e308 to 1e308).
        first, last = 0, width
    else:
        first = max(0, min(width - 1, int(offset / total * width)))
        last = max(first + 1, min(width, round(stop / total * width)))
    style = next((FLAG_STYLES[flag] for flag in flags), "green")
    if end is None:
        style = "cyan"
    bar = Text("│", style="dim")
    bar.append("·" * first, style="dim")
    bar.append("█" * (last - first), style=style)
    bar.append("·" * (width - last), style="dim")
    bar.append("│", style="dim")
    return bar


def _span_flags(document: Mapping[str, Any]) -> list[str]:
    return [flag for flag in ("fault", "error", "throttle") if document.get(flag)]


def _exceptions_by_id(spans: Iterable[Span]) -> dict[str, dict[str, Any]]:
    """Every recorded exception by id: a cause may be just the id of one recorded elsewhere."""
    found: dict[str, dict[str, Any]] = {}
    for span in spans:
        cause = span.document.get("cause")
        if isinstance(cause, dict):
            for exception in cause.get("exceptions") or []:
                if isinstance(exception, dict) and isinstance(exception.get("id"), str):
                    found.setdefault(exception["id"], exception)
    return found


def _cause_line(document: Mapping[str, Any], exceptions: Mapping[str, dict[str, Any]]) -> Text | None:
    """`! ValueError: bad input` for a span that failed with a cause."""
    if not _span_flags(document):
        return None
    cause = document.get("cause")
    if isinstance(cause, str):
        exception = exceptions.get(cause)
    elif isinstance(cause, dict):
        exception = next((e for e in cause.get("exceptions") or [] if isinstance(e, dict)), None)
    else:
        return None
    if exception is None:
        return Text(f"! cause {cause}", style="red") if isinstance(cause, str) else None
    kind = exception.get("type")
    message = exception.get("message")
    described = ": ".join(str(part) for part in (kind, message) if part) or "(no message)"
    if exception.get("remote"):
        described += " (remote)"
    return Text(f"! {one_line(described)}", style="red" if document.get("fault") else "yellow")


# --- shared bits ------------------------------------------------------------------------------


def _clock(value: Any) -> str:
    """Local HH:MM:SS.mmm."""
    epoch = epoch_seconds(value)
    if epoch is None:
        return "?"
    try:
        moment = datetime.fromtimestamp(epoch)
    except (OverflowError, OSError, ValueError):  # beyond the years datetime can hold
        return "?"
    return f"{moment:%H:%M:%S}.{moment.microsecond // 1000:03d}"


def _flags(**flags: Any) -> Text:
    text = Text()
    for name, on in flags.items():
        if on:
            if text:
                text.append(" ")
            text.append(name, style=FLAG_STYLES[name])
    return text


def _status_style(status: Any) -> str:
    if not isinstance(status, int):
        return ""
    if status >= 500:
        return FLAG_STYLES["fault"]
    if status == 429:
        return FLAG_STYLES["throttle"]
    if status >= 400:
        return FLAG_STYLES["error"]
    return "green"


# --- the command ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m console.traces",
        description="List recent X-Ray traces, or draw one trace's timeline.",
    )
    add_source_arguments(parser)
    parser.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help=f"traces to list (default {DEFAULT_LIMIT})"
    )
    parser.add_argument(
        "--filter",
        metavar="EXPR",
        help="X-Ray filter expression, e.g. 'http.status = 400', 'service(\"Demo\")'",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--id", metavar="TRACE_ID", help="draw this trace's timeline")
    which.add_argument("--latest", action="store_true", help="draw the newest (matching) trace's timeline")
    args = parser.parse_args(argv)
    if args.limit <= 0:
        parser.error("--limit must be positive")
    if args.id is not None and args.filter is not None:
        parser.error("--filter chooses traces; it does not apply to --id")
    source = source_from(args, parser)
    console = Console()

    operation = "GetTraceSummaries"
    try:
        client = source.client()
        summaries: list[dict[str, Any]] = []
        if args.id is None:
            limit = 1 if args.latest else args.limit
            summaries, complete = fetch_trace_summaries(client, *source.window(), args.filter, limit)
        if args.id is None and not args.latest:
            return _print_list(console, source.where, args, summaries, complete)
        trace_id = args.id
        if trace_id is None:
            if not summaries:
                print(
                    f"error: no traces{_matching(args)} in the last {args.minutes:g} minutes", file=sys.stderr
                )
                return 1
            trace_id = summaries[0]["Id"]
        operation = "BatchGetTraces"
        response = client.batch_get_traces(TraceIds=[trace_id])
        # BatchGetTraces has a NextToken, but only ever pages when asked for many trace ids.
        traces = response.get("Traces", [])
    except ClientError as error:
        if (
            args.filter is not None
            and error.response.get("Error", {}).get("Code") == "InvalidRequestException"
        ):
            # The API's own words point at the fault in the expression.
            message = error.response["Error"].get("Message") or str(error)
            print(f"error: --filter {args.filter!r}: {one_line(message)}", file=sys.stderr)
            return 2
        return report_api_error(error, source.where, operation)
    except API_ERRORS as error:
        return report_api_error(error, source.where, operation)
    if not traces:
        print(f"error: trace {trace_id} not found in {source.where}", file=sys.stderr)
        return 1
    console.print(render_trace_timeline(traces[0]))
    return 0


def _print_list(
    console: Console, where: str, args: argparse.Namespace, summaries: list[dict[str, Any]], complete: bool
) -> int:
    shown = summaries[: args.limit]
    title = f"traces{_matching(args)} in {where}, last {args.minutes:g} minutes"
    if not complete:
        title += f": newest {len(shown)} of more than {len(summaries)} (--limit)"
    elif len(summaries) > len(shown):
        title += f": newest {len(shown)} of {len(summaries)} (--limit)"
    console.print(Text(title, style="bold"))
    console.print(render_trace_summaries(shown))
    return 0


def _matching(args: argparse.Namespace) -> str:
    return f" matching {args.filter!r}" if args.filter is not None else ""


if __name__ == "__main__":
    raise SystemExit(main())
