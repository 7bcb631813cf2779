"""Filter expressions compiled to SQL over the per-trace facts (trace_index), where SQL can say
what filters.py's evaluator says.

`split(predicate)` turns the parsed expression into a WHERE clause and what is left for Python:
the terms of a top-level AND compile one by one (those that cannot stay a residual predicate,
evaluated per trace on the rows SQL lets through); an OR or a NOT compiles whole or not at all.
SQL reaches: responsetime, duration, http.*, user, ok / error / fault / throttle / partial /
inferred, annotation.KEY, service(x) without braces, and AND / OR / NOT of those. Root causes,
edges, service(x) { ... }, resource.arn, instance.id, availabilityzone and json need the
trace's documents and stay in Python.

Every compiled term is two-valued (never NULL), so NOT means what the evaluator's `not` does;
a missing value fails a comparison as it does in Python.
"""

from typing import Any

from emulator.xray.filters import AllOf, AnnotationTest, AnyOf, KeywordTest, Not, Predicate, ServiceTest
from emulator.xray.summary_pages import SqlFilter

# Trace keywords read from one trace_index column.
_COLUMNS = {
    "responsetime": "t.response_time",
    "duration": "t.duration",
    "http.status": "t.http_status",
    "http.url": "t.http_url",
    "http.method": "t.http_method",
    "http.useragent": "t.http_useragent",
    "http.clientip": "t.http_clientip",
    "error": "t.error",
    "fault": "t.fault",
    "throttle": "t.throttle",
    "partial": "t.partial",
    "inferred": "t.inferred",
    # "Response status code was 2XX": no error, fault or throttle (filters._status_ok).
    "ok": "NOT (t.error OR t.fault OR t.throttle)",
}
_ORDERING = {"=", "!=", "<", "<=", ">", ">="}

Sql = tuple[str, list[Any]]


def split(predicate: Predicate | None) -> SqlFilter:
    """The WHERE clause SQL can evaluate, and the rest of `predicate` for Python (None: nothing)."""
    if predicate is None:
        return SqlFilter()
    terms = predicate.terms if isinstance(predicate, AllOf) else (predicate,)
    wheres: list[str] = []
    params: list[Any] = []
    residual: list[Predicate] = []
    for term in terms:
        compiled = compile_term(term)
        if compiled is None:
            residual.append(term)
        else:
            wheres.append(compiled[0])
            params.extend(compiled[1])
    rest = None if not residual else residual[0] if len(residual) == 1 else AllOf(tuple(residual))
    return SqlFilter(" AND ".join(f"({w})" for w in wheres) or "1", tuple(params), rest)


def compile_term(term: Predicate) -> Sql | None:
    """SQL for the whole of `term`, or None when any part of it needs Python."""
    if isinstance(term, AllOf | AnyOf):
        parts: list[Sql] = []
        for each in term.terms:
            part = compile_term(each)
            if part is None:
                return None
            parts.append(part)
        joiner = " AND " if isinstance(term, AllOf) else " OR "
        return joiner.join(f"({sql})" for sql, _ in parts), [p for _, ps in parts for p in ps]
    if isinstance(term, Not):
        negated = compile_term(term.inner)
        return None if negated is None else (f"NOT ({negated[0]})", negated[1])
    if isinstance(term, KeywordTest):
        return _keyword(term)
    if isinstance(term, AnnotationTest):
        return _annotation(term)
    if isinstance(term, ServiceTest):
        where = ["s.trace_id = t.trace_id"]
        params = []
        for column, value in (("s.name", term.name), ("s.type", term.node_type)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        return f"EXISTS (SELECT 1 FROM trace_services s WHERE {' AND '.join(where)})", params
    return None


def _keyword(term: KeywordTest) -> Sql | None:
    if not term.trace:
        return None
    if term.keyword == "user":
        if term.op is None:
            return "t.users != '[]'", []
        compared, params = _string_comparison("u.value", term.op, term.literal)
        return f"EXISTS (SELECT 1 FROM json_each(t.users) u WHERE {compared})", params
    column = _COLUMNS.get(term.keyword)
    if column is None:
        return None
    if term.entry.kind == "boolean":
        return f"({column}) = ?", [bool(term.literal)]
    if term.op is None:
        return f"{column} IS NOT NULL", []
    if term.entry.kind == "number":
        return f"{column} IS NOT NULL AND {column} {_sql_op(term.op)} ?", [term.literal]
    compared, params = _string_comparison(column, term.op, term.literal)
    return f"{column} IS NOT NULL AND {compared}", params


def _annotation(term: AnnotationTest) -> Sql | None:
    rows = "SELECT 1 FROM annotations a WHERE a.trace_id = t.trace_id AND a.key = ?"
    if term.op is None:
        return f"EXISTS ({rows})", [term.key]
    literal = term.literal
    # A value compares only with literals of its own type (filters._annotation_matches).
    if isinstance(literal, bool):
        return f"EXISTS ({rows} AND a.bool IS NOT NULL AND a.bool {_sql_op(term.op)} ?)", [term.key, literal]
    if isinstance(literal, float):
        return f"EXISTS ({rows} AND a.num IS NOT NULL AND a.num {_sql_op(term.op)} ?)", [term.key, literal]
    compared, params = _string_comparison("a.str", term.op, literal)
    return f"EXISTS ({rows} AND a.str IS NOT NULL AND {compared})", [term.key, *params]


def _string_comparison(column: str, op: str | None, literal: Any) -> Sql:
    """Python's str comparisons in SQL (BINARY collation: exact, case-sensitive)."""
    if op in ("=", "!="):
        return f"{column} {_sql_op(op)} ?", [literal]
    if op == "CONTAINS":
        return f"instr({column}, ?) > 0", [literal]
    if op == "BEGINSWITH":
        # The first occurrence is at the start exactly when the value starts with it.
        return f"instr({column}, ?) = 1", [literal]
    if op == "ENDSWITH":
        return f"(length(?) = 0 OR substr({column}, -length(?)) = ?)", [literal, literal, literal]
    raise AssertionError(f"unhandled string operator {op}")


def _sql_op(op: str) -> str:
    assert op in _ORDERING, op
    return "<>" if op == "!=" else op
