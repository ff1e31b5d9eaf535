"""Keyword filters in, CAOM observations out: ``Skyarchive.Jwst.Filtered.Observations``
called by an unmodified astroquery against the live server.

The expected observations come from another route: the files the keyword service
(``Mast.Jwst.Filtered.<table>``) lists, and the owner of each file read from the catalogue.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from skyarchive.db.tables import products
from tests.e2e.callers import create_callers, headers_for

SERVICE = "Skyarchive.Jwst.Filtered.Observations"


def owners_of(demo_archive, names) -> set[str]:  # type: ignore[no-untyped-def]
    query = select(products.c.owner_obsid).where(products.c.productFilename.in_(list(names)))
    with demo_archive.engine.connect() as conn:
        return {str(obsid) for obsid in conn.scalars(query) if obsid is not None}


def test_keyword_filters_find_the_observations_owning_the_files(mast, demo_archive) -> None:  # type: ignore[no-untyped-def]
    Mast, Observations = mast.Mast, mast.Observations
    filters = [{"paramName": "exp_type", "values": ["NIS_SOSS"]},
               {"paramName": "tsovisit", "values": ["T"]}]  # fmt: skip
    files = Mast.service_request("Mast.Jwst.Filtered.Niriss", {"columns": "*", "filters": filters})
    assert len(files) > 0
    expected = owners_of(demo_archive, files["filename"])

    found = Mast.service_request(SERVICE, {"table": "Niriss", "filters": filters, "columns": "*"})
    assert {str(obsid) for obsid in found["obsid"]} == expected
    assert set(found["instrument_name"]) <= {"NIRISS", "NIRISS/SOSS"}
    assert {"obs_id", "dataRights", "s_ra", "t_exptime"} <= set(found.colnames)

    count = Mast.service_request(
        SERVICE, {"table": "niriss", "filters": filters, "columns": "COUNT_BIG(*)"}
    )
    assert int(count[0][0]) == len(expected)
    chosen = Mast.service_request(
        SERVICE, {"table": "Niriss", "filters": filters, "columns": "obsid,obs_id"}
    )
    assert chosen.colnames == ["obsid", "obs_id"] and len(chosen) == len(expected)

    listed = Observations.get_product_list(found)
    assert set(files["dataURI"]) <= set(listed["dataURI"])


def test_paging_walks_the_same_rows(mast) -> None:  # type: ignore[no-untyped-def]
    Mast = mast.Mast
    params = {"table": "Nircam", "filters": [{"paramName": "program", "values": ["1073"]}]}
    everything = Mast.service_request(SERVICE, params)
    assert len(everything) >= 3
    second = Mast.service_request(SERVICE, params, pagesize=2, page=2)
    assert list(second["obsid"]) == list(everything["obsid"][2:4])


def test_exclusive_access_observations_are_listed_but_their_files_refused(  # type: ignore[no-untyped-def]
    mast, demo_archive, live_server
) -> None:
    Mast, Observations = mast.Mast, mast.Observations
    filters = [{"paramName": "program", "values": ["4567"]}]
    found = Mast.service_request(SERVICE, {"table": "Miri", "filters": filters})
    assert len(found) > 0 and set(found["dataRights"]) == {"EXCLUSIVE_ACCESS"}
    listed = Observations.get_product_list(found)
    fits = [uri for uri in listed["dataURI"] if str(uri).endswith(".fits")]
    assert fits

    callers = create_callers(demo_archive.engine, "4567")
    url = f"{live_server.url}/api/v0.1/Download/file"
    for who, status in (("anonymous", 401), ("other", 403), ("coi", 200)):
        answer = httpx.get(url, params={"uri": fits[0]}, headers=headers_for(callers, who),
                           timeout=30)  # fmt: skip
        assert answer.status_code == status, (who, answer.text[:200])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"table": "Niriss", "filters": [{"paramName": "exptype", "values": ["NIS_SOSS"]}]},
         "Unknown keyword 'exptype'.*Did you mean 'exp_type'"),
        ({"table": "Nircom", "filters": []}, "'Nircom' is not a keyword table.*Nircam"),
        ({"filters": []}, "is not a keyword table"),
        ({"table": "Nircam", "columns": "obs_idd"}, "Unknown column 'obs_idd'"),
    ],
)  # fmt: skip
def test_bad_requests_are_clear_errors(mast, params: dict, message: str) -> None:  # type: ignore[no-untyped-def]
    from astroquery.exceptions import RemoteServiceError

    with pytest.raises(RemoteServiceError, match=message):
        mast.Mast.service_request(SERVICE, params)
