"""Route matching as API Gateway does it: the most specific resource, then the exact method."""

import pytest

from emulator.apigateway.routes import RouteTable
from emulator.app.model import Route

ROUTES = RouteTable(
    [
        Route("GET", "/{proxy+}", "CatchAll"),
        Route("ANY", "/hello", "Hello"),
        Route("POST", "/hello", "HelloPost"),
        Route("GET", "/items/{id}", "Item"),
        Route("GET", "/items/special", "Special"),
        Route("ANY", "/files/{proxy+}", "Files"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "function", "parameters"),
    [
        # A static resource with ANY beats a greedy one with the exact method.
        ("GET", "/hello", "Hello", {}),
        # On the same resource, the method itself beats ANY.
        ("POST", "/hello", "HelloPost", {}),
        ("DELETE", "/hello", "Hello", {}),
        ("GET", "/items/special", "Special", {}),
        ("GET", "/items/42", "Item", {"id": "42"}),
        ("PUT", "/files/a/b.txt", "Files", {"proxy": "a/b.txt"}),
        ("GET", "/anything/else", "CatchAll", {"proxy": "anything/else"}),
    ],
)
def test_most_specific_resource_then_exact_method(method, path, function, parameters):
    matched = ROUTES.match(method, path)
    assert matched is not None
    route, found = matched
    assert (route.function, found) == (function, parameters)


def test_no_resource_or_no_method_is_no_match():
    assert ROUTES.match("POST", "/items/42") is None
    assert RouteTable([Route("GET", "/hello", "Hello")]).match("GET", "/nope") is None
