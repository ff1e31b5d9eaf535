"""Publisher DIDs round-trip, and an ID that is not one of our products is a clear 400."""

import pytest

from skyarchive.errors import BadQuery
from skyarchive.vo.identifiers import datalink_url, filename_from_id, publisher_did

AUTHORITY = "archive.example.org"


def test_a_publisher_did_names_its_file_back() -> None:
    did = publisher_did(AUTHORITY, "jw02736001001_02101_00001_nrcb1_i2d.fits")
    assert did.startswith(f"ivo://{AUTHORITY}/")
    assert filename_from_id(AUTHORITY, did) == "jw02736001001_02101_00001_nrcb1_i2d.fits"


def test_the_did_prefix_compares_without_case_but_the_file_keeps_its_case() -> None:
    did = publisher_did(AUTHORITY, "Mixed_Case.fits")
    shouted = did.replace("ivo://archive.example.org/jwst", "IVO://ARCHIVE.EXAMPLE.ORG/JWST")
    assert filename_from_id(AUTHORITY, shouted) == "Mixed_Case.fits"


def test_a_mast_uri_is_accepted_where_a_did_is() -> None:
    assert filename_from_id(AUTHORITY, "mast:JWST/product/jw1_cal.fits") == "jw1_cal.fits"


@pytest.mark.parametrize(
    "identifier",
    [
        "ivo://other.authority/jwst?jw1_cal.fits",
        "jw1_cal.fits",
        f"ivo://{AUTHORITY}/jwst?",
        f"ivo://{AUTHORITY}/jwst?../../etc/passwd",
        f"ivo://{AUTHORITY}/jwst?a%2Fb.fits",
        "mast:JWST/product/bad\x00name.fits",
        "mast:JWST/product/" + "x" * 300,
    ],
)
def test_anything_else_is_a_bad_query_that_says_what_an_id_looks_like(identifier: str) -> None:
    with pytest.raises(BadQuery):
        filename_from_id(AUTHORITY, identifier)


def test_the_datalink_url_carries_the_did_encoded() -> None:
    did = publisher_did(AUTHORITY, "jw1_cal.fits")
    url = datalink_url("http://127.0.0.1:8000/", did)
    assert url.startswith("http://127.0.0.1:8000/vo/datalink/links?ID=ivo%3A%2F%2F")
