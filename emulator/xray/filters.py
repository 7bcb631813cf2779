"""GetTraceSummaries FilterExpression: a parser and an evaluator over one trace's facts.

The language of the X-Ray developer guide's "Use filter expressions" page
(awsdocs/aws-xray-developer-guide, doc-source/xray-console-filters.md), all of it:
  numbers   responsetime, duration, http.status, index, coverage   = != < <= > >=
  strings   http.url, http.method, http.useragent, http.clientip,  = != CONTAINS BEGINSWITH ENDSWITH
            user, name, type, message, resource.arn, instance.id,
            availabilityzone, account.id
  booleans  ok, error, throttle, fault, partial, inferred, first,  bare, ! , or = / != true|false
            last, remote, root
  annotation.KEY (or annotation[KEY])                      typed by the literal; bare = present
  service(x) { filter }, edge(a, b) { filter }             x, a, b: "name", id(name: type: account.id:),
                                                           or nothing (service() is every node)
  rootcause.fault|error|responsetime.service|entity|exception { filter }
  rootcause.json = #[ {...} ], json = #[ {...} ]           root causes matching a JSON pattern
  group.name = "x", group.arn = "..."                      the trace matches group x's expression
  AND, OR, NOT (or !), parentheses, and terms side by side (implicit AND: `ok !partial duration < 3`).
A keyword alone tests that the trace has it (`http.url AND responsetime > 2`).

What each keyword reads depends on where it stands. At the top, a trace: `ok`, `error` and
`fault` are its root segment's status, as the console means them; HTTP fields and
responsetime are the root segment's; `throttle` holds when any segment was throttled;
`inferred` when X-Ray inferred a segment; resource.arn / instance.id / availabilityzone when
any segment has that value. Inside service(...) { } and edge(...) { }, one segment of that
node (or one call on that edge, as the caller timed it). Inside rootcause...{ }, one element
of a root cause's enumerated list (index counts from 0; first and last say where it stands).
"""

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Value = str | float | bool


class FilterError(ValueError):
    """The expression cannot be parsed or type-checked; the message says where and why."""


# -- what a filter sees ------------------------------------------------------------------------


@dataclass
class Call:
    """One segment of a service node, or one call on an edge (the caller's subsegment)."""

    name: str
    node_type: str = ""
    error: bool = False
    fault: bool = False
    throttle: bool = False
    root: bool = False
    inferred: bool = False
    in_progress: bool = False
    response_time: float | None = None
    http_url: str | None = None
    http_method: str | None = None
    http_status: int | None = None
    http_useragent: str | None = None
    http_clientip: str | None = None
    user: str | None = None
    resource_arn: str | None = None
    account_id: str | None = None


@dataclass
class ServiceNode:
    """A node of the trace's graph, with the segments it wrote (X-Ray's for inferred ones)."""

    name: str
    node_type: str = ""
    account_id: str | None = None
    inferred: bool = False
    segments: list[Call] = field(default_factory=list)


@dataclass
class EdgeCalls:
    source: ServiceNode
    target: ServiceNode
    calls: list[Call] = field(default_factory=list)


@dataclass
class RootCauseException:
    name: str
    message: str | None = None


@dataclass
class RootCauseEntity:
    name: str
    exceptions: list[RootCauseException] = field(default_factory=list)
    remote: bool = False
    coverage: float | None = None  # response time root causes only


@dataclass
class RootCauseService:
    name: str
    node_type: str = ""
    account_id: str | None = None
    inferred: bool = False
    entity_path: list[RootCauseEntity] = field(default_factory=list)


@dataclass
class RootCause:
    services: list[RootCauseService] = field(default_factory=list)
    client_impacting: bool = False


@dataclass
class TraceDetail:
    """What needs the trace's documents: its graph, root causes and per-segment fields."""

    services: list[ServiceNode] = field(default_factory=list)
    edges: list[EdgeCalls] = field(default_factory=list)
    fault_root_causes: list[RootCause] = field(default_factory=list)
    error_root_causes: list[RootCause] = field(default_factory=list)
    response_time_root_causes: list[RootCause] = field(default_factory=list)
    resource_arns: list[str] = field(default_factory=list)
    instance_ids: list[str] = field(default_factory=list)
    availability_zones: list[str] = field(default_factory=list)
    # The node of the root segment (TraceSummary.EntryPoint).
    entry_point: ServiceNode | None = None


