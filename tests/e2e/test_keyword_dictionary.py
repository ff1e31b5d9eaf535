"""The JWST Keyword Dictionary through the live server: JSON API, ``Mast.Jwst.Keywords`` by an
unmodified astroquery, and the error an unknown keyword in a keyword search gets.

Expectations are read from the stdatamodels schemas themselves (the YAML the package ships), by
a walk written here, not from the server's answers.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

SUBARRAY_NIRSPEC_ONLY = "ALLSLITS"  # NIRSpec's fixed-slit subarray (JWST user documentation)
SUBARRAY_NIRCAM_ONLY = "SUBGRISM256"  # NIRCam's grism time-series subarray


def schema_files() -> list[Path]:
    spec = importlib.util.find_spec("stdatamodels")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations))) / "jwst" / "datamodels" / "schemas"
    files = sorted(root.glob("*.schema.yaml"))
    assert len(files) > 100
    return files


def schema_keywords() -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every node with a ``fits_keyword``, by (HDU, keyword)."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "fits_keyword" in node:
                key = (node.get("fits_hdu", "PRIMARY").upper(), node["fits_keyword"].upper())
                found.setdefault(key, []).append(node)
                return
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for file in schema_files():
        walk(yaml.safe_load(file.read_text()))
    return found


def test_the_api_lists_every_schema_keyword_with_hdu_title_type(live_server) -> None:  # type: ignore[no-untyped-def]
    expected = schema_keywords()
    answer = httpx.get(f"{live_server.url}/api/portal/keywords", timeout=30)
    assert answer.status_code == 200
    body = answer.json()
    assert "stdatamodels" in body["source"]
    got = {(k["hdu"], k["keyword"]): k for k in body["keywords"]}
    assert set(got) == set(expected) and body["count"] == len(expected)
    subarray = got[("PRIMARY", "SUBARRAY")]
    assert subarray["title"] == expected[("PRIMARY", "SUBARRAY")][0]["title"]
    assert subarray["type"] == "string"
    assert {SUBARRAY_NIRCAM_ONLY, SUBARRAY_NIRSPEC_ONLY} <= set(subarray["values"])
    assert "meta.subarray.name" in subarray["paths"]
    filt = got[("PRIMARY", "FILTER")]
    assert set(filt["values"]) >= set(expected[("PRIMARY", "FILTER")][0]["enum"])


def test_search_matches_names_in_any_case_and_descriptions_when_asked(live_server) -> None:  # type: ignore[no-untyped-def]
    url = f"{live_server.url}/api/portal/keywords"
    names = httpx.get(url, params={"q": "subArr"}, timeout=30).json()["keywords"]
    assert names and all("SUBARR" in k["keyword"] for k in names)
    assert "SUBARRAY" in {k["keyword"] for k in names}
    # "readout axis" is in titles only (FASTAXIS, SLOWAXIS), never in a keyword name
    titled = {key[1] for key, nodes in schema_keywords().items()
              if any("readout axis" in str(n.get("title", "")).lower() for n in nodes)}  # fmt: skip
    assert {"FASTAXIS", "SLOWAXIS"} <= titled
    plain = httpx.get(url, params={"q": "Readout Axis"}, timeout=30).json()
    assert plain["count"] == 0
    wide = httpx.get(url, params={"q": "Readout Axis", "descriptions": "true"}, timeout=30).json()
    assert {k["keyword"] for k in wide["keywords"]} == titled


def test_keywords_are_grouped_by_instrument_with_its_values_modes_and_search_links(
    live_server,
) -> None:  # type: ignore[no-untyped-def]
    url = f"{live_server.url}/api/portal/keywords"
    nircam = httpx.get(url, params={"instrument": "nircam", "q": "subarray"}, timeout=30).json()
    assert nircam["instrument"] == "NIRCam"
    subarray = next(k for k in nircam["keywords"] if k["keyword"] == "SUBARRAY")
    assert SUBARRAY_NIRCAM_ONLY in subarray["values"]
    assert SUBARRAY_NIRSPEC_ONLY not in subarray["values"]
    assert "Mast.Jwst.Filtered.NIRCam" in subarray["services"]
    modes = next(i for i in nircam["instruments"] if i["name"] == "NIRCam")["modes"]
    exp_types = [e for mode in modes for e in mode["expTypes"]]
    assert "NRC_IMAGE" in exp_types and all(e.startswith("NRC_") for e in exp_types)
    assert len(exp_types) == len(set(exp_types))  # each exposure type in one mode
    # GRATING is searched in NIRSpec's table, not NIRCam's
    assert httpx.get(url, params={"instrument": "NIRCam", "q": "grating"}).json()["count"] == 0
    nirspec = httpx.get(url, params={"instrument": "NIRSpec", "q": "grating"}).json()
    grating = next(k for k in nirspec["keywords"] if k["keyword"] == "GRATING")
    assert grating["searchColumn"] == "grating"
    assert [link["instrument"] for link in grating["searchLinks"]] == ["NIRSpec"]
    for link in grating["searchLinks"]:
        assert httpx.get(f"{live_server.url}{link['url']}").status_code == 200
    # the column each link names is one the keyword service accepts
    filters = [{"paramName": grating["searchColumn"], "values": ["PRISM"]}]
    answer = _invoke(live_server, "Mast.Jwst.Filtered.Nirspec",
                     {"columns": "COUNT_BIG(*)", "filters": filters})  # fmt: skip
    assert answer.status_code == 200 and answer.json()["status"] == "COMPLETE", answer.text


@pytest.mark.parametrize(
    "params", [{"instrument": "Hubble"}, {"q": "x" * 201}], ids=["instrument", "long-q"]
)
def test_bad_dictionary_queries_get_400_in_the_error_shape(live_server, params) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{live_server.url}/api/portal/keywords", params=params)
    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == 400 and answer.json()["error"]["message"]


def _invoke(live_server, service: str, params: dict, fmt: str = "json") -> httpx.Response:  # type: ignore[no-untyped-def]
    body = {"service": service, "format": fmt, "params": params}
    return httpx.post(
        f"{live_server.url}/api/v0/invoke", data={"request": json.dumps(body)}, timeout=30
    )


TYPOS = [("Mast.Jwst.Filtered.Nircam", "subarary", "subarray"),
         ("Mast.Jwst.Filtered.Niriss", "EXP_TYP", "exp_type"),
         ("Mast.Jwst.Filtered.Miri", "date_obs_mdj", "date_obs_mjd")]  # fmt: skip


@pytest.mark.parametrize(("service", "typo", "nearest"), TYPOS)
def test_an_unknown_keyword_in_a_filter_names_the_nearest_known_one(
    live_server, service: str, typo: str, nearest: str
) -> None:  # type: ignore[no-untyped-def]
    filters = [{"paramName": typo, "values": ["X"]}]
    # A table format cannot carry MAST's JSON status: the error's own 400 with the MAST body.
    answer = _invoke(live_server, service, {"columns": "*", "filters": filters}, fmt="csv")
    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == "ERROR"
    assert typo in body["msg"] and f"Did you mean '{nearest}'?" in body["msg"]
    # JSON: as MAST, HTTP 200 with status ERROR, so astroquery can show the message
    as_json = _invoke(live_server, service, {"columns": "*", "filters": filters})
    assert as_json.status_code == 200 and as_json.json()["msg"] == body["msg"]


def test_astroquery_shows_the_nearest_keyword(mast) -> None:  # type: ignore[no-untyped-def]
    from astroquery.exceptions import RemoteServiceError

    filters = [{"paramName": "subarary", "values": ["FULL"]}]
    with pytest.raises(RemoteServiceError, match="Did you mean 'subarray'"):
        mast.Mast.service_request("Mast.Jwst.Filtered.Nircam", {"columns": "*", "filters": filters})


def test_a_keyword_of_another_instrument_says_which_table_has_it(live_server) -> None:  # type: ignore[no-untyped-def]
    answer = _invoke(live_server, "Mast.Jwst.Filtered.Nircam", {
        "columns": "*", "filters": [{"paramName": "grating", "values": ["PRISM"]}]})  # fmt: skip
    assert answer.json()["status"] == "ERROR"
    assert "Mast.Jwst.Filtered.Nirspec" in answer.json()["msg"]


def test_an_unknown_column_asked_for_names_the_nearest_too(live_server) -> None:  # type: ignore[no-untyped-def]
    answer = _invoke(live_server, "Mast.Jwst.Filtered.Nirspec", {
        "columns": "filename, gratng", "filters": []})  # fmt: skip
    assert answer.json()["status"] == "ERROR"
    assert "Did you mean 'grating'?" in answer.json()["msg"]


def test_mast_jwst_keywords_through_astroquery(mast) -> None:  # type: ignore[no-untyped-def]
    responses = mast.Mast.service_request_async("Mast.Jwst.Keywords", {})
    body = responses[0].json()
    assert body["status"] == "COMPLETE"
    documents = {name: doc for name, doc in body.items() if name.endswith(".schema.json")}
    assert "subarray.schema.json" in documents and "core.schema.json" in documents
    subarray = documents["subarray.schema.json"]["meta.subarray.name"]
    assert subarray["fits_keyword"] == "SUBARRAY" and subarray["fits_hdu"] == "PRIMARY"
    assert SUBARRAY_NIRCAM_ONLY in subarray["enum"]
    served = {(e["fits_hdu"], e["fits_keyword"]) for d in documents.values() for e in d.values()}
    assert served == set(schema_keywords())


def test_keywords_by_instrument_and_mode(live_server) -> None:  # type: ignore[no-untyped-def]
    """A mode lists its own keywords first, then those every mode of the instrument uses."""
    url = f"{live_server.url}/api/portal/keywords"
    everything = httpx.get(url, params={"instrument": "NIRCam"}, timeout=30).json()
    modes = next(i for i in everything["instruments"] if i["name"] == "NIRCam")["modes"]
    coron = next(m for m in modes if "NRC_CORON" in m["expTypes"])
    imaging = next(m for m in modes if "NRC_IMAGE" in m["expTypes"])
    assert coron["name"] != imaging["name"]
    answer = httpx.get(url, params={"instrument": "NIRCam", "mode": coron["name"].upper()},
                       timeout=30).json()  # fmt: skip
    assert answer["mode"] == coron["name"] and answer["count"] == coron["keywords"]
    names = [k["keyword"] for k in answer["keywords"]]
    assert names[0] == "CORONMSK" and "SUBARRAY" in names
    imaging_names = {k["keyword"] for k in httpx.get(url, timeout=30, params={
        "instrument": "NIRCam", "mode": imaging["name"]}).json()["keywords"]}  # fmt: skip
    assert "CORONMSK" not in imaging_names and "SUBARRAY" in imaging_names
    assert set(imaging_names) < {k["keyword"] for k in everything["keywords"]}
    subarray = next(k for k in answer["keywords"] if k["keyword"] == "SUBARRAY")
    assert subarray["modes"] == []  # every mode
    page = httpx.get(f"{live_server.url}/keywords", params={"instrument": "NIRCam",
                     "mode": coron["name"]}, timeout=30)  # fmt: skip
    assert page.status_code == 200 and "CORONMSK" in page.text


@pytest.mark.parametrize(
    ("params", "message"),
    [({"instrument": "NIRCam", "mode": "Holography"}, "NIRCam has no mode 'Holography'"),
     ({"mode": "Imaging"}, "needs an instrument")],
)  # fmt: skip
def test_unknown_modes_are_400(live_server, params: dict, message: str) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{live_server.url}/api/portal/keywords", params=params, timeout=30)
    assert answer.status_code == 400 and message in answer.json()["error"]["message"]
