"""emulator.xray.filters: the GetTraceSummaries FilterExpression language, parsed by
compile_filter and evaluated against one trace's TraceFacts (as traces.trace_facts builds them).

Examples marked "guide" are the X-Ray developer guide's (Using filter expressions).
"""

import re
from typing import Any

import pytest

from emulator.xray.filters import FilterError, ServiceNode, TraceDetail, TraceFacts, compile_filter

TRACE_ID = "1-5f84c7a1-0123456789abcdef01234567"


def trace(**fields) -> TraceFacts:
    """A finished 200 GET whose root segment took 1.5 s of a 2 s trace, unless told otherwise."""
    values: dict[str, Any] = {
        "trace_id": TRACE_ID,
        "start_time": 1_600_000_000.0,
        "duration": 2.0,
        "response_time": 1.5,
        "http_url": "https://abc123.execute-api.ap-northeast-1.amazonaws.com/Prod/hello",
        "http_method": "GET",
        "http_status": 200,
        "http_useragent": "curl/8.5.0",
        "http_clientip": "203.0.113.7",
    }
    detail = fields.pop("detail", None)
    values.update(fields)
    facts = TraceFacts(**values)
    if detail is not None:
        facts.load_detail = lambda: detail
    return facts


def matches(expression: str, facts: TraceFacts) -> bool:
    return compile_filter(expression)(facts)


def error_of(expression: str) -> str:
    with pytest.raises(FilterError) as caught:
        compile_filter(expression)
    return str(caught.value)


def position_of(message: str) -> int:
    found = re.search(r"at position (\d+)", message)
    assert found, f"no position in {message!r}"
    return int(found.group(1))


# --- numbers: http.status, responsetime, duration -------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("http.status = 200", True),
        ("http.status = 404", False),
        ("http.status != 500", True),
        ("http.status != 200", False),
        ("http.status < 201", True),
        ("http.status < 200", False),
        ("http.status <= 200", True),
        ("http.status <= 199", False),
        ("http.status > 199", True),
        ("http.status > 200", False),
        ("http.status >= 200", True),
        ("http.status >= 201", False),
        ("http.status=200", True),  # no spaces needed around operators
        ("http.status = 200.0", True),  # the status is compared as a number
    ],
)
def test_http_status_takes_every_comparison(expression, expected):
    assert matches(expression, trace(http_status=200)) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("responsetime > 5", False),  # guide
        ("responsetime > 1", True),
        ("responsetime >= 1.5", True),
        ("responsetime > 1.5", False),
        ("responsetime < .5", False),
        ("responsetime <= 15e-1", True),
        ("responsetime = 1.5", True),
        ("responsetime != 1.5", False),
        ("responsetime > -1", True),
    ],
)
def test_responsetime_is_the_root_segments_number(expression, expected):
    assert matches(expression, trace(response_time=1.5, duration=9.0)) is expected


def test_duration_between_5_and_8_seconds_from_the_guide():
    expression = "duration >= 5 AND duration <= 8"
    assert matches(expression, trace(duration=5.0))
    assert matches(expression, trace(duration=6.25))
    assert matches(expression, trace(duration=8.0))
    assert not matches(expression, trace(duration=4.999))
    assert not matches(expression, trace(duration=8.001))


def test_duration_and_responsetime_are_separate_facts():
    facts = trace(duration=10.0, response_time=0.2)
    assert matches("duration > 5", facts)
    assert not matches("responsetime > 5", facts)


def test_a_number_keyword_the_trace_lacks_matches_no_comparison_not_even_inequality():
    facts = trace(http_status=None, response_time=None, duration=None)
    for expression in ("http.status = 200", "http.status != 200", "responsetime >= 0", "duration < 1e9"):
        assert not matches(expression, facts), expression


# --- strings: http.url, http.method, http.useragent, http.clientip, user --------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('http.url = "https://example.com/Prod/hello"', True),
        ('http.url = "https://example.com/Prod/hello/"', False),
        ('http.url != "https://example.com/Prod/other"', True),
        ('http.url != "https://example.com/Prod/hello"', False),
        ('http.url CONTAINS "/Prod/"', True),
        ('http.url CONTAINS "/Dev/"', False),
        ('http.url BEGINSWITH "https://example.com/"', True),
        ('http.url BEGINSWITH "http://example.com/"', False),
        ('http.url ENDSWITH "/hello"', True),
        ('http.url ENDSWITH "/hell"', False),
        ('http.url contains "/Prod/"', True),  # operators are not case-sensitive
    ],
)
def test_http_url_takes_equality_and_the_string_operators(expression, expected):
    assert matches(expression, trace(http_url="https://example.com/Prod/hello")) is expected