@dataclass
class TraceFacts:
    """What a filter can see of one trace: indexed facts, and the detail read on demand."""

    trace_id: str
    start_time: float
    duration: float | None = None
    response_time: float | None = None
    error: bool = False
    fault: bool = False
    throttle: bool = False
    partial: bool = False
    inferred: bool = False
    http_url: str | None = None
    http_method: str | None = None
    http_status: int | None = None
    http_useragent: str | None = None
    http_clientip: str | None = None
    revision: int = 1
    users: list[str] = field(default_factory=list)
    services: list[tuple[str, str | None]] = field(default_factory=list)
    annotations: dict[str, list[Value]] = field(default_factory=dict)
    # Reads the documents (only filters and summaries that need them call it); without one,
    # the detail is the bare service list.
    load_detail: Callable[[], TraceDetail] | None = field(default=None, repr=False, compare=False)
    # The root causes of a kind (fault, error, responsetime) as stored with the trace's summary:
    # `rootcause.*` filters read them there rather than the trace's documents.
    load_root_causes: Callable[[str], list[RootCause]] | None = field(default=None, repr=False, compare=False)
    _detail: TraceDetail | None = field(default=None, repr=False, compare=False)

    def root_causes(self, kind: str) -> list[RootCause]:
        """The trace's root causes of `kind` (a ROOT_CAUSE_KINDS word)."""
        if self._detail is None and self.load_root_causes is not None:
            return self.load_root_causes(kind)
        return _root_causes(self.detail(), kind)

    def detail(self) -> TraceDetail:
        if self._detail is None:
            if self.load_detail is not None:
                self._detail = self.load_detail()
            else:
                nodes = [ServiceNode(name, node_type or "") for name, node_type in self.services]
                self._detail = TraceDetail(services=nodes)
        return self._detail


@dataclass(frozen=True)
class Listed:
    """An element of a root cause's enumerated list, with where it stands in it."""

    item: Any
    index: int
    count: int


Predicate = Callable[[Any], bool]
GroupLookup = Callable[[str], str | None]

# -- keywords, by where they stand ---------------------------------------------------------------


@dataclass(frozen=True)
class Keyword:
    kind: str  # number, string, boolean
    get: Callable[[Any], Any]  # number: float | None; string: list[str]; boolean: bool


def _one(value: str | None) -> list[str]:
    return [value] if value is not None else []


def _status_ok(subject: Any) -> bool:
    # "Response status code was 2XX": no error (4XX, throttles included) and no fault.
    return not (subject.error or subject.fault or subject.throttle)


def _http_keywords() -> dict[str, Keyword]:
    return {
        "http.status": Keyword("number", lambda s: s.http_status),
        "http.url": Keyword("string", lambda s: _one(s.http_url)),
        "http.method": Keyword("string", lambda s: _one(s.http_method)),
        "http.useragent": Keyword("string", lambda s: _one(s.http_useragent)),
        "http.clientip": Keyword("string", lambda s: _one(s.http_clientip)),
    }


