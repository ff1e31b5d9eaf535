"""Exclusive access holds on every path a file can leave by, for every kind of caller."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from skyarchive.access import tokens, users
from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import api_tokens, observations, products
from tests.e2e.callers import EXPECTED, PASSWORD, Callers, create_callers, headers_for


@dataclass
class People(Callers):
    eap_uri: str
    eap_preview_uri: str | None
    public_uri: str


@pytest.fixture(scope="module")
def people(demo_archive) -> People:  # type: ignore[no-untyped-def]
    callers = create_callers(demo_archive.engine, "4567")
    with demo_archive.engine.connect() as conn:
        owner = observations.alias("owner")
        eap = (
            select(products.c.dataURI, products.c.productType)
            .join(owner, owner.c.obsid == products.c.owner_obsid)
            .where(products.c.proposal_id == "4567", owner.c.t_obs_release > now_mjd())
        )
        rows = conn.execute(eap).all()
        public_uri = conn.execute(
            select(products.c.dataURI)
            .join(owner, owner.c.obsid == products.c.owner_obsid)
            .where(owner.c.t_obs_release < now_mjd())
            .limit(1)
        ).scalar_one()
    science = next(uri for uri, kind in rows if kind == "SCIENCE")
    preview = next((uri for uri, kind in rows if kind == "PREVIEW"), None)
    return People(callers.tokens, callers.emails, callers.user_ids, science, preview, public_uri)


def portal_login(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    """Log in through the form as a browser does; returns the login answer."""
    csrf = form_csrf(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf})


def form_csrf(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]


@pytest.mark.parametrize("who", sorted(EXPECTED))
@pytest.mark.parametrize("style", ["token", "bearer", "cookie"])
def test_single_file_paths(live_server, people: People, who: str, style: str) -> None:  # type: ignore[no-untyped-def]
    url = f"{live_server.url}/api/v0.1/Download/file"
    headers = headers_for(people, who, style)
    expected = EXPECTED[who]
    for method, extra in (("HEAD", {}), ("GET", {}), ("GET", {"Range": "bytes=0-99"})):
        response = httpx.request(
            method, url, params={"uri": people.eap_uri}, headers={**headers, **extra}, timeout=30
        )
        wanted = 206 if expected == 200 and "Range" in extra else expected
        assert response.status_code == wanted, (method, extra, response.text[:200])
        if expected != 200:
            assert b"SIMPLE" not in response.content  # no byte of the FITS file
            if method == "GET":
                message = response.json()["error"]["message"]
                assert "exclusive-access" in message
                assert people.tokens.get(who, "not-a-token!") not in message


def test_previews_of_exclusive_data_follow_the_same_rule(live_server, people: People) -> None:  # type: ignore[no-untyped-def]
    if people.eap_preview_uri is None:
        pytest.fail("the demo program 4567 should have preview images")
    url = f"{live_server.url}/api/v0.1/Download/file"
    anonymous = httpx.get(url, params={"uri": people.eap_preview_uri}, timeout=30)
    assert anonymous.status_code == 401
    pi = httpx.get(
        url, params={"uri": people.eap_preview_uri}, headers=headers_for(people, "pi"), timeout=30
    )
    assert pi.status_code == 200 and pi.content[:2] == b"\xff\xd8"


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_details_link_the_preview_only_for_callers_who_may_have_it(  # type: ignore[no-untyped-def]
    live_server, demo_archive, people: People, who: str
) -> None:
    """The details panel asks only for a preview the caller may see (no 401/403 in the console)."""
    with demo_archive.engine.connect() as conn:
        obsid = conn.execute(
            select(observations.c.obsid).where(observations.c.jpegURL == people.eap_preview_uri)
        ).scalar_one()
    headers = headers_for(people, who)
    details = httpx.get(
        f"{live_server.url}/api/portal/observations/{obsid}", headers=headers, timeout=30
    ).json()
    allowed = EXPECTED[who] == 200
    assert details["mayRetrieve"] is allowed
    assert details["previewRestricted"] is not allowed
    if allowed:
        image = httpx.get(live_server.url + details["links"]["preview"], headers=headers)
        assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"
    else:
        assert details["links"]["preview"] is None
        # and the server would have refused it
        refused = httpx.get(
            f"{live_server.url}/api/v0.1/Download/file",
            params={"uri": people.eap_preview_uri}, headers=headers, timeout=30,
        )  # fmt: skip
        assert refused.status_code == EXPECTED[who]


@pytest.mark.parametrize("who", ["anonymous", "other", "pi"])
def test_curl_script_only_marks_readable_files(live_server, people: People, who: str) -> None:  # type: ignore[no-untyped-def]
    script = httpx.post(
        f"{live_server.url}/api/v0.1/Download/bundle.sh",
        data={"uri": [people.eap_uri, people.public_uri]},
        headers=headers_for(people, who),
        timeout=30,
    ).text
    eap_line = next(
        line
        for line in script.splitlines()
        if line.startswith("fetch ") and people.eap_uri.split("/")[-1] in line
    )
    assert eap_line.rstrip().endswith(" 0" if who == "pi" else " 1")
    assert "MAST_API_TOKEN" in script
    for token in people.tokens.values():
        assert token not in script


def test_astroquery_login_session_and_downloads(mast, people: People, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from astroquery.exceptions import LoginError

    Observations = mast.Observations
    obs = Observations.query_criteria(proposal_id="4567", calib_level=[2, 3])
    listed = Observations.get_product_list(obs[0])
    science = Observations.filter_products(listed, productType="SCIENCE")[:2]
    try:
        Observations.login(token=people.tokens["pi"])
        info = Observations.session_info(verbose=False)
        assert info["anon"] is False and info["attrib"]["display_name"] == "Pi Person"
        manifest = Observations.download_products(science, download_dir=str(tmp_path / "pi"))
        assert set(manifest["Status"]) == {"COMPLETE"}
    finally:
        Observations.logout()
    assert Observations.session_info(verbose=False)["anon"] is True
    denied = Observations.download_products(science, download_dir=str(tmp_path / "anon"))
    assert set(denied["Status"]) == {"ERROR"}

    for who in ("expired", "revoked", "malformed"):
        token = "not-a-token!" if who == "malformed" else people.tokens[who]
        with pytest.raises(LoginError):
            Observations.login(token=token)
        Observations.logout()
    try:
        Observations.login(token=people.tokens["other"])
        other = Observations.download_products(science, download_dir=str(tmp_path / "other"))
        assert set(other["Status"]) == {"ERROR"} and "403" in other["Message"][0]
    finally:
        Observations.logout()


def test_secrets_never_reach_logs_or_errors(live_server, people: People, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    for token in (people.tokens["expired"], people.tokens["other"]):
        response = httpx.get(
            f"{live_server.url}/api/v0.1/Download/file",
            params={"uri": people.eap_uri},
            headers={"Authorization": f"token {token}"},
            timeout=30,
        )
        assert token not in response.text
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        page = client.get("/login")
        csrf = form_csrf(page.text)
        failed = client.post(
            "/login",
            data={"email": people.emails["pi"], "password": "wrong one!!", "csrf_token": csrf},
        )
        assert "wrong one" not in failed.text
    everything = caplog.text
    for secret in (*people.tokens.values(), PASSWORD, "wrong one!!"):
        assert secret not in everything


def test_login_does_not_reveal_which_emails_exist(live_server, people: People) -> None:  # type: ignore[no-untyped-def]
    answers = []
    for email in (people.emails["coi"], "nobody-at-all@example.org"):
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            response = portal_login(client, email, "wrong password!")
            answers.append((response.status_code, response.text.split('role="alert">')[1][:80]))
    assert answers[0] == answers[1]


def test_forms_need_their_csrf_token(live_server, people: People) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        csrf = form_csrf(client.get("/login").text)
        assert (
            client.post(
                "/login",
                data={"email": people.emails["pi"], "password": PASSWORD, "csrf_token": "forged"},
            ).status_code
            == 403
        )
        ok = client.post(
            "/login", data={"email": people.emails["pi"], "password": PASSWORD, "csrf_token": csrf}
        )
        assert ok.status_code == 303 or ok.url.path == "/account"
        forged = client.post(
            "/account/tokens", data={"name": "x", "days": "5", "csrf_token": "forged"}
        )
        assert forged.status_code == 403


def test_users_cannot_touch_each_others_tokens_or_programs(
    live_server, demo_archive, people: People
) -> None:  # type: ignore[no-untyped-def]
    with demo_archive.engine.connect() as conn:
        pi_token_id = conn.execute(
            select(api_tokens.c.token_id).where(
                api_tokens.c.token_hash == tokens.token_hash(people.tokens["pi"])
            )
        ).scalar_one()
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        portal_login(client, people.emails["other"])
        account = client.get("/account")
        assert (
            people.emails["other"] in account.text and people.tokens["pi"][:8] not in account.text
        )
        session_csrf = form_csrf(account.text)
        steal = client.post(
            f"/account/tokens/{pi_token_id}/revoke", data={"csrf_token": session_csrf}
        )
        assert steal.status_code == 404
        program = client.get("/account/programs/4567")
        assert program.status_code == 403
        grant = client.post(
            "/account/programs/4567/grant",
            data={"email": people.emails["other"], "csrf_token": session_csrf},
        )
        assert grant.status_code == 403
    with demo_archive.engine.connect() as conn:
        assert tokens.user_for_token(conn, people.tokens["pi"])  # still valid


def test_pi_authorises_a_colleague_on_the_portal(live_server, demo_archive, people: People) -> None:  # type: ignore[no-untyped-def]
    url = f"{live_server.url}/api/v0.1/Download/file"
    other = headers_for(people, "other")
    assert httpx.get(url, params={"uri": people.eap_uri}, headers=other).status_code == 403
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        portal_login(client, people.emails["pi"])
        page = client.get("/account/programs/4567")
        assert page.status_code == 200 and people.emails["coi"] in page.text
        session_csrf = form_csrf(page.text)
        client.post(
            "/account/programs/4567/grant",
            data={"email": people.emails["other"], "csrf_token": session_csrf},
        )
        assert httpx.get(url, params={"uri": people.eap_uri}, headers=other).status_code == 200
        with demo_archive.engine.connect() as conn:
            other_id = users.find_user(conn, people.emails["other"]).user_id
        client.post(f"/account/programs/4567/revoke/{other_id}", data={"csrf_token": session_csrf})
    assert httpx.get(url, params={"uri": people.eap_uri}, headers=other).status_code == 403


SEARCH_COLUMNS = [
    "target_name",
    "instrument_name",
    "obs_id",
    "proposal_id",
    "filters",
    "calib_level",
    "t_min",
    "dataRights",
    "obsid",
]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    column=st.sampled_from(SEARCH_COLUMNS),
    value=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
    | st.sampled_from(
        ["' OR 1=1 --", '"; DROP TABLE products;', "%' UNION SELECT * FROM users --", "\\x00"]
    ),
)
def test_injection_attempts_are_clean_errors_or_correct_empties(
    live_server, demo_archive, column, value
) -> None:  # type: ignore[no-untyped-def]
    import json

    before = _row_counts(demo_archive)
    body = {
        "service": "Mast.Caom.Filtered",
        "format": "json",
        "pagesize": 100,
        "page": 1,
        "params": {"columns": "*", "filters": [{"paramName": column, "values": [value]}]},
    }
    response = httpx.post(
        f"{live_server.url}/api/v0/invoke", data={"request": json.dumps(body)}, timeout=30
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] in ("COMPLETE", "ERROR")
    if answer["status"] == "COMPLETE":
        pieces = [p for p in re.split(r"[*%]", value.strip().lower()) if p]
        for row in answer["data"]:  # whatever matched really holds the value's literal parts
            if column not in ("calib_level", "t_min", "obsid"):
                assert all(piece in str(row[column]).lower() for piece in pieces), row[column]
    assert _row_counts(demo_archive) == before


def _row_counts(archive) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with archive.engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(observations)).scalar_one(),
            conn.execute(select(func.count()).select_from(products)).scalar_one(),
        )


def test_admin_changes_release_period_on_the_portal(
    live_server, demo_archive, people: People
) -> None:  # type: ignore[no-untyped-def]
    url = f"{live_server.url}/api/v0.1/Download/file"
    assert httpx.get(url, params={"uri": people.eap_uri}).status_code == 401
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        portal_login(client, people.emails["admin"])
        page = client.get("/account/programs/4567")
        session_csrf = form_csrf(page.text)
        owner = observations.alias("owner")
        with demo_archive.engine.connect() as conn:
            exclusive_files = conn.scalar(
                select(func.count())
                .select_from(products.join(owner, owner.c.obsid == products.c.owner_obsid))
                .where(owner.c.proposal_id == "4567", owner.c.t_obs_release > now_mjd())
            )
        assert exclusive_files > 0
        # the form says what the change did, as `skyarchive program set-eap` does
        for months, expected, opened in (("0", 200, exclusive_files), ("", 401, 0)):
            saved = client.post(
                "/account/programs/4567/settings",
                data={"pi_email": "", "eap_months": months, "csrf_token": session_csrf},
            )
            assert saved.status_code == 303
            assert httpx.get(url, params={"uri": people.eap_uri}).status_code == expected
            shown = client.get(saved.headers["location"])
            said = re.search(r'role="status">([^<]*)<', shown.text)
            assert said is not None, shown.text
            assert said[1].startswith(f"Saved: {opened} file"), said[1]
            assert "became public" in said[1]
