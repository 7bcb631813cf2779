"""Filters compiled to SQL (filter_sql.py) select exactly the traces filters.py's evaluator
selects: generated filters over generated traces, SQL over the stored facts against Python
over the facts computed from the documents."""

import json
import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.xray import filter_sql, traces
from emulator.xray.documents import parse_document
from emulator.xray.filters import AllOf, compile_filter
from emulator.xray.store import TraceStore
from emulator.xray.summary_pages import Page
from tests.xray.random_traces import random_documents


def quoted(text: str) -> str:
    return json.dumps(text)


STRINGS = st.sampled_from(
    ["", "GET", "POST", "get", "Prod", "/Prod/hello", "http", "https://b/Prod/ddb?x=1", "alice", "bob",
     "curl/8.5.0", "203.0.113.10", "x", "yz", "z", "1"]
)  # fmt: skip
NUMBERS = st.sampled_from(["0", "0.001", "0.01", "0.05", "1", "200", "404", "429", "502", "3", "4.5", "-1"])
NUMBER_OPS = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
STRING_OPS = st.sampled_from(["=", "!=", "CONTAINS", "BEGINSWITH", "ENDSWITH"])
NODES = st.sampled_from(
    ['"sam-app/Prod"', '"Demo"', '"nothing"', 'id(name: "sam-app/Prod", type: "client")',
     'id(type: "AWS::Lambda")', 'id(name: "Demo", type: "AWS::DynamoDB::Table")', ""]
)  # fmt: skip


@st.composite
def atoms(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["number", "string", "boolean", "annotation", "service", "python"]))
    if kind == "number":
        keyword = draw(st.sampled_from(["responsetime", "duration", "http.status"]))
        if draw(st.booleans()):
            return keyword
        return f"{keyword} {draw(NUMBER_OPS)} {draw(NUMBERS)}"
    if kind == "string":
        keyword = draw(
            st.sampled_from(["http.url", "http.method", "http.useragent", "http.clientip", "user"])
        )
        if draw(st.booleans()):
            return keyword
        return f"{keyword} {draw(STRING_OPS)} {quoted(draw(STRINGS))}"
    if kind == "boolean":
        keyword = draw(st.sampled_from(["ok", "error", "fault", "throttle", "partial", "inferred"]))
        return draw(
            st.sampled_from([keyword, f"{keyword} = true", f"{keyword} = false", f"{keyword} != true"])
        )
    if kind == "annotation":
        key = draw(st.sampled_from(["k", "n", "b", "missing"]))
        literal_kind = draw(st.sampled_from(["none", "number", "string", "boolean"]))
        if literal_kind == "none":
            return f"annotation.{key}"
        if literal_kind == "number":
            return f"annotation.{key} {draw(NUMBER_OPS)} {draw(NUMBERS)}"
        if literal_kind == "string":
            return f"annotation.{key} {draw(STRING_OPS)} {quoted(draw(STRINGS))}"
        op, literal = draw(st.sampled_from(["=", "!="])), draw(st.sampled_from(["true", "false"]))
        return f"annotation[{key}] {op} {literal}"
    if kind == "service":
        return f"service({draw(NODES)})"
    # Terms SQL cannot say: they must fall back to Python and still combine correctly.
    return draw(
        st.sampled_from(
            ['service("sam-app/Prod") { fault }', "rootcause.error.service { inferred = false }",
             'resource.arn CONTAINS "function"', 'edge("sam-app/Prod", id(type: "AWS::Lambda")) { ok }',
             "rootcause.fault.entity { remote }", 'rootcause.json = #[{"ClientImpacting": true}]',
             "rootcause.responsetime.entity { coverage > 0.5 }", "rootcause.fault.exception",
             'rootcause.error.exception { name = "KeyError" }',
             'rootcause.responsetime.service { name = "Demo" }']
        )
    )  # fmt: skip


expressions = st.recursive(
    atoms(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda pair: f"{pair[0]} AND {pair[1]}"),
        st.tuples(inner, inner).map(lambda pair: f"({pair[0]}) OR ({pair[1]})"),
        st.tuples(inner, inner).map(lambda pair: f"{pair[0]} {pair[1]}"),
        inner.map(lambda term: f"NOT ({term})"),
        inner.map(lambda term: f"!{term}" if " " not in term else f"!({term})"),
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), expression=expressions)
def test_sql_and_python_select_the_same_traces(seed: int, expression: str) -> None:
    predicate = compile_filter(expression)
    sql_filter = filter_sql.split(predicate)
    with tempfile.TemporaryDirectory() as directory:
        store = TraceStore(Path(directory) / "traces.db")
        try:
            rng = random.Random(seed)
            store.insert([parse_document(json.dumps(document)) for document in random_documents(rng, 8)])
            with store.reader() as db:
                ids = [row[0] for row in db.execute("SELECT DISTINCT trace_id FROM docs")]
                expected = {
                    trace_id for trace_id, facts in traces.trace_facts(db, ids).items() if predicate(facts)
                }
                page = Page(db, 0, 2**32, "TraceId", None)
                selected = {json.loads(summary)["Id"] for summary in page.read(1000, sql_filter)}
        finally:
            store.close()
    assert selected == expected, (expression, sql_filter.where)


def test_plain_terms_compile_whole_and_the_rest_stays_in_python() -> None:
    whole = filter_sql.split(
        compile_filter('responsetime > 1 AND (error OR annotation.k = "x") service("Demo")')
    )
    assert whole.residual is None
    mixed = filter_sql.split(compile_filter('http.status = 502 AND rootcause.fault.service { name = "x" }'))
    assert mixed.where != "1" and mixed.residual is not None and not isinstance(mixed.residual, AllOf)
    opaque = filter_sql.split(compile_filter('error OR resource.arn CONTAINS "x"'))
    assert opaque.where == "1" and opaque.residual is not None