TRACE_KEYWORDS: dict[str, Keyword] = {
    **_http_keywords(),
    "responsetime": Keyword("number", lambda t: t.response_time),
    "duration": Keyword("number", lambda t: t.duration),
    "user": Keyword("string", lambda t: t.users),
    "resource.arn": Keyword("string", lambda t: t.detail().resource_arns),
    "instance.id": Keyword("string", lambda t: t.detail().instance_ids),
    "availabilityzone": Keyword("string", lambda t: t.detail().availability_zones),
    "ok": Keyword("boolean", _status_ok),
    "error": Keyword("boolean", lambda t: t.error),
    "fault": Keyword("boolean", lambda t: t.fault),
    "throttle": Keyword("boolean", lambda t: t.throttle),
    "partial": Keyword("boolean", lambda t: t.partial),
    "inferred": Keyword("boolean", lambda t: t.inferred),
}
CALL_KEYWORDS: dict[str, Keyword] = {
    **_http_keywords(),
    "responsetime": Keyword("number", lambda c: c.response_time),
    "duration": Keyword("number", lambda c: c.response_time),
    "user": Keyword("string", lambda c: _one(c.user)),
    "name": Keyword("string", lambda c: [c.name]),
    "type": Keyword("string", lambda c: _one(c.node_type or None)),
    "resource.arn": Keyword("string", lambda c: _one(c.resource_arn)),
    "account.id": Keyword("string", lambda c: _one(c.account_id)),
    "ok": Keyword("boolean", _status_ok),
    "error": Keyword("boolean", lambda c: c.error),
    "fault": Keyword("boolean", lambda c: c.fault),
    "throttle": Keyword("boolean", lambda c: c.throttle),
    "partial": Keyword("boolean", lambda c: c.in_progress),
    "root": Keyword("boolean", lambda c: c.root),
    "inferred": Keyword("boolean", lambda c: c.inferred),
}
_POSITION_KEYWORDS: dict[str, Keyword] = {
    "index": Keyword("number", lambda e: e.index),
    "first": Keyword("boolean", lambda e: e.index == 0),
    "last": Keyword("boolean", lambda e: e.index == e.count - 1),
}
ROOT_CAUSE_SERVICE_KEYWORDS: dict[str, Keyword] = {
    **_POSITION_KEYWORDS,
    "name": Keyword("string", lambda e: [e.item.name]),
    "type": Keyword("string", lambda e: _one(e.item.node_type or None)),
    "account.id": Keyword("string", lambda e: _one(e.item.account_id)),
    "inferred": Keyword("boolean", lambda e: e.item.inferred),
}
ROOT_CAUSE_ENTITY_KEYWORDS: dict[str, Keyword] = {
    **_POSITION_KEYWORDS,
    "name": Keyword("string", lambda e: [e.item.name]),
    "remote": Keyword("boolean", lambda e: e.item.remote),
    "coverage": Keyword("number", lambda e: e.item.coverage),
    "message": Keyword("string", lambda e: [x.message for x in e.item.exceptions if x.message is not None]),
}
ROOT_CAUSE_EXCEPTION_KEYWORDS: dict[str, Keyword] = {
    **_POSITION_KEYWORDS,
    "name": Keyword("string", lambda e: [e.item.name]),
    "message": Keyword("string", lambda e: _one(e.item.message)),
}
ALL_KEYWORDS = (
    set(TRACE_KEYWORDS)
    | set(CALL_KEYWORDS)
    | set(ROOT_CAUSE_SERVICE_KEYWORDS)
    | set(ROOT_CAUSE_ENTITY_KEYWORDS)
    | set(ROOT_CAUSE_EXCEPTION_KEYWORDS)
)
ROOT_CAUSE_KINDS = ("fault", "error", "responsetime")
ROOT_CAUSE_LISTS = {
    "service": ROOT_CAUSE_SERVICE_KEYWORDS,
    "entity": ROOT_CAUSE_ENTITY_KEYWORDS,
    "exception": ROOT_CAUSE_EXCEPTION_KEYWORDS,
}

COMPARISONS = {"=", "!=", "<", "<=", ">", ">="}
# Levels of NOT, parentheses, braces and group references. The parser and the predicates it
# builds recurse once per level; real filters use a handful, and a bound keeps `((((...` from
# exhausting the stack.
MAX_NESTING = 64
STRING_OPERATORS = {"CONTAINS", "BEGINSWITH", "ENDSWITH"}
# Words that join terms; never a keyword, never a bare string value.
CONNECTIVES = {"AND", "OR", "NOT"}

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
  | (?P<json>\#\[)
  | (?P<op><=|>=|!=|=|<|>|!|\(|\)|\[|\]|,|:|\{|\})
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, word, json, op, end
    text: str
    position: int
    value: Any = None  # the decoded JSON of a json token


def tokenize(expression: str) -> list[Token]:
    tokens = []
    position = 0
    decoder = json.JSONDecoder()
    while position < len(expression):
        match = _TOKEN_RE.match(expression, position)
        if match is None:
            raise FilterError(f"unexpected character {expression[position]!r} at position {position}")
        kind = match.lastgroup or ""
        if kind == "json":
            # #[ ... ]: a JSON array, as the guide's rootcause.json examples write it.
            try:
                value, end = decoder.raw_decode(expression, position + 1)
            except (ValueError, RecursionError):
                raise FilterError(f"#[ at position {position} does not start a JSON array") from None
            if not isinstance(value, list):
                raise FilterError(f"#[ at position {position} does not start a JSON array")
            tokens.append(Token("json", expression[position:end], position, value))
            position = end
            continue
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("end", "", len(expression)))
    return tokens


# -- the parsed expression: predicates that also say what they test ----------------------------
#
# The parser returns these (each is the predicate itself: call it on the subject) wherever a
# term is plain enough for SQL to say it too (filter_sql.py compiles them over the per-trace
# facts); anything else stays an opaque function and is evaluated in Python.


@dataclass(frozen=True)
class AllOf:
    terms: tuple[Predicate, ...]

    def __call__(self, subject: Any) -> bool:
        return all(term(subject) for term in self.terms)