def test_url_begins_with_contains_and_does_not_reach_a_service_from_the_guide():
    expression = (
        'http.url BEGINSWITH "http://api.example.com/" AND http.url CONTAINS "/v2/"'
        ' AND !service("api.example.com")'
    )
    v2 = "http://api.example.com/v2/game"
    assert matches(expression, trace(http_url=v2, services=[("frontend", "AWS::Lambda")]))
    assert not matches(expression, trace(http_url=v2, services=[("api.example.com", "AWS::EC2::Instance")]))
    assert not matches(expression, trace(http_url="http://api.example.com/v1/game"))
    assert not matches(expression, trace(http_url="https://other.example.com/v2/game"))


def test_http_method_useragent_and_clientip():
    facts = trace(http_method="POST", http_useragent="Mozilla/5.0 (X11)", http_clientip="198.51.100.4")
    assert matches('http.method = "POST"', facts)
    assert not matches('http.method = "GET"', facts)
    assert matches('http.method != "GET"', facts)
    assert matches('http.useragent BEGINSWITH "Mozilla/"', facts)
    assert not matches('http.useragent CONTAINS "curl"', facts)
    assert matches('http.clientip = "198.51.100.4"', facts)
    assert matches('http.clientip ENDSWITH ".4"', facts)
    assert not matches('http.clientip = "198.51.100.40"', facts)


def test_string_comparisons_are_case_sensitive_on_the_value():
    assert not matches('http.method = "post"', trace(http_method="POST"))


def test_user_matches_when_any_segments_user_does():
    facts = trace(users=["alice", "bob"])
    assert matches('user = "alice"', facts)
    assert matches('user = "bob"', facts)
    assert matches('user BEGINSWITH "bo"', facts)
    assert not matches('user = "carol"', facts)
    assert not matches('user = "alice"', trace(users=[]))


def test_a_string_keyword_the_trace_lacks_matches_nothing():
    facts = trace(http_url=None, http_method=None)
    assert not matches('http.url CONTAINS ""', facts)
    assert not matches('http.method != "GET"', facts)


def test_escaped_quotes_and_backslashes_in_string_literals():
    assert matches(r'http.url = "say \"hi\""', trace(http_url='say "hi"'))
    assert matches(r'http.url ENDSWITH "\\x"', trace(http_url="a\\x"))
    assert not matches(r'http.url = "say \"hi\""', trace(http_url="say hi"))


# --- booleans: ok, error, fault, throttle, partial -------------------------------------------


@pytest.mark.parametrize("keyword", ["error", "fault", "throttle", "partial"])
def test_boolean_keywords_bare_negated_and_compared(keyword):
    on = trace(**{keyword: True})
    off = trace()
    assert matches(keyword, on) and not matches(keyword, off)
    assert matches(f"!{keyword}", off) and not matches(f"!{keyword}", on)
    assert matches(f"{keyword} = true", on) and not matches(f"{keyword} = true", off)
    assert matches(f"{keyword} = false", off) and not matches(f"{keyword} = false", on)
    assert matches(f"{keyword} != true", off) and not matches(f"{keyword} != true", on)
    assert matches(f"{keyword} != false", on) and not matches(f"{keyword} != false", off)


def test_ok_means_no_error_and_no_fault():
    assert matches("ok", trace())
    assert not matches("ok", trace(error=True))
    assert not matches("ok", trace(fault=True))
    assert not matches("ok", trace(error=True, throttle=True, http_status=429))
    assert matches("ok = false", trace(fault=True))
    assert matches("!ok", trace(error=True))
    assert not matches("!ok", trace())
    # partial is its own fact: an incomplete trace without errors is still ok
    assert matches("ok", trace(partial=True))


def test_completed_successfully_in_under_3_seconds_from_the_guide():
    # The guide writes the terms side by side: `ok !partial duration <3` (implicit AND).
    for expression in ("ok !partial duration <3", "ok AND !partial AND duration < 3"):
        assert matches(expression, trace(duration=2.5))
        assert not matches(expression, trace(duration=3.0))
        assert not matches(expression, trace(duration=1.0, partial=True))
        assert not matches(expression, trace(duration=1.0, fault=True))


