"""form_field reads the url-encoded field as parse_qs does, whichever path it takes."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from skyarchive.api.request_body import form_field


def _reference(body: bytes, name: str = "request") -> str | None:
    return parse_qs(body.decode("utf-8", "replace")).get(name, [None])[0]


def test_astroquerys_body_is_decoded_to_the_request_it_encodes() -> None:
    filters = [
        {"paramName": "target_name", "values": ["M 57 & NGC+ 100%"]},
        {"paramName": "t_exptime", "values": [{"min": 1, "max": 2}]},
    ]
    request = {"service": "Mast.Caom.Filtered", "format": "json", "params": {"filters": filters}}
    body = urlencode({"request": json.dumps(request)}).encode()
    assert json.loads(form_field(body, "request") or "") == request


@settings(max_examples=400, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_any_encoded_text_reads_back(text: str) -> None:
    body = urlencode({"request": text}).encode()
    assert form_field(body, "request") == _reference(body)


# Bodies no client should send: lone or odd escapes, raw line breaks, '=', '&', '+', bytes
# beyond ASCII, other fields first, the field twice, an empty value.
_PIECES = ["request=", "%", "%2", "%zz", "%41", "%e9", "%C3%A9", "%FF", "+", "=", "&", "\n",
           "\r\n", "a", "Z", "9", " ", "other=1&", "é", "\t"]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12))
def test_odd_bodies_read_as_parse_qs_reads_them(pieces: list[str]) -> None:
    for prefix in ("request=", ""):
        body = (prefix + "".join(pieces)).encode("utf-8")
        assert form_field(body, "request") == _reference(body)


def test_invalid_utf8_in_raw_and_escaped_bytes_reads_as_parse_qs() -> None:
    for body in (b"request=%C3", b"request=%C3%28", b"request=\xc3%A9", b"request=a%E2%82"):
        assert form_field(body, "request") == _reference(body)
