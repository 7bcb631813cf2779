"""`make bench`: every figure beside a baseline measured in the same run, as a ratio.

python -m bench [--requests 2000] [--seconds 5] [--clients 4] [--segments 320000] [--stored 100000]
                [--table-sizes 1000 10000 100000]

Each server runs in a process of its own and the load client in this one: the stack as
`make run`, the bare HTTP baseline as `python -m bench.baseline_server`, the X-Ray daemon
and the bare UDP socket as spawned children.
"""

import argparse
import json

from rich.console import Console
from rich.table import Table

from bench.baseline_server import BaselineServer
from bench.console_figures import measure as measure_console
from bench.durability_figures import measure as measure_durability
from bench.http_load import Request, measure_latency, measure_throughput
from bench.instrumentation_figures import measure as measure_instrumentation
from bench.local_stack import LocalStack
from bench.otlp_figures import measure as measure_otlp
from bench.query_figures import measure as measure_queries
from bench.reload_figures import measure as measure_reload
from bench.xray_figures import measure_graph_query, measure_ingest

PROCESSES = "stack: `make run` child; bare: `python -m bench.baseline_server` child; client: this process"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="sequential requests per latency run")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each throughput run")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections for throughput")
    parser.add_argument("--segments", type=int, default=320_000, help="most segments per ingest step")
    parser.add_argument("--stored", type=int, default=100_000, help="segments stored for GetServiceGraph")
    parser.add_argument("--query-documents", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="stored documents for the trace query figures")  # fmt: skip
    parser.add_argument("--table-sizes", type=int, nargs="+", default=[1000, 10_000, 100_000],
                        help="items in the table for the DynamoDB start/stop figures")  # fmt: skip
    parser.add_argument("--instrumentation-rounds", type=int, default=3,
                        help="stack starts per Instrumentation for the handler figures")  # fmt: skip
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    console = Console()
    console.print("[bold]sam-app bench[/]: starting the local stack with `make run` …")
    with LocalStack() as stack, BaselineServer() as baseline:
        console.print(f"  first answer {stack.startup_seconds:.2f} s after `make run` (warm build cache)")
        routes = {
            "GET /hello": Request("GET", f"{stack.url}/hello"),
            "POST /ddb": Request("POST", f"{stack.url}/ddb", json.dumps({"key": "bench"}).encode()),
        }
        bare = Request("GET", f"{baseline.url}/hello")
        latency = Table(title="Warm latency, one kept-alive connection (ms)")
        for column in ("route", "stack p50", "bare p50", "added p50", "stack p99", "bare p99"):
            latency.add_column(column, justify="right")
        throughput = Table(title=f"Throughput, {args.clients} connections, {args.seconds:.0f} s (req/s)")
        for column in ("route", "stack", "bare", "stack / bare"):
            throughput.add_column(column, justify="right")
        latency.caption = throughput.caption = PROCESSES
        for name, request in routes.items():
            console.print(f"  measuring {name} …")
            # Baseline and stack alternate, so both see the same machine load.
            base = measure_latency(bare, count=args.requests)
            ours = measure_latency(request, count=args.requests)
            latency.add_row(
                name, f"{ours.p50_ms:.2f}", f"{base.p50_ms:.2f}", f"{ours.p50_ms - base.p50_ms:+.2f}",
                f"{ours.p99_ms:.2f}", f"{base.p99_ms:.2f}",
            )  # fmt: skip
            base_rps = measure_throughput(bare, clients=args.clients, seconds=args.seconds)
            ours_rps = measure_throughput(request, clients=args.clients, seconds=args.seconds)
            throughput.add_row(name, f"{ours_rps:.0f}", f"{base_rps:.0f}", f"{ours_rps / base_rps:.2f}")
        console.print(latency, throughput)
    console.print("  measuring edit to new answer with the watch on, beside a plain `sam build <Function>` …")
    console.print(measure_reload().table())
    console.print("  measuring the handlers' cold and warm latency, X-Ray SDK and OpenTelemetry …")
    console.print(measure_instrumentation(rounds=args.instrumentation_rounds).table())
    console.print("  measuring X-Ray daemon ingest …")
    console.print(measure_ingest(segments=args.segments).table())
    console.print(measure_otlp(segments=args.segments).table())
    console.print(f"  measuring GetServiceGraph over {args.stored:,} stored segments …")
    console.print(measure_graph_query(stored=args.stored).table())
    for documents in args.query_documents:
        console.print(f"  measuring X-Ray queries at {documents:,} stored documents …")
        console.print(measure_queries(documents).table())
    console.print(
        f"  measuring the local DynamoDB's start and stop at {', '.join(map(str, args.table_sizes))} items …"
    )
    console.print(measure_durability(args.table_sizes))
    console.print("  measuring the console in Chromium (a drawn map, a filled trace list) …")
    console.print(measure_console())


if __name__ == "__main__":
    main()
