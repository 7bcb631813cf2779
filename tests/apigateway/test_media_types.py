"""emulator.apigateway.media_types: which bodies go base64, REST (binaryMediaTypes) and HTTP APIs."""

import pytest

from emulator.apigateway.media_types import (
    http_request_is_binary,
    media_type,
    rest_decodes_result,
    rest_request_is_binary,
)


def test_media_type_is_the_first_type_without_parameters():
    assert media_type("Image/PNG; q=0.9, text/html") == "image/png"
    assert media_type(None) == ""


@pytest.mark.parametrize(
    ("content_type", "declared", "binary"),
    [
        ("image/png", ("image/png",), True),
        ("image/png", ("image/*",), True),
        ("application/json", ("*/*",), True),
        ("application/octet-stream", (), False),  # nothing declared: every body is text
        ("image/png", ("application/octet-stream",), False),
        (None, ("*/*",), False),
    ],
)
def test_rest_request_is_binary_only_for_declared_types(content_type, declared, binary):
    assert rest_request_is_binary(content_type, declared) is binary


def test_rest_result_is_decoded_only_for_an_accept_type_declared_binary():
    assert rest_decodes_result("image/png", ("image/png",)) is True
    assert rest_decodes_result("*/*", ("image/png",)) is False
    assert rest_decodes_result(None, ("image/png",)) is False
    assert rest_decodes_result("*/*", ("*/*",)) is True


@pytest.mark.parametrize(
    ("content_type", "body", "binary"),
    [
        ("application/json", b"{}", False),
        ("text/plain; charset=utf-8", b"hi", False),
        ("application/vnd.api+json", b"{}", False),
        ("application/octet-stream", b"plain", True),
        ("image/png", b"\x89PNG", True),
        (None, b"text", False),
        (None, b"\xff\xfe", True),
    ],
)
def test_http_api_infers_the_encoding_from_the_content_type(content_type, body, binary):
    assert http_request_is_binary(content_type, body) is binary