@dataclass(frozen=True)
class AnyOf:
    terms: tuple[Predicate, ...]

    def __call__(self, subject: Any) -> bool:
        return any(term(subject) for term in self.terms)


@dataclass(frozen=True)
class Not:
    inner: Predicate

    def __call__(self, subject: Any) -> bool:
        return not self.inner(subject)


@dataclass(frozen=True)
class KeywordTest:
    """`keyword op literal`, or the keyword alone (op None: the subject has it; for a boolean,
    literal is the value it must have). `trace` is True at the top of an expression."""

    keyword: str
    entry: Keyword
    op: str | None
    literal: Value | None
    trace: bool

    def __call__(self, subject: Any) -> bool:
        value = self.entry.get(subject)
        if self.entry.kind == "boolean":
            return bool(value) == self.literal
        if self.entry.kind == "number":
            if self.op is None:
                return value is not None
            return value is not None and _compare(float(value), self.op, self.literal)
        if self.op is None:
            return bool(value)
        return any(_compare(item, self.op, self.literal) for item in value)


@dataclass(frozen=True)
class AnnotationTest:
    """annotation.KEY op literal, or annotation.KEY alone (op None: the trace has it)."""

    key: str
    op: str | None = None
    literal: Value | None = None

    def __call__(self, trace: Any) -> bool:
        if self.op is None:
            return self.key in trace.annotations
        op, literal = self.op, self.literal
        assert literal is not None
        return any(_annotation_matches(value, op, literal) for value in trace.annotations.get(self.key, ()))


@dataclass(frozen=True)
class ServiceTest:
    """service() or service(x) with no braces and no account: one of the trace's nodes is x."""

    name: str | None = None
    node_type: str | None = None

    def __call__(self, trace: Any) -> bool:
        return any(
            (self.name is None or self.name == name)
            and (self.node_type is None or self.node_type == (node_type or ""))
            for name, node_type in trace.services
        )


def compile_filter(expression: str, groups: GroupLookup | None = None) -> Predicate:
    """Parse `expression`; return a predicate over TraceFacts or raise FilterError.

    `groups` maps a group name or ARN to that group's filter expression (None when there is
    no such group); without it, `group.name` / `group.arn` name no group at all.
    """
    return _compile(expression, groups, ())


def _compile(expression: str, groups: GroupLookup | None, within: tuple[str, ...]) -> Predicate:
    if not expression.strip():
        raise FilterError("FilterExpression is empty")
    parser = _Parser(tokenize(expression), groups, within)
    predicate = parser.parse_or()
    if parser.peek.kind != "end":
        raise parser.error(f"unexpected {parser.describe(parser.peek)}; expected AND, OR or the end")
    return predicate


