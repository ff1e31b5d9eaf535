"""STScI's keyword-search workflow, run by an unmodified astroquery against the live server.

Keyword search finds FITS files by header keyword (``Mast.Jwst.Filtered.<Instrument>``);
their names lead to CAOM observations, whose products are then listed and fetched.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from skyarchive.db.tables import product_keywords, products


def _nircam_headers(demo_archive) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    query = select(products.c.productFilename, product_keywords.c.header).join_from(
        products, product_keywords
    )
    with demo_archive.engine.connect() as conn:
        headers = {name: json.loads(text) for name, text in conn.execute(query)}
    return {n: h for n, h in headers.items() if h.get("INSTRUME") == "NIRCAM" and "_gs-" not in n}


def test_keyword_search_to_observations_to_products(mast, demo_archive) -> None:  # type: ignore[no-untyped-def]
    Mast, Observations = mast.Mast, mast.Observations
    filters = [{"paramName": "exp_type", "values": ["NRC_IMAGE"]},
               {"paramName": "program", "values": ["1073"]}]  # fmt: skip
    files = Mast.service_request("Mast.Jwst.Filtered.Nircam", {"columns": "*", "filters": filters})
    headers = _nircam_headers(demo_archive)
    assert len(files) > 0
    matching = {n for n, h in headers.items()
                if h["EXP_TYPE"] == "NRC_IMAGE" and int(h["PROGRAM"]) == 1073}  # fmt: skip
    assert set(files["filename"]) <= matching
    assert set(files["productLevel"]) <= {"2a", "2b", "3"} and "3" in set(files["productLevel"])
    assert {"date_obs_mjd", "dataURI", "fileSetName", "targname"} <= set(files.colnames)

    count = Mast.service_request(
        "Mast.Jwst.Filtered.Nircam", {"columns": "COUNT_BIG(*)", "filters": filters}
    )
    assert int(count[0][0]) == len(files)

    # The notebook's step: an observation id is the file name without its last "_" part.
    obs_ids = sorted({name.rsplit("_", 1)[0] for name in files["filename"]})
    observations = Observations.query_criteria(instrument_name="NIRCAM*", obs_id=obs_ids)
    assert len(observations) > 0 and set(observations["obs_id"]) <= set(obs_ids)
    listed = Observations.get_product_list(observations[:3])
    assert set(listed["dataURI"]) & set(files["dataURI"])


def test_unknown_keyword_is_a_clear_error(mast) -> None:  # type: ignore[no-untyped-def]
    # Imported here: astroquery.mast must first be imported by the fixture, after the
    # server's address is configured.
    from astroquery.exceptions import RemoteServiceError

    with pytest.raises(RemoteServiceError, match="Unknown keyword 'filtre'.*Did you mean 'filter'"):
        mast.Mast.service_request(
            "Mast.Jwst.Filtered.Nircam",
            {"columns": "*", "filters": [{"paramName": "filtre", "values": ["F150W"]}]},
        )


def test_typed_keywords_match_in_any_case_through_astroquery(mast, demo_archive) -> None:  # type: ignore[no-untyped-def]
    # exp_type and filter are stored lower-case for their index; a client's spelling and the
    # rows' values are the header's.
    headers = _nircam_headers(demo_archive)
    some_filter = sorted({h["FILTER"] for h in headers.values() if h.get("FILTER")})[0]
    answers = []
    for exp_type, filter_ in (("NRC_IMAGE", some_filter), ("nrc_Image", some_filter.lower())):
        filters = [{"paramName": "exp_type", "values": [exp_type]},
                   {"paramName": "filter", "values": [filter_]}]  # fmt: skip
        rows = mast.Mast.service_request(
            "Mast.Jwst.Filtered.Nircam", {"columns": "filename,exp_type,filter", "filters": filters}
        )
        answers.append(sorted(zip(rows["filename"], rows["exp_type"], rows["filter"], strict=True)))
    assert answers[0] and answers[0] == answers[1]
    assert {(e, f) for _, e, f in answers[0]} == {("NRC_IMAGE", some_filter)}
    assert {n for n, _, _ in answers[0]} <= {
        n for n, h in headers.items()
        if h["EXP_TYPE"] == "NRC_IMAGE" and h.get("FILTER") == some_filter
    }  # fmt: skip
