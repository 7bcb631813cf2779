"""emulator.http_body: the request body framing both servers read with (RFC 9112 §6, §7)."""

import io

import pytest

from emulator.http_body import MAX_CHUNK_LINE, MAX_TRAILER_BYTES, BadFraming, BodyTooLarge, read_body

NEXT = b"GET /next HTTP/1.1\r\n\r\n"  # what follows the body on a kept-alive connection


def read(raw: bytes, headers: list[tuple[str, str]], max_bytes: int = 100, **options) -> tuple[bytes, bytes]:
    """The body read, and what is left in the stream after it."""
    stream = io.BytesIO(raw)
    body = read_body(stream, headers, max_bytes, **options)
    return body, stream.read()


def bad(raw: bytes, headers: list[tuple[str, str]], max_bytes: int = 100) -> str:
    with pytest.raises(BadFraming) as caught:
        read_body(io.BytesIO(raw), headers, max_bytes)
    return caught.value.reason


CL = "Content-Length"
TE = "Transfer-Encoding"
CHUNKED = [(TE, "chunked")]


# -- no body, Content-Length ------------------------------------------------------------


def test_neither_header_means_no_body():
    assert read(NEXT, []) == (b"", NEXT)


def test_content_length_reads_exactly_that_many_bytes():
    assert read(b"hello" + NEXT, [(CL, "5")]) == (b"hello", NEXT)


def test_content_length_zero_and_leading_zeros():
    assert read(NEXT, [(CL, "0")]) == (b"", NEXT)
    assert read(b"hello" + NEXT, [(CL, "005")]) == (b"hello", NEXT)


def test_header_names_are_case_insensitive_and_the_value_may_have_surrounding_whitespace():
    assert read(b"hello" + NEXT, [("content-LENGTH", " 5\t")]) == (b"hello", NEXT)


@pytest.mark.parametrize(
    "value",
    ["abc", "", " ", "-5", "+5", "5 5", "0x10", "1e3", "5.0", "1_0", "٥", "５", "5;", "5 ,"],
)
def test_content_length_must_be_digits_only(value):
    assert "Invalid Content-Length" in bad(b"hello" + NEXT, [(CL, value)])


def test_identical_repeated_content_lengths_count_as_one():
    assert read(b"hello" + NEXT, [(CL, "5"), (CL, "5")]) == (b"hello", NEXT)
    assert read(b"hello" + NEXT, [(CL, "5, 05")]) == (b"hello", NEXT)


@pytest.mark.parametrize("headers", [[(CL, "5"), (CL, "6")], [(CL, "5, 6")], [(CL, "5,")]])
def test_differing_or_empty_content_length_values_are_an_error(headers):
    assert bad(b"hello!" + NEXT, headers)


def test_content_length_body_cut_short():
    assert bad(b"hel", [(CL, "5")]) == "Request body cut short"


def test_content_length_over_the_limit_is_too_large_and_nothing_is_read():
    stream = io.BytesIO(b"x" * 11 + NEXT)
    with pytest.raises(BodyTooLarge):
        read_body(stream, [(CL, "11")], 10)
    assert stream.tell() == 0


def test_a_huge_content_length_is_too_large_not_a_parse_error():
    with pytest.raises(BodyTooLarge):
        read_body(io.BytesIO(b""), [(CL, "9" * 5000)], 10)


def test_exactly_the_limit_is_accepted():
    assert read(b"x" * 10, [(CL, "10")], max_bytes=10) == (b"x" * 10, b"")


def test_drain_reads_an_oversized_body_to_its_end():
    stream = io.BytesIO(b"x" * 11 + NEXT)
    with pytest.raises(BodyTooLarge):
        read_body(stream, [(CL, "11")], 10, drain=True)
    assert stream.read() == NEXT


def test_drain_of_a_body_cut_short_is_bad_framing():
    with pytest.raises(BadFraming):
        read_body(io.BytesIO(b"x" * 11), [(CL, "20")], 10, drain=True)


# -- chunked ----------------------------------------------------------------------------


def test_chunked_body():
    raw = b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"
    assert read(raw + NEXT, CHUNKED) == (b"hello, world", NEXT)


def test_chunk_sizes_are_hex_either_case_with_leading_zeros():
    raw = b"0A\r\n0123456789\r\n1f\r\n" + b"y" * 31 + b"\r\n000\r\n\r\n"
    assert read(raw + NEXT, CHUNKED) == (b"0123456789" + b"y" * 31, NEXT)


def test_chunk_extensions_are_ignored():
    raw = b'5;name=value\r\nhello\r\n3 ; a ;b="q;uoted"\r\n!!!\r\n0;last\r\n\r\n'
    assert read(raw + NEXT, CHUNKED) == (b"hello!!!", NEXT)


def test_trailers_are_read_and_dropped():
    raw = b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\r\n\r\n"
    assert read(raw + NEXT, CHUNKED) == (b"hello", NEXT)


def test_transfer_encoding_is_case_insensitive_and_a_list():
    raw = b"0\r\n\r\n"
    assert read(raw + NEXT, [(TE, "Chunked")]) == (b"", NEXT)
    assert read(raw + NEXT, [(TE, " , chunked")]) == (b"", NEXT)


