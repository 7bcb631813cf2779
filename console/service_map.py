"""The service map in the terminal, from GetServiceGraph: local (default) or AWS (--aws).

    python -m console.service_map [--endpoint-url http://127.0.0.1:2000] [--minutes 60]
    python -m console.service_map --aws [--region ap-northeast-1]

Both read GetServiceGraph through boto3, so one renderer draws the local and the AWS graph.
X-Ray answers with `client` nodes (Type "client": the callers of the root services, with
an edge to each); the map draws one "client" at the top and hangs each client's root
service under it with that edge's statistics. A graph without client nodes (an older
local store, a hand-made response) gets the same "client" above the services marked Root.
"""

import argparse
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

# make_client and the defaults are shared with the other terminal views; importers of this
# module keep finding them here.
from console.xray_client import (
    API_ERRORS,
    DEFAULT_ENDPOINT,
    DEFAULT_REGION,
    LOCAL_CREDENTIALS,
    add_source_arguments,
    make_client,
    report_api_error,
    source_from,
)

# GetServiceGraph's Type for the node that stands for the callers of a root service.
CLIENT_TYPE = "client"

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_REGION",
    "LOCAL_CREDENTIALS",
    "describe_stats",
    "fetch_service_graph",
    "main",
    "make_client",
    "render_service_map",
]


def fetch_service_graph(client: Any, start: float, end: float) -> dict[str, Any]:
    """All pages of GetServiceGraph for [start, end], merged into one response."""
    services: list[dict[str, Any]] = []
    merged: dict[str, Any] = {}
    for page in client.get_paginator("get_service_graph").paginate(StartTime=start, EndTime=end):
        services.extend(page.get("Services", []))
        merged = page
    return {**merged, "Services": services}


def describe_stats(stats: Mapping[str, Any] | None) -> str:
    """`12 req · 34.5 ms avg · err 8% · fault 0% · throttle 0%` from Service/EdgeStatistics."""
    if not stats or not stats.get("TotalCount"):
        return "no requests"
    total = stats["TotalCount"]
    errors = stats.get("ErrorStatistics", {})
    faults = stats.get("FaultStatistics", {})
    average_ms = 1000 * stats.get("TotalResponseTime", 0.0) / total
    return (
        f"{total} req · {average_ms:.1f} ms avg · err {_percent(errors.get('OtherCount', 0), total)}"
        f" · fault {_percent(faults.get('TotalCount', 0), total)}"
        f" · throttle {_percent(errors.get('ThrottleCount', 0), total)}"
    )


def render_service_map(graph: Mapping[str, Any]) -> RenderableType:
    """A GetServiceGraph response (as boto3 returns it, or its JSON) -> a rich renderable.

    A tree from "client" through each root service along its edges (per-edge statistics),
    then a table of every node (per-node statistics).
    """
    services = graph.get("Services", [])
    by_reference = {service["ReferenceId"]: service for service in services}
    tree = Tree(Text("client", style="bold"))
    drawn: set[int] = set()

    def label(service: Mapping[str, Any], stats: Mapping[str, Any] | None) -> Text:
        text = Text()
        text.append(service.get("Name", "?"), style="bold cyan")
        text.append(f" ({service.get('Type', 'no type')})", style="dim")
        text.append(f"  {describe_stats(stats)}", style=_style(stats))
        return text

    def grow(branch: Tree, service: Mapping[str, Any]) -> None:
        reference = service["ReferenceId"]
        if reference in drawn:
            return
        drawn.add(reference)
        for edge in service.get("Edges", []):
            target = by_reference.get(edge.get("ReferenceId"))
            if target is None:
                continue
            child = branch.add(label(target, edge.get("SummaryStatistics")))
            if target["ReferenceId"] in drawn:
                child.add(Text("(drawn above)", style="dim"))
            else:
                grow(child, target)

    clients = [service for service in services if service.get("Type") == CLIENT_TYPE]
    drawn.update(client["ReferenceId"] for client in clients)
    for client in clients:
        for edge in client.get("Edges", []):
            root = by_reference.get(edge.get("ReferenceId"))
            if root is not None and root["ReferenceId"] not in drawn:
                grow(tree.add(label(root, edge.get("SummaryStatistics"))), root)
    # Roots no client node names (or no client nodes at all), then nodes no root reaches
    # (a graph cut by the time window): each at the top level, once.
    roots = [service for service in services if service.get("Root")]
    for service in roots + services:
        if service["ReferenceId"] not in drawn:
            grow(tree.add(label(service, service.get("SummaryStatistics"))), service)

    table = Table(title="nodes", title_justify="left")
    for column in ("node", "type", "requests", "avg ms", "error %", "fault %", "throttle %"):
        if column in ("node", "type"):
            # Names are what the user looks for: wrap them in a narrow terminal, never cut them.
            table.add_column(column, justify="left", overflow="fold")
        else:
            table.add_column(column, justify="right", no_wrap=True)
    for service in services:
        if service.get("Type") == CLIENT_TYPE:
            continue  # no statistics of its own: the tree shows its calls
        stats = service.get("SummaryStatistics") or {}
        total = stats.get("TotalCount") or 0
        errors = stats.get("ErrorStatistics", {})
        average = f"{1000 * stats.get('TotalResponseTime', 0.0) / total:.1f}" if total else "-"
        table.add_row(
            service.get("Name", "?"),
            service.get("Type", ""),
            str(total),
            average,
            _percent(errors.get("OtherCount", 0), total),
            _percent(stats.get("FaultStatistics", {}).get("TotalCount", 0), total),
            _percent(errors.get("ThrottleCount", 0), total),
        )
    if not services:
        return Text("no traces in this time window", style="yellow")
    return Group(tree, table)


def _percent(count: int, total: int) -> str:
    return f"{100 * count / total:.0f}%" if total else "-"


def _style(stats: Mapping[str, Any] | None) -> str:
    if not stats or not stats.get("TotalCount"):
        return "dim"
    if stats.get("FaultStatistics", {}).get("TotalCount"):
        return "red"
    if stats.get("ErrorStatistics", {}).get("TotalCount"):
        return "yellow"
    return "green"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m console.service_map", description="Print the X-Ray service map."
    )
    add_source_arguments(parser)
    args = parser.parse_args(argv)
    source = source_from(args, parser)
    start, end = source.window()
    try:
        graph = fetch_service_graph(source.client(), start, end)
    except API_ERRORS as error:
        return report_api_error(error, source.where, "GetServiceGraph")
    console = Console()
    console.print(Text(f"service map of {source.where}, last {args.minutes:g} minutes", style="bold"))
    console.print(render_service_map(graph))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
