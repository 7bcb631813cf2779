"""GetTraceSummaries FilterExpression: a parser and an evaluator over one trace's facts.

Supported, as the X-Ray developer guide spells them:
  numbers   responsetime, duration, http.status            = != < <= > >=
  strings   http.url, http.method, http.useragent,         = != CONTAINS BEGINSWITH ENDSWITH
            http.clientip, user
  booleans  error, fault, throttle, ok, partial            bare, or = / != true|false
  annotation.KEY (or annotation[KEY])                      typed by the literal; bare = present
  service("name"), service(id(name: "x", type: "y"))       the trace passed through that node
  AND, OR, NOT (or !), parentheses; string literals in double quotes, numbers.
HTTP fields and responsetime are the root segment's; error/fault/throttle hold when any
segment or subsegment of the trace has them; an annotation matches when any value does.
Anything else (edge(), rootcause, service(...) { ... }) is rejected with a FilterError.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Value = str | float | bool


class FilterError(ValueError):
    """The expression cannot be parsed or type-checked; the message says where and why."""


@dataclass
class TraceFacts:
    """What a filter can see of one trace."""

    trace_id: str
    start_time: float
    duration: float | None = None
    response_time: float | None = None
    error: bool = False
    fault: bool = False
    throttle: bool = False
    partial: bool = False
    http_url: str | None = None
    http_method: str | None = None
    http_status: int | None = None
    http_useragent: str | None = None
    http_clientip: str | None = None
    users: list[str] = field(default_factory=list)
    services: list[tuple[str, str]] = field(default_factory=list)
    annotations: dict[str, list[Value]] = field(default_factory=dict)


Predicate = Callable[[TraceFacts], bool]

NUMBER_KEYWORDS: dict[str, Callable[[TraceFacts], float | None]] = {
    "responsetime": lambda t: t.response_time,
    "duration": lambda t: t.duration,
    "http.status": lambda t: t.http_status,
}
STRING_KEYWORDS: dict[str, Callable[[TraceFacts], list[str]]] = {
    "http.url": lambda t: [t.http_url] if t.http_url is not None else [],
    "http.method": lambda t: [t.http_method] if t.http_method is not None else [],
    "http.useragent": lambda t: [t.http_useragent] if t.http_useragent is not None else [],
    "http.clientip": lambda t: [t.http_clientip] if t.http_clientip is not None else [],
    "user": lambda t: t.users,
}
BOOLEAN_KEYWORDS: dict[str, Callable[[TraceFacts], bool]] = {
    "error": lambda t: t.error,
    "fault": lambda t: t.fault,
    "throttle": lambda t: t.throttle,
    "ok": lambda t: not (t.error or t.fault),
    "partial": lambda t: t.partial,
}
COMPARISONS = {"=", "!=", "<", "<=", ">", ">="}
# Levels of NOT and parentheses. The parser and the predicates it builds recurse once per
# level; real filters use a handful, and a bound keeps `((((...` from exhausting the stack.
MAX_NESTING = 64
STRING_OPERATORS = {"CONTAINS", "BEGINSWITH", "ENDSWITH"}

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
  | (?P<op><=|>=|!=|=|<|>|!|\(|\)|\[|\]|,|:|\{|\})
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, word, op, end
    text: str
    position: int


def tokenize(expression: str) -> list[Token]:
    tokens = []
    position = 0
    while position < len(expression):
        match = _TOKEN_RE.match(expression, position)
        if match is None:
            raise FilterError(f"unexpected character {expression[position]!r} at position {position}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("end", "", len(expression)))
    return tokens


def compile_filter(expression: str) -> Predicate:
    """Parse `expression`; return a predicate over TraceFacts or raise FilterError."""
    if not expression.strip():
        raise FilterError("FilterExpression is empty")
    parser = _Parser(tokenize(expression))
    predicate = parser.parse_or()
    if parser.peek.kind != "end":
        raise parser.error(f"unexpected {parser.describe(parser.peek)}; expected AND, OR or the end")
    return predicate


class _Parser:
    """Recursive descent: or := and (OR and)*; and := not (AND not)*; not := (NOT|!) not | atom."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

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

    def expect_op(self, op: str) -> None:
        if self.peek.kind != "op" or self.peek.text != op:
            raise self.error(f"expected '{op}', found {self.describe(self.peek)}")
        self.take()

    def error(self, message: str) -> FilterError:
        return FilterError(f"{message} (at position {self.peek.position})")

    def nest(self) -> None:
        """Enter one more level of NOT or parentheses (at the token that opens it)."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"the expression nests NOT and parentheses deeper than {MAX_NESTING} levels")

    @staticmethod
    def describe(token: Token) -> str:
        return "the end of the expression" if token.kind == "end" else repr(token.text)

    def parse_or(self) -> Predicate:
        terms = [self.parse_and()]
        while self.is_word("OR"):
            self.take()
            terms.append(self.parse_and())
        if len(terms) == 1:
            return terms[0]
        return lambda trace: any(term(trace) for term in terms)

    def parse_and(self) -> Predicate:
        terms = [self.parse_not()]
        while self.is_word("AND"):
            self.take()
            terms.append(self.parse_not())
        if len(terms) == 1:
            return terms[0]
        return lambda trace: all(term(trace) for term in terms)

    def parse_not(self) -> Predicate:
        if self.is_word("NOT") or (self.peek.kind == "op" and self.peek.text == "!"):
            self.nest()
            self.take()
            inner = self.parse_not()
            self.depth -= 1
            return lambda trace: not inner(trace)
        return self.parse_atom()

    def parse_atom(self) -> Predicate:
        token = self.peek
        if token.kind == "op" and token.text == "(":
            self.nest()
            self.take()
            inner = self.parse_or()
            self.expect_op(")")
            self.depth -= 1
            return inner
        if token.kind != "word":
            raise self.error(f"expected a keyword, service(...) or '(', found {self.describe(token)}")
        word = token.text.lower()
        if word == "service":
            return self.parse_service()
        if word == "annotation" or word.startswith("annotation."):
            return self.parse_annotation()
        if word in NUMBER_KEYWORDS:
            return self.parse_number_comparison()
        if word in STRING_KEYWORDS:
            return self.parse_string_comparison()
        if word in BOOLEAN_KEYWORDS:
            return self.parse_boolean()
        if word in ("edge", "id", "rootcause", "group", "json"):
            raise self.error(f"{token.text}(...) filters are not supported by the local X-Ray")
        raise self.error(f"unknown keyword {token.text!r}")

    def parse_operator(self, keyword: str, allowed: set[str]) -> str:
        token = self.peek
        op = token.text.upper() if token.kind == "word" else token.text if token.kind == "op" else ""
        if op not in COMPARISONS and op not in STRING_OPERATORS:
            raise self.error(f"expected an operator after {keyword}, found {self.describe(token)}")
        if op not in allowed:
            raise self.error(f"operator {op} cannot be used with {keyword}")
        self.take()
        return op

    def parse_literal(self) -> Value:
        token = self.take()
        if token.kind == "string":
            return _unquote(token.text)
        if token.kind == "number":
            return float(token.text)
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        self.index -= token.kind != "end"
        raise self.error(
            f'expected a value (a "string", a number, true or false), found {self.describe(token)}'
        )

    def parse_number_comparison(self) -> Predicate:
        keyword = self.take().text.lower()
        op = self.parse_operator(keyword, COMPARISONS)
        literal = self.parse_literal()
        if not isinstance(literal, float):
            raise FilterError(f"{keyword} is a number; compare it with a number, not {literal!r}")
        getter = NUMBER_KEYWORDS[keyword]

        def predicate(trace: TraceFacts) -> bool:
            value = getter(trace)
            return value is not None and _compare(float(value), op, literal)

        return predicate

    def parse_string_comparison(self) -> Predicate:
        keyword = self.take().text.lower()
        op = self.parse_operator(keyword, {"=", "!="} | STRING_OPERATORS)
        literal = self.parse_literal()
        if not isinstance(literal, str):
            raise FilterError(f'{keyword} is a string; compare it with a "string", not {literal!r}')
        getter = STRING_KEYWORDS[keyword]
        return lambda trace: any(_compare(value, op, literal) for value in getter(trace))

    def parse_boolean(self) -> Predicate:
        keyword = self.take().text.lower()
        getter = BOOLEAN_KEYWORDS[keyword]
        if self.peek.kind == "op" and self.peek.text in ("=", "!="):
            op = self.take().text
            literal = self.parse_literal()
            if not isinstance(literal, bool):
                raise FilterError(f"{keyword} is a boolean; compare it with true or false, not {literal!r}")
            expected = literal if op == "=" else not literal
            return lambda trace: getter(trace) == expected
        return getter

    def parse_annotation(self) -> Predicate:
        token = self.take()
        if token.text.lower() == "annotation":
            # annotation[key] or annotation["key"]
            self.expect_op("[")
            key_token = self.take()
            if key_token.kind not in ("word", "string"):
                raise self.error("expected an annotation key inside [ ]")
            key = _unquote(key_token.text) if key_token.kind == "string" else key_token.text
            self.expect_op("]")
        else:
            key = token.text[len("annotation.") :]
        is_operator = (self.peek.kind == "op" and self.peek.text in COMPARISONS) or (
            self.peek.kind == "word" and self.peek.text.upper() in STRING_OPERATORS
        )
        if not is_operator:
            return lambda trace: key in trace.annotations
        op = self.parse_operator(f"annotation.{key}", COMPARISONS | STRING_OPERATORS)
        literal = self.parse_literal()
        if isinstance(literal, bool) and op not in ("=", "!="):
            raise FilterError(f"operator {op} cannot compare annotation.{key} with a boolean")
        if isinstance(literal, float) and op in STRING_OPERATORS:
            raise FilterError(f"operator {op} needs a string, not the number {literal!r}")
        if isinstance(literal, str) and op in ("<", "<=", ">", ">="):
            raise FilterError(f"operator {op} cannot compare annotation.{key} with a string")

        def predicate(trace: TraceFacts) -> bool:
            return any(_annotation_matches(value, op, literal) for value in trace.annotations.get(key, ()))

        return predicate

    def parse_service(self) -> Predicate:
        self.take()
        self.expect_op("(")
        name: str | None = None
        node_type: str | None = None
        if self.peek.kind == "string":
            name = _unquote(self.take().text)
        elif self.peek.kind == "word" and self.peek.text.lower() == "id":
            self.take()
            self.expect_op("(")
            while True:
                field_token = self.take()
                if field_token.kind != "word" or field_token.text.lower() not in (
                    "name",
                    "type",
                    "account.id",
                ):
                    raise self.error('id(...) takes name: "...", type: "..."')
                self.expect_op(":")
                value_token = self.take()
                if value_token.kind != "string":
                    raise self.error(f'id({field_token.text}: ...) needs a "string"')
                if field_token.text.lower() == "name":
                    name = _unquote(value_token.text)
                elif field_token.text.lower() == "type":
                    node_type = _unquote(value_token.text)
                if self.peek.kind == "op" and self.peek.text == ",":
                    self.take()
                    continue
                break
            self.expect_op(")")
        else:
            raise self.error('service(...) needs a "name" or id(name: "...", type: "...")')
        self.expect_op(")")
        if self.peek.kind == "op" and self.peek.text == "{":
            raise self.error("service(...) { ... } filters are not supported by the local X-Ray")

        def predicate(trace: TraceFacts) -> bool:
            return any(
                (name is None or svc_name == name) and (node_type is None or svc_type == node_type)
                for svc_name, svc_type in trace.services
            )

        return predicate


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _compare(value: Any, op: str, literal: Any) -> bool:
    if op == "=":
        return value == literal
    if op == "!=":
        return value != literal
    if op == "<":
        return value < literal
    if op == "<=":
        return value <= literal
    if op == ">":
        return value > literal
    if op == ">=":
        return value >= literal
    if op == "CONTAINS":
        return literal in value
    if op == "BEGINSWITH":
        return value.startswith(literal)
    if op == "ENDSWITH":
        return value.endswith(literal)
    raise AssertionError(f"unhandled operator {op}")


def _annotation_matches(value: Value, op: str, literal: Value) -> bool:
    # Values compare only with literals of their own type (a number annotation never equals "5").
    if isinstance(literal, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(literal, bool) and _compare(value, op, literal)
    if isinstance(literal, float):
        return isinstance(value, int | float) and _compare(float(value), op, literal)
    return isinstance(value, str) and _compare(value, op, literal)