def test_terms_side_by_side_are_anded_and_or_still_binds_looser():
    assert matches("ok fault", trace()) is False
    assert matches("fault throttle", trace(fault=True, throttle=True))
    assert not matches("fault throttle", trace(fault=True))
    # fault OR (error throttle)
    assert matches("fault OR error throttle", trace(fault=True))
    assert not matches("fault OR error throttle", trace(error=True))
    assert matches('http.method = "GET" (fault OR ok)', trace())


# --- annotations -----------------------------------------------------------------------------


ANNOTATED = trace(
    annotations={
        "account": ["12345"],
        "gameid": ["817DL6VO"],
        "score": [42],
        "ratio": [0.5],
        "cached": [True],
        "region": ["ap-northeast-1", "us-east-1"],
    }
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('annotation.account = "12345"', True),  # guide
        ('annotation.account = "54321"', False),
        ('annotation.gameid != "817DL6VO"', False),
        ('annotation.gameid != "other"', True),
        ('annotation.gameid CONTAINS "DL6"', True),
        ('annotation.gameid BEGINSWITH "817"', True),
        ('annotation.gameid ENDSWITH "6VO"', True),
        ('annotation.gameid ENDSWITH "817"', False),
        ("annotation.score = 42", True),
        ("annotation.score = 41", False),
        ("annotation.score != 41", True),
        ("annotation.score > 41", True),
        ("annotation.score >= 42", True),
        ("annotation.score < 42", False),
        ("annotation.score <= 42", True),
        ("annotation.ratio < 1", True),
        ("annotation.ratio > 0.5", False),
        ("annotation.cached = true", True),
        ("annotation.cached = false", False),
        ("annotation.cached != false", True),
        ('annotation.region = "us-east-1"', True),  # any of the values
        ('annotation.region = "eu-west-1"', False),
        ('annotation.missing = "x"', False),
        ("annotation.missing != 1", False),
    ],
)
def test_annotation_comparisons_by_literal_type(expression, expected):
    assert matches(expression, ANNOTATED) is expected


@pytest.mark.parametrize(
    "expression",
    [
        'annotation.score = "42"',  # a number annotation never equals a string
        "annotation.account = 12345",  # a string annotation never equals a number
        "annotation.cached = 1",  # a boolean annotation is not a number
        'annotation.cached = "true"',
        "annotation.score = true",
        'annotation.score CONTAINS "4"',
    ],
)
def test_annotation_values_compare_only_with_literals_of_their_own_type(expression):
    assert not matches(expression, ANNOTATED)


def test_bare_annotation_means_the_key_is_present():
    assert matches("annotation.gameid", ANNOTATED)
    assert not matches("annotation.nothing", ANNOTATED)
    assert matches("!annotation.nothing", ANNOTATED)
    assert matches("annotation.cached AND ok", ANNOTATED)


def test_annotation_bracket_form_with_word_or_quoted_key():
    facts = trace(annotations={"game-id": ["A1"], "gameid": ["B2"]})
    assert matches('annotation[gameid] = "B2"', facts)
    assert matches('annotation["game-id"] = "A1"', facts)
    assert not matches('annotation["game-id"] = "B2"', facts)
    assert matches('annotation["game-id"]', facts)
    assert not matches('annotation["other"]', facts)


def test_annotation_keys_keep_their_case():
    facts = trace(annotations={"GameId": ["x"]})
    assert matches('annotation.GameId = "x"', facts)
    assert not matches('annotation.gameid = "x"', facts)


# --- service(...) and id(...) ----------------------------------------------------------------


SERVICES = trace(
    services=[
        ("sam-app-HelloWorldFunction", "AWS::Lambda::Function"),
        ("sam-app-SamDdbTable", "AWS::DynamoDB::Table"),
        ("api.example.com", None),
    ]
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('service("api.example.com")', True),
        ('service("sam-app-SamDdbTable")', True),
        ('service("backend.example.com")', False),
        ('service(id(name: "sam-app-HelloWorldFunction"))', True),
        ('service(id(name: "sam-app-HelloWorldFunction", type: "AWS::Lambda::Function"))', True),
        ('service(id(type: "AWS::Lambda::Function", name: "sam-app-HelloWorldFunction"))', True),
        # name and type must belong to the same node
        ('service(id(name: "sam-app-HelloWorldFunction", type: "AWS::DynamoDB::Table"))', False),
        ('service(id(type: "AWS::DynamoDB::Table"))', True),
        ('service(id(type: "AWS::EC2::Instance"))', False),
        ('!service("backend.example.com")', True),
        ('!service("api.example.com")', False),
    ],
)
def test_service_by_name_or_by_id(expression, expected):
    assert matches(expression, SERVICES) is expected


