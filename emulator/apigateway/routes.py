"""The REST API's routing table: which resource and method a request lands on."""

import re
from dataclasses import dataclass

from emulator.app.model import DEFAULT_ROUTE, Route


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    # Static segments outrank {param}, which outranks {proxy+}: API Gateway picks the most
    # specific resource that matches.
    rank: tuple[int, ...]


def compile_route(route: Route) -> _CompiledRoute:
    if route.path == DEFAULT_ROUTE:
        # An HTTP API's $default route takes whatever no other route matches.
        return _CompiledRoute(route, re.compile(".*", re.DOTALL), (-1,))
    parts: list[str] = []
    rank: list[int] = []
    for segment in route.path.strip("/").split("/") if route.path != "/" else []:
        greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
        param = re.fullmatch(r"\{(\w+)\}", segment)
        if greedy:
            parts.append(f"/(?P<{greedy.group(1)}>.+)")
            rank.append(0)
        elif param:
            parts.append(f"/(?P<{param.group(1)}>[^/]+)")
            rank.append(1)
        else:
            parts.append("/" + re.escape(segment))
            rank.append(2)
    pattern = re.compile("".join(parts) or "/")
    return _CompiledRoute(route, pattern, (*rank, 3))


class RouteTable:
    def __init__(self, routes: list[Route]) -> None:
        compiled = [compile_route(route) for route in routes]
        self._routes = sorted(compiled, key=lambda c: c.rank, reverse=True)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for `method path` (path percent-decoded, no stage) and its path parameters.

        Like API Gateway: the most specific resource that matches wins, and on that resource
        the method itself before ANY.
        """
        path = "/" + path.strip("/") if path.strip("/") else "/"
        best: tuple[tuple[tuple[int, ...], bool], Route, dict[str, str]] | None = None
        for compiled in self._routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            found = compiled.pattern.fullmatch(path)
            if found is None:
                continue
            key = (compiled.rank, compiled.route.method == method)
            if best is None or key > best[0]:
                best = (key, compiled.route, found.groupdict())
        return None if best is None else (best[1], best[2])

    def methods_of(self, path: str) -> set[str]:
        """The methods of the resource `path` is (ANY included): empty when no resource matches."""
        path = "/" + path.strip("/") if path.strip("/") else "/"
        matching = [c for c in self._routes if c.route.path != DEFAULT_ROUTE and c.pattern.fullmatch(path)]
        if not matching:
            return set()
        best = max(c.rank for c in matching)
        return {c.route.method for c in matching if c.rank == best}
