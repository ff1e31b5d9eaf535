"""Lists of download URLs (basket and MAST API) hold the files the cURL script fetches, for every
kind of caller, and each URL downloads its file."""

from __future__ import annotations

import hashlib
import shlex
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from sqlalchemy import select

from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import observations, products
from tests.e2e.callers import EXPECTED, Callers, create_callers, headers_for


@pytest.fixture(scope="module")
def callers(demo_archive) -> Callers:  # type: ignore[no-untyped-def]
    return create_callers(demo_archive.engine, "4567")


@pytest.fixture(scope="module")
def chosen(demo_archive) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """One exclusive-access observation of program 4567 and one public observation, each with
    its files (data URI -> SHA-256) as the catalogue holds them."""
    now = now_mjd()
    with demo_archive.engine.connect() as conn:

        def pick(*where):  # type: ignore[no-untyped-def]
            return conn.scalar(select(observations.c.obsid).where(
                observations.c.status == "executed", observations.c.calib_level == 3, *where
            ).order_by(observations.c.obsid).limit(1))  # fmt: skip

        eap = pick(observations.c.proposal_id == "4567", observations.c.t_obs_release > now)
        public = pick(observations.c.proposal_id == "1073", observations.c.t_obs_release < now)
        out = {}
        for name, obsid in (("eap", eap), ("public", public)):
            rows = conn.execute(
                select(products.c.dataURI, products.c.sha256).where(
                    products.c.owner_obsid == obsid
                )  # fmt: skip
            ).all()
            assert rows, name
            out[name] = {"obsid": str(obsid), **{uri: sha for uri, sha in rows}}
    return out


def _listed(text: str) -> tuple[dict[str, str], list[str]]:
    """(data URI -> its URL line, comment lines) of a list; no data URI is listed twice."""
    urls, notes = {}, []
    for line in text.splitlines():
        if line.startswith("#"):
            notes.append(line)
        elif line.strip():
            uri = parse_qs(urlsplit(line).query)["uri"][0]
            assert uri not in urls, f"{uri} listed twice"
            urls[uri] = line
    return urls, notes


def _fetched(script: str) -> dict[str, bool]:
    """data URI -> restricted flag of each ``fetch`` line of a cURL script."""
    out = {}
    for line in script.splitlines():
        if line.startswith("fetch "):
            words = shlex.split(line)
            out[unquote(words[1])] = words[-1] == "1"
    return out


def _files(chosen: dict[str, dict[str, str]], name: str) -> set[str]:
    return {uri for uri in chosen[name] if uri != "obsid"}


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_basket_url_list_holds_what_the_caller_may_download(  # type: ignore[no-untyped-def]
    live_server, callers: Callers, chosen, who: str
) -> None:
    allowed = EXPECTED[who] == 200
    headers = headers_for(callers, who)
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=60) as client:
        client.delete("/api/portal/basket")  # a signed-in caller's basket outlives the test
        both = [chosen["eap"]["obsid"], chosen["public"]["obsid"]]
        added = client.post("/api/portal/basket/observations", json={"obsids": both})
        assert added.status_code == 200, added.text
        tree = client.get("/api/portal/basket").json()["tree"][0]["observations"]
        files = [c for o in tree for c in o["children"]]
        # every file of the basket asked for by id, the locked ones too (a script could)
        every = {"method": "urls", "product_ids": [c["product_id"] for c in files]}
        made = client.post("/api/portal/basket/deliveries", json=every)
        assert made.status_code == 201, made.text
        info = made.json()
        answer = client.get(info["download_url"])
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/uri-list")
        assert "attachment" in answer.headers["content-disposition"]
        assert ".txt" in answer.headers["content-disposition"]
        uris, notes = _listed(answer.text)
        assert set(uris) == {c["dataURI"] for c in files if c["may_retrieve"]}
        assert _files(chosen, "public") <= set(uris)
        if allowed:
            assert _files(chosen, "eap") <= set(uris)
        else:  # nothing of the exclusive program, each of its files a note instead
            assert not any("jw04567" in uri for uri in uris)
        left_out = [n for n in notes if n.startswith("# not included")]
        assert len(left_out) == sum(1 for c in files if not c["may_retrieve"])
        assert bool(left_out) is not allowed
        assert info["files_total"] == len(uris)
        # the cURL script of the same basket fetches the same files
        curl = client.post("/api/portal/basket/deliveries", json={**every, "method": "curl"}).json()
        assert set(_fetched(client.get(curl["download_url"]).text)) == set(uris)
        for token in callers.tokens.values():
            assert token not in answer.text
        # every URL of the list downloads its file, with the caller's own credentials
        checksums = {**chosen["public"], **chosen["eap"]}
        known = [u for u in sorted(uris) if u in checksums]
        for uri in known[:3] + [u for u in known if u in chosen["eap"]][:1]:
            got = client.get(uris[uri])
            assert got.status_code == 200, (uri, got.text[:200])
            assert hashlib.sha256(got.content).hexdigest() == checksums[uri]
        client.delete("/api/portal/basket")


@pytest.mark.parametrize("who", ["anonymous", "other", "coi", "pi", "admin"])
def test_api_url_list_notes_files_that_need_a_token(  # type: ignore[no-untyped-def]
    live_server, callers: Callers, chosen, who: str
) -> None:
    """As the MAST API's cURL script: every selected file listed, exclusive-access ones the caller
    may not read yet with a note above them saying a token is needed."""
    allowed = EXPECTED[who] == 200
    selection = {"obsid": [chosen["eap"]["obsid"], chosen["public"]["obsid"]]}
    answer = httpx.post(f"{live_server.url}/api/v0.1/Download/urls", data=selection,
                        headers=headers_for(callers, who), timeout=60)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/uri-list")
    lines = answer.text.splitlines()
    uris, _ = _listed(answer.text)
    assert _files(chosen, "eap") | _files(chosen, "public") <= set(uris)
    script = httpx.post(f"{live_server.url}/api/v0.1/Download/bundle.sh", data=selection,
                        headers=headers_for(callers, who), timeout=60).text  # fmt: skip
    fetched = _fetched(script)
    assert set(fetched) == set(uris)
    for index, line in enumerate(lines):
        if line.startswith("#") or not line:
            continue
        uri = parse_qs(urlsplit(line).query)["uri"][0]
        noted = lines[index - 1].startswith("# exclusive access")
        assert noted is fetched[uri], line  # a note exactly where the script asks for a token
        if uri in chosen["eap"]:
            assert noted is not allowed, line
        if uri in chosen["public"]:
            assert not noted, line
    assert any(lines[i - 1].startswith("# exclusive") for i in range(1, len(lines))) is not allowed


def test_url_list_of_nothing_is_refused(live_server) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.post(f"{live_server.url}/api/v0.1/Download/urls", data={}, timeout=30)
    assert answer.status_code == 400
    assert "Select something" in answer.json()["error"]["message"]