def test_service_matches_nothing_on_a_trace_without_nodes():
    assert not matches('service("api.example.com")', trace(services=[]))
    assert not matches('service(id(type: "AWS::Lambda::Function"))', trace(services=[]))


def test_service_id_with_an_account_id_filters_by_account():
    in_account = trace(
        detail=TraceDetail(
            services=[ServiceNode("api.example.com", "AWS::Lambda", account_id="123456789012")]
        )
    )
    predicate = compile_filter('service(id(account.id: "999999999999"))')
    # Nothing in these traces is known to be in account 999999999999.
    assert not predicate(SERVICES)
    assert not predicate(in_account)
    assert matches('service(id(account.id: "123456789012"))', in_account)
    assert matches('service(id(name: "api.example.com", account.id: "123456789012"))', in_account)
    assert not matches('service(id(name: "other", account.id: "123456789012"))', in_account)


# --- AND, OR, NOT, parentheses, precedence ---------------------------------------------------


def test_and_needs_both_and_or_needs_either():
    fault_500 = trace(fault=True, http_status=500)
    assert matches("fault AND http.status = 500", fault_500)
    assert not matches("fault AND http.status = 502", fault_500)
    assert matches("http.status = 502 OR fault", fault_500)
    assert not matches("http.status = 502 OR error", fault_500)


def test_and_or_not_are_not_case_sensitive():
    facts = trace(fault=True)
    assert matches("fault and not error", facts)
    assert matches("error or fault", facts)
    assert not matches("Not fault", facts)


def test_and_binds_tighter_than_or():
    # fault OR (error AND http.status = 404)
    expression = "fault OR error AND http.status = 404"
    assert matches(expression, trace(fault=True, http_status=500))
    assert matches(expression, trace(error=True, http_status=404))
    assert not matches(expression, trace(error=True, http_status=400))
    # (error AND http.status = 404) OR fault, written the other way round
    assert matches("error AND http.status = 404 OR fault", trace(fault=True, http_status=500))


def test_parentheses_override_precedence():
    expression = "(fault OR error) AND http.status = 404"
    assert not matches(expression, trace(fault=True, http_status=500))
    assert matches(expression, trace(error=True, http_status=404))
    assert matches("((ok))", trace())


def test_not_binds_tighter_than_and_and_can_negate_a_group():
    assert matches("NOT error AND fault", trace(fault=True))
    assert not matches("NOT error AND fault", trace())
    # NOT (error AND fault) holds when either is missing
    assert matches("NOT (error AND fault)", trace(fault=True))
    assert not matches("NOT (error AND fault)", trace(error=True, fault=True))
    assert not matches("!(ok OR partial)", trace())
    assert matches("!(ok OR partial)", trace(fault=True))


def test_double_negation():
    assert matches("NOT NOT ok", trace())
    assert matches("!!fault", trace(fault=True))
    assert not matches("! ! ok", trace(error=True))


def test_a_compound_filter_mixing_every_kind_of_term():
    expression = (
        '(http.method = "POST" OR http.method = "PUT") AND http.url ENDSWITH "/ddb"'
        ' AND responsetime > 0.1 AND annotation.table = "SamDdbTable"'
        ' AND service(id(type: "AWS::DynamoDB::Table")) AND !fault'
    )
    base = {
        "http_method": "POST",
        "http_url": "http://127.0.0.1:3000/ddb",
        "response_time": 0.3,
        "annotations": {"table": ["SamDdbTable"]},
        "services": [("SamDdbTable", "AWS::DynamoDB::Table")],
    }
    assert matches(expression, trace(**base))
    assert matches(expression, trace(**{**base, "http_method": "PUT"}))
    for change in (
        {"http_method": "GET"},
        {"http_url": "http://127.0.0.1:3000/hello"},
        {"response_time": 0.05},
        {"annotations": {"table": ["Other"]}},
        {"services": [("SamDdbTable", "AWS::S3::Bucket")]},
        {"fault": True},
    ):
        assert not matches(expression, trace(**{**base, **change})), change


# --- what is rejected, and how ---------------------------------------------------------------


@pytest.mark.parametrize("expression", ["", "   ", "\t\n"])
def test_an_empty_expression_is_an_error(expression):
    assert error_of(expression) == "FilterExpression is empty"