@pytest.mark.parametrize(
    "size_line",
    [b"zz", b"", b" 5", b"-5", b"+5", b"0x5", b"5 ", b"5 5", b"\xd9\xa5", b"5;\x00", b"5;a\rb"],
)
def test_chunk_size_must_be_hex_digits(size_line):
    assert bad(size_line + b"\r\nhello\r\n0\r\n\r\n", CHUNKED)


def test_chunk_data_must_be_followed_by_crlf():
    assert bad(b"5\r\nhelloXX0\r\n\r\n", CHUNKED) == "Chunk data is not followed by CRLF"
    assert bad(b"3\r\nhello\r\n0\r\n\r\n", CHUNKED) == "Chunk data is not followed by CRLF"
    assert bad(b"5\r\nhello\n0\r\n\r\n", CHUNKED) == "Chunk data is not followed by CRLF"


def test_a_bare_lf_is_not_a_line_end_in_a_chunked_body():
    assert "bare LF" in bad(b"5\nhello\r\n0\r\n\r\n", CHUNKED)
    assert "bare LF" in bad(b"5\r\nhello\r\n0\r\n\n", CHUNKED)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"5",
        b"5\r",
        b"5\r\nhel",
        b"5\r\nhello",
        b"5\r\nhello\r",
        b"5\r\nhello\r\n",
        b"0\r\n",
        b"0\r\nX: y",
    ],
)
def test_chunked_body_cut_short(raw):
    assert bad(raw, CHUNKED) == "Request body cut short"


def test_an_overlong_chunk_size_line_is_refused():
    line = b"5;" + b"x" * MAX_CHUNK_LINE
    assert "too long" in bad(line + b"\r\nhello\r\n0\r\n\r\n", CHUNKED)


def test_a_malformed_or_overlong_trailer_section_is_refused():
    assert "Invalid trailer" in bad(b"0\r\nnot a field\r\n\r\n", CHUNKED)
    assert "Invalid trailer" in bad(b"0\r\nX-Spaced : y\r\n\r\n", CHUNKED)
    many = b"X-Filler: " + b"y" * 1000 + b"\r\n"
    assert "too long" in bad(b"0\r\n" + many * (MAX_TRAILER_BYTES // len(many) + 1) + b"\r\n", CHUNKED)


def test_chunked_over_the_limit_is_too_large_before_the_chunk_is_read():
    stream = io.BytesIO(b"5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n")
    with pytest.raises(BodyTooLarge):
        read_body(stream, CHUNKED, 10)
    assert stream.read().startswith(b"world!")  # the crossing chunk was not buffered


def test_chunked_drain_reads_an_oversized_body_to_its_end():
    stream = io.BytesIO(b"5\r\nhello\r\n6\r\nworld!\r\n2\r\n!!\r\n0\r\n\r\n" + NEXT)
    with pytest.raises(BodyTooLarge):
        read_body(stream, CHUNKED, 10, drain=True)
    assert stream.read() == NEXT


def test_chunked_drain_still_checks_the_framing():
    with pytest.raises(BadFraming):
        read_body(io.BytesIO(b"5\r\nhello\r\n6\r\nworld!XX0\r\n\r\n"), CHUNKED, 10, drain=True)


def test_chunked_exactly_the_limit_is_accepted():
    assert read(b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", CHUNKED, max_bytes=10) == (b"helloworld", b"")


# -- which header decides ---------------------------------------------------------------


@pytest.mark.parametrize("content_length", ["5", "0", "abc"])
def test_transfer_encoding_and_content_length_together_are_refused(content_length):
    reason = bad(b"5\r\nhello\r\n0\r\n\r\n", [(CL, content_length), (TE, "chunked")])
    assert reason == "Both Transfer-Encoding and Content-Length are present"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("gzip", "Unsupported Transfer-Encoding: gzip"),
        ("identity", "Unsupported Transfer-Encoding: identity"),
        ("gzip, chunked", "Unsupported Transfer-Encoding: gzip, chunked"),
        ("chunked, gzip", "Transfer-Encoding chunked must be the last transfer coding"),
        ("chunked, chunked", "Transfer-Encoding chunked is applied more than once"),
        ("chunked;x=1", "Unsupported Transfer-Encoding: chunked;x=1"),
        ("xchunked", "Unsupported Transfer-Encoding: xchunked"),
        ("", "Transfer-Encoding is empty"),
    ],
)
def test_only_chunked_alone_is_supported(value, reason):
    assert bad(b"0\r\n\r\n", [(TE, value)]) == reason


def test_transfer_encoding_fields_are_joined_in_order():
    assert bad(b"0\r\n\r\n", [(TE, "chunked"), (TE, "gzip")]) == (
        "Transfer-Encoding chunked must be the last transfer coding"
    )
    assert bad(b"0\r\n\r\n", [(TE, "gzip"), (TE, "chunked")]) == (
        "Unsupported Transfer-Encoding: gzip, chunked"
    )
