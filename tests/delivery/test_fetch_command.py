"""The wget line of a staging request: one shell word for the location, token header only
when asked for."""

from __future__ import annotations

import shlex

import pytest

from skyarchive.delivery.requests import fetch_command


@pytest.mark.parametrize(
    "location",
    ["http://127.0.0.1:8000/staging/abc/", "http://x$(touch pwned);y/staging/a/",
     "http://h/staging/it's/", "http://h/`id`/staging/a b/"],
)  # fmt: skip
@pytest.mark.parametrize("token", [True, False])
def test_the_location_stays_one_word(location: str, token: bool) -> None:
    words = shlex.split(fetch_command(location, token=token))
    assert words[0] == "wget" and words[-1] == location
    header = "Authorization: token $MAST_API_TOKEN"
    assert (words[1:3] == ["--header", header]) is token
    assert len(words) == (10 if token else 8)