@pytest.mark.parametrize(
    ("expression", "fragment", "position"),
    [
        ("http.status = 200 & ok", "unexpected character '&'", 18),
        ('http.url = "unterminated', "unexpected character '\"'", 11),
        ("foo = 1", "unknown keyword 'foo'", 0),
        ('traceid = "1-5f84c7a1-0123456789abcdef01234567"', "unknown keyword 'traceid'", 0),
        ("ok AND", "found the end of the expression", 6),
        ("AND ok", "unknown keyword 'AND'", 0),
        ("ok OR OR ok", "unknown keyword 'OR'", 6),
        ("NOT", "found the end of the expression", 3),
        ("()", "found ')'", 1),
        ("(ok", "expected ')', found the end of the expression", 3),
        ("ok)", "unexpected ')'; expected AND, OR or the end", 2),
        ("ok ) fault", "unexpected ')'; expected AND, OR or the end", 3),
        ("http.status = 200 200", "unexpected '200'", 18),
        ("http.status 200", "expected an operator after http.status, found '200'", 12),
        ("http.status >", "expected a value", 13),
        ("http.status = foo", "found 'foo'", 14),
        ("http.status CONTAINS 2", "operator CONTAINS cannot be used with http.status", 12),
        ('http.url < "b"', "operator < cannot be used with http.url", 9),
        ('user >= "a"', "operator >= cannot be used with user", 5),
        ("annotation = 1", "expected '[', found '='", 11),
        ('annotation["k" = 1', "expected ']', found '='", 15),
        ("service(a)", 'service(...) needs a "name"', 8),
        ('service("a"', "expected ')', found the end of the expression", 11),
        ('service(id(name: "a" type: "b"))', "expected ')', found 'type'", 21),
        ('service(id(name: "a",))', "id(...) takes name", 21),
        ('service(id(name: "a", colour: "b"))', "id(...) takes name", 22),
        ('service("api.example.com") { fault', "expected '}', found the end of the expression", 34),
        ('service("api.example.com") { }', "expected a keyword", 29),
        ('service("a") { annotation.x }', "annotation.x cannot be used inside { }", 15),
        ('edge("api.example.com") { error }', "expected ',', found ')'", 22),
        ('edge("a", "b") { index > 1 }', "index cannot be used here", 17),
        ('id(name: "api.example.com")', "id(...) can only name the node of service(...) or edge(...)", 0),
        ('group.name = "x"', "group.name names no group: 'x' does not exist", 13),
        ("group.name = x", 'group.name needs a "string"', 13),
        ('rootcause.fault.nothing { name = "x" }', "expected rootcause.<fault|error|responsetime>", 0),
        ("rootcause.responsetime.exception", "response time root causes have no exceptions", 0),
        ('rootcause.fault.service { message = "x" }', "message cannot be used here", 26),
        ('name = "x"', "name cannot be used here", 0),
        ("rootcause.json = #[{]", "#[ at position 17 does not start a JSON array", 17),
        ('rootcause.json = "x"', "compares with a JSON root cause", 17),
    ],
)
def test_malformed_expressions_say_what_and_where(expression, fragment, position):
    message = error_of(expression)
    assert fragment in message
    assert position_of(message) == position


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ('http.status = "200"', "http.status is a number"),
        ("responsetime > true", "responsetime is a number"),
        ("http.url BEGINSWITH 5", "http.url is a string"),
        ("http.method = false", "http.method is a string"),
        ("error = 1", "error is a boolean"),
        ('fault = "true"', "fault is a boolean"),
        ('annotation.x < "a"', "operator < cannot compare annotation.x with a string"),
        ("annotation.x CONTAINS 5", "operator CONTAINS needs a string"),
        ("annotation.x > true", "operator > cannot compare annotation.x with a boolean"),
    ],
)
def test_literals_of_the_wrong_type_are_rejected(expression, fragment):
    assert fragment in error_of(expression)


def test_filter_error_is_a_value_error():
    # The API layer turns it into InvalidRequestException; callers may catch ValueError.
    assert issubclass(FilterError, ValueError)


@pytest.mark.parametrize(
    ("expression", "position"),
    [
        ('service(id(nam: "x"))', 11),  # 'nam' is at 11; reported at 14 (the ':')
        ("service(id(name: x))", 17),  # 'x' is at 17; reported at 18
        ("annotation[]", 11),  # ']' is at 11; reported at 12 (the end)
    ],
)
def test_errors_inside_id_and_brackets_point_at_the_offending_token(expression, position):
    assert position_of(error_of(expression)) == position