class _Parser:
    """Recursive descent: or := and (OR and)*; and := not ([AND] not)*; not := (NOT|!) not | atom.

    `keywords` is the table of the place being parsed: the trace at the top, a segment inside
    service/edge braces, a root cause element inside rootcause braces.
    """

    def __init__(self, tokens: list[Token], groups: GroupLookup | None, within: tuple[str, ...]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = len(within)
        self.groups = groups
        self.within = within
        self.keywords = TRACE_KEYWORDS

    @property
    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def is_word(self, word: str) -> bool:
        return self.peek.kind == "word" and self.peek.text.upper() == word

    def is_op(self, *ops: str) -> bool:
        return self.peek.kind == "op" and self.peek.text in ops

    def expect_op(self, op: str) -> None:
        if not self.is_op(op):
            raise self.error(f"expected '{op}', found {self.describe(self.peek)}")
        self.take()

    def error(self, message: str, token: Token | None = None) -> FilterError:
        where = (token or self.peek).position
        return FilterError(f"{message} (at position {where})")

    def nest(self, token: Token) -> None:
        """Enter one more level of NOT, parentheses or braces (at the token that opens it)."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(
                f"the expression nests NOT and parentheses deeper than {MAX_NESTING} levels", token
            )

    @staticmethod
    def describe(token: Token) -> str:
        return "the end of the expression" if token.kind == "end" else repr(token.text)

    # -- AND, OR, NOT --------------------------------------------------------------------------

    def parse_or(self) -> Predicate:
        terms = [self.parse_and()]
        while self.is_word("OR"):
            self.take()
            terms.append(self.parse_and())
        if len(terms) == 1:
            return terms[0]
        return AnyOf(tuple(terms))

    def parse_and(self) -> Predicate:
        terms = [self.parse_not()]
        while True:
            if self.is_word("AND"):
                self.take()
            elif not self.starts_term():
                break
            terms.append(self.parse_not())
        if len(terms) == 1:
            return terms[0]
        return AllOf(tuple(terms))

    def starts_term(self) -> bool:
        """Can the next token begin another term? Then it is ANDed (`ok !partial`)."""
        token = self.peek
        if token.kind == "word":
            return token.text.upper() not in ("AND", "OR")
        return self.is_op("(", "!")

    def parse_not(self) -> Predicate:
        if self.is_word("NOT") or self.is_op("!"):
            self.nest(self.peek)
            self.take()
            inner = self.parse_not()
            self.depth -= 1
            return Not(inner)
        return self.parse_atom()

    def parse_atom(self) -> Predicate:
        token = self.peek
        if self.is_op("("):
            self.nest(token)
            self.take()
            inner = self.parse_or()
            self.expect_op(")")
            self.depth -= 1
            return inner
        if token.kind != "word":
            raise self.error(f"expected a keyword, service(...) or '(', found {self.describe(token)}")
        word = token.text.lower()
        if word in self.keywords:
            return self.parse_keyword(word)
        if self.keywords is TRACE_KEYWORDS:
            special = self.parse_trace_only(word)
            if special is not None:
                return special
        if word in ALL_KEYWORDS:
            raise self.error(f"{token.text} cannot be used here: {self.where_allowed(word)}", token)
        if word in ("id", "service", "edge", "annotation", "group.name", "group.arn", "json") or (
            word.startswith(("annotation.", "rootcause."))
        ):
            raise self.error(f"{token.text} cannot be used inside {{ }}", token)
        raise self.error(f"unknown keyword {token.text!r}", token)

    def parse_trace_only(self, word: str) -> Predicate | None:
        """The complex keywords, which stand only at the top of an expression."""
        if word == "service":
            return self.parse_service()
        if word == "edge":
            return self.parse_edge()
        if word == "annotation" or word.startswith("annotation."):
            return self.parse_annotation()
        if word in ("group.name", "group.arn"):
            return self.parse_group()
        if word in ("json", "rootcause.json") or (word.startswith("rootcause.") and word.endswith(".json")):
            return self.parse_json()
        if word.startswith("rootcause."):
            return self.parse_root_cause()
        if word == "id":
            raise self.error("id(...) can only name the node of service(...) or edge(...)")
        return None

    @staticmethod
    def where_allowed(word: str) -> str:
        if word in CALL_KEYWORDS:
            return "it describes one segment, inside service(...) { } or edge(...) { }"
        return "it describes a root cause, inside rootcause.<fault|error|responsetime>.<list> { }"

    # -- plain keywords ------------------------------------------------------------------------

    def parse_keyword(self, word: str) -> Predicate:
        keyword_token = self.take()
        keyword = self.keywords[word]
        if keyword.kind == "boolean":
            return self.parse_boolean(word, keyword)
        if self.at_operator():
            if keyword.kind == "number":
                return self.parse_number_comparison(word, keyword)
            return self.parse_string_comparison(word, keyword)
        if self.peek.kind in ("number", "string"):
            raise self.error(
                f"expected an operator after {keyword_token.text}, found {self.describe(self.peek)}"
            )
        # A keyword alone: the trace (segment, element) has that field.
        return KeywordTest(word, keyword, None, None, self.keywords is TRACE_KEYWORDS)

    def at_operator(self) -> bool:
        return (self.peek.kind == "op" and self.peek.text in COMPARISONS) or (
            self.peek.kind == "word" and self.peek.text.upper() in STRING_OPERATORS
        )

    def parse_operator(self, keyword: str, allowed: set[str]) -> str:
        token = self.peek
        op = token.text.upper() if token.kind == "word" else token.text if token.kind == "op" else ""
        if op not in COMPARISONS and op not in STRING_OPERATORS:
            raise self.error(f"expected an operator after {keyword}, found {self.describe(token)}")
        if op not in allowed:
            raise self.error(f"operator {op} cannot be used with {keyword}")
        self.take()
        return op

    def parse_literal(self, bare_words: bool = False) -> tuple[Value, Token]:
        """A "string", a number, true or false; with `bare_words`, a word is a string too (the
        guide writes `name = traces`)."""
        token = self.peek
        if token.kind == "string":
            self.take()
            return _unquote(token.text), token
        if token.kind == "number":
            self.take()
            return float(token.text), token
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            self.take()
            return token.text.lower() == "true", token
        if bare_words and token.kind == "word" and token.text.upper() not in CONNECTIVES:
            self.take()
            return token.text, token
        raise self.error(
            f'expected a value (a "string", a number, true or false), found {self.describe(token)}'
        )

    def parse_number_comparison(self, keyword: str, entry: Keyword) -> Predicate:
        op = self.parse_operator(keyword, COMPARISONS)
        literal, token = self.parse_literal()
        if not isinstance(literal, float):
            raise self.error(f"{keyword} is a number; compare it with a number, not {literal!r}", token)
        return KeywordTest(keyword, entry, op, literal, self.keywords is TRACE_KEYWORDS)

    def parse_string_comparison(self, keyword: str, entry: Keyword) -> Predicate:
        op = self.parse_operator(keyword, {"=", "!="} | STRING_OPERATORS)
        literal, token = self.parse_literal(bare_words=True)
        if not isinstance(literal, str):
            raise self.error(f'{keyword} is a string; compare it with a "string", not {literal!r}', token)
        return KeywordTest(keyword, entry, op, literal, self.keywords is TRACE_KEYWORDS)

    def parse_boolean(self, keyword: str, entry: Keyword) -> Predicate:
        if self.is_op("=", "!="):
            op = self.take().text
            literal, token = self.parse_literal()
            if not isinstance(literal, bool):
                raise self.error(
                    f"{keyword} is a boolean; compare it with true or false, not {literal!r}", token
                )
            expected = literal if op == "=" else not literal
            return KeywordTest(keyword, entry, None, expected, self.keywords is TRACE_KEYWORDS)
        return KeywordTest(keyword, entry, None, True, self.keywords is TRACE_KEYWORDS)

    # -- annotation ----------------------------------------------------------------------------

    def parse_annotation(self) -> Predicate:
        token = self.take()
        if token.text.lower() == "annotation":
            # annotation[key] or annotation["key"]
            self.expect_op("[")
            key_token = self.peek
            if key_token.kind not in ("word", "string"):
                raise self.error("expected an annotation key inside [ ]")
            self.take()
            key = _unquote(key_token.text) if key_token.kind == "string" else key_token.text
            self.expect_op("]")
        else:
            key = token.text[len("annotation.") :]
        if not self.at_operator():
            return AnnotationTest(key)
        op = self.parse_operator(f"annotation.{key}", COMPARISONS | STRING_OPERATORS)
        literal, value_token = self.parse_literal()
        if isinstance(literal, bool) and op not in ("=", "!="):
            raise self.error(f"operator {op} cannot compare annotation.{key} with a boolean", value_token)
        if isinstance(literal, float) and op in STRING_OPERATORS:
            raise self.error(f"operator {op} needs a string, not the number {literal!r}", value_token)
        if isinstance(literal, str) and op in ("<", "<=", ">", ">="):
            raise self.error(f"operator {op} cannot compare annotation.{key} with a string", value_token)
        return AnnotationTest(key, op, literal)

    # -- service(...), edge(...), id(...) ------------------------------------------------------

    def parse_service(self) -> Predicate:
        self.take()
        self.expect_op("(")
        node = None if self.is_op(")") else self.parse_node("service")
        self.expect_op(")")
        inner = self.parse_braces(CALL_KEYWORDS)
        if inner is None and (node is None or node.account_id is None):
            # Names and types are indexed: no need to read the trace's documents.
            return ServiceTest() if node is None else ServiceTest(node.name, node.node_type)

        def predicate(trace: TraceFacts) -> bool:
            for service in trace.detail().services:
                if node is not None and not node.matches(service.name, service.node_type, service.account_id):
                    continue
                if inner is None or any(inner(call) for call in service.segments):
                    return True
            return False

        return predicate

    def parse_edge(self) -> Predicate:
        self.take()
        self.expect_op("(")
        source = self.parse_node("edge")
        self.expect_op(",")
        target = self.parse_node("edge")
        self.expect_op(")")
        inner = self.parse_braces(CALL_KEYWORDS)

        def predicate(trace: TraceFacts) -> bool:
            for edge in trace.detail().edges:
                a, b = edge.source, edge.target
                joins = source.matches(a.name, a.node_type, a.account_id) and target.matches(
                    b.name, b.node_type, b.account_id
                )
                if joins and (inner is None or any(inner(call) for call in edge.calls)):
                    return True
            return False

        return predicate

    def parse_node(self, keyword: str) -> "_NodeId":
        """ "name" or id(name: "...", type: "...", account.id: "...")."""
        if self.peek.kind == "string":
            return _NodeId(name=_unquote(self.take().text))
        if not self.is_word("ID"):
            raise self.error(f'{keyword}(...) needs a "name" or id(name: "...", type: "...")')
        self.take()
        self.expect_op("(")
        fields: dict[str, str] = {}
        while True:
            field_token = self.peek
            field_name = field_token.text.lower()
            if field_token.kind != "word" or field_name not in ("name", "type", "account.id"):
                raise self.error('id(...) takes name: "...", type: "...", account.id: "..."')
            self.take()
            self.expect_op(":")
            value_token = self.peek
            if value_token.kind != "string":
                raise self.error(f'id({field_token.text}: ...) needs a "string"')
            self.take()
            fields[field_name] = _unquote(value_token.text)
            if not self.is_op(","):
                break
            self.take()
        self.expect_op(")")
        return _NodeId(fields.get("name"), fields.get("type"), fields.get("account.id"))

    def parse_braces(self, keywords: dict[str, Keyword]) -> Predicate | None:
        """An optional `{ filter }` over `keywords`' subject."""
        if not self.is_op("{"):
            return None
        self.nest(self.peek)
        self.take()
        outer, self.keywords = self.keywords, keywords
        inner = self.parse_or()
        self.keywords = outer
        self.expect_op("}")
        self.depth -= 1
        return inner

    # -- root causes, json, groups -------------------------------------------------------------

    def parse_root_cause(self) -> Predicate:
        token = self.take()
        parts = token.text.lower().split(".")
        if len(parts) != 3 or parts[1] not in ROOT_CAUSE_KINDS or parts[2] not in ROOT_CAUSE_LISTS:
            raise self.error(
                "expected rootcause.<fault|error|responsetime>.<service|entity|exception>"
                f" or rootcause.json, found {token.text!r}",
                token,
            )
        kind, listed = parts[1], parts[2]
        if kind == "responsetime" and listed == "exception":
            raise self.error("response time root causes have no exceptions", token)
        inner = self.parse_braces(ROOT_CAUSE_LISTS[listed])

        def predicate(trace: TraceFacts) -> bool:
            for cause in trace.root_causes(kind):
                elements = _elements(cause, listed)
                for index, element in enumerate(elements):
                    if inner is None or inner(Listed(element, index, len(elements))):
                        return True
            return False

        return predicate

    def parse_json(self) -> Predicate:
        token = self.take()
        parts = token.text.lower().split(".")
        kinds = ROOT_CAUSE_KINDS if len(parts) < 3 else (parts[1],)
        if not set(kinds) <= set(ROOT_CAUSE_KINDS):
            raise self.error(f"unknown root cause kind in {token.text!r}", token)
        op_token = self.peek
        if not self.is_op("=", "!="):
            raise self.error(f"expected = or != after {token.text}, found {self.describe(op_token)}")
        self.take()
        if self.peek.kind != "json":
            raise self.error(f"{token.text} compares with a JSON root cause, #[{{...}}]")
        patterns = self.take().value
        negate = op_token.text == "!="

        def predicate(trace: TraceFacts) -> bool:
            found = any(
                _json_matches(pattern, _root_cause_json(cause))
                for kind in kinds
                for cause in trace.root_causes(kind)
                for pattern in patterns
            )
            return found != negate

        return predicate

    def parse_group(self) -> Predicate:
        token = self.take()
        if not self.is_op("=", "!="):
            raise self.error(f"expected = or != after {token.text}, found {self.describe(self.peek)}")
        negate = self.take().text == "!="
        value_token = self.peek
        if value_token.kind != "string":
            raise self.error(f'{token.text} needs a "string"')
        self.take()
        group = _unquote(value_token.text)
        expression = self.groups(group) if self.groups is not None else None
        if expression is None:
            raise self.error(f"{token.text} names no group: {group!r} does not exist", value_token)
        if group in self.within:
            raise self.error(f"group {group!r} refers to itself", value_token)
        if self.depth + 1 > MAX_NESTING:
            raise self.error(f"groups refer to groups deeper than {MAX_NESTING} levels", value_token)
        try:
            inner = _compile(expression, self.groups, (*self.within, group))
        except FilterError as error:
            raise self.error(
                f"the filter expression of group {group!r} is not valid: {error}", value_token
            ) from None
        return Not(inner) if negate else inner


@dataclass(frozen=True)
class _NodeId:
    """A node as service(...) and edge(...) name it; None matches anything."""

    name: str | None = None
    node_type: str | None = None
    account_id: str | None = None

    def matches(self, name: str, node_type: str, account_id: str | None) -> bool:
        return (
            (self.name is None or self.name == name)
            and (self.node_type is None or self.node_type == node_type)
            and (self.account_id is None or self.account_id == account_id)
        )


def _root_causes(detail: TraceDetail, kind: str) -> list[RootCause]:
    if kind == "fault":
        return detail.fault_root_causes
    if kind == "error":
        return detail.error_root_causes
    return detail.response_time_root_causes


def _elements(cause: RootCause, listed: str) -> Sequence[Any]:
    """The enumerated list `rootcause.<kind>.<listed>` walks: services, then the entities of
    the path through them, then the exceptions recorded along it, in order."""
    if listed == "service":
        return cause.services
    entities = [entity for service in cause.services for entity in service.entity_path]
    if listed == "entity":
        return entities
    return [exception for entity in entities for exception in entity.exceptions]


def root_cause_json(cause: RootCause) -> dict[str, Any]:
    """A root cause as GetTraceSummaries writes it (FaultRootCause and its siblings)."""
    return _root_cause_json(cause)


def _root_cause_json(cause: RootCause) -> dict[str, Any]:
    services = []
    for service in cause.services:
        entry: dict[str, Any] = {"Name": service.name, "Names": [service.name]}
        if service.node_type:
            entry["Type"] = service.node_type
        if service.account_id is not None:
            entry["AccountId"] = service.account_id
        entry["EntityPath"] = [_entity_json(entity) for entity in service.entity_path]
        entry["Inferred"] = service.inferred
        services.append(entry)
    return {"Services": services, "ClientImpacting": cause.client_impacting}


def root_causes_from_json(causes: list[dict[str, Any]]) -> list[RootCause]:
    """The root causes root_cause_json wrote, read back: root_cause_json of each gives the
    same JSON (an entity with a Coverage has no exceptions; a response time path shows none)."""
    return [
        RootCause(
            services=[
                RootCauseService(
                    name=service["Name"],
                    node_type=service.get("Type", ""),
                    account_id=service.get("AccountId"),
                    inferred=service["Inferred"],
                    entity_path=[
                        RootCauseEntity(
                            name=entity["Name"],
                            exceptions=[
                                RootCauseException(x["Name"], x.get("Message"))
                                for x in entity.get("Exceptions", ())
                            ],
                            remote=entity["Remote"],
                            coverage=entity.get("Coverage"),
                        )
                        for entity in service["EntityPath"]
                    ],
                )
                for service in cause["Services"]
            ],
            client_impacting=cause["ClientImpacting"],
        )
        for cause in causes
    ]


def _entity_json(entity: RootCauseEntity) -> dict[str, Any]:
    result: dict[str, Any] = {"Name": entity.name}
    if entity.coverage is not None:
        result["Coverage"] = entity.coverage
    else:
        result["Exceptions"] = [
            {"Name": x.name, **({"Message": x.message} if x.message is not None else {})}
            for x in entity.exceptions
        ]
    result["Remote"] = entity.remote
    return result


def _json_matches(pattern: Any, value: Any) -> bool:
    """Every field the pattern gives must match exactly; a field left out matches anything
    (the developer guide's "Retrieving and refining root cause analytics"). Lists match
    element by element, as many as the pattern lists."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            key in value and _json_matches(expected, value[key]) for key, expected in pattern.items()
        )
    if isinstance(pattern, list):
        return (
            isinstance(value, list)
            and len(pattern) == len(value)
            and all(_json_matches(p, v) for p, v in zip(pattern, value, strict=True))
        )
    return bool(pattern == value)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _compare(value: Any, op: str, literal: Any) -> bool:
    if op == "=":
        return bool(value == literal)
    if op == "!=":
        return bool(value != literal)
    if op == "<":
        return bool(value < literal)
    if op == "<=":
        return bool(value <= literal)
    if op == ">":
        return bool(value > literal)
    if op == ">=":
        return bool(value >= literal)
    if op == "CONTAINS":
        return literal in value
    if op == "BEGINSWITH":
        return bool(value.startswith(literal))
    if op == "ENDSWITH":
        return bool(value.endswith(literal))
    raise AssertionError(f"unhandled operator {op}")


def _annotation_matches(value: Value, op: str, literal: Value) -> bool:
    # Values compare only with literals of their own type (a number annotation never equals "5").
    if isinstance(literal, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(literal, bool) and _compare(value, op, literal)
    if isinstance(literal, float):
        return isinstance(value, int | float) and _compare(float(value), op, literal)
    return isinstance(value, str) and _compare(value, op, literal)
