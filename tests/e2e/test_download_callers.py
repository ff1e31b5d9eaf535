"""``Download/file`` for every kind of caller on both databases: the caller's look-up (one
statement for a token or a portal session, on ``Archive.lookup_engine``, autocommit on
PostgreSQL) gives each the status the one access rule says, and the bytes of the file to those
it lets in; a token's last use is recorded when it decides the answer."""

from __future__ import annotations

import hashlib
import time

import httpx
from sqlalchemy import select

from skyarchive.access import grants, sessions, tokens
from skyarchive.access.rights import now_mjd
from skyarchive.access.sessions import SESSION_COOKIE
from skyarchive.archive import Archive
from skyarchive.db.tables import observations, products
from tests.e2e.callers import EXPECTED, PASSWORD, Callers, create_callers, headers_for
from tests.e2e.conftest import LiveServer


def _files(archive: Archive, program: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """(data URI, sha256) of one exclusive file of ``program`` and of one public file."""
    owner = observations.alias("owner")
    base = select(products.c.dataURI, products.c.sha256).join(
        owner, owner.c.obsid == products.c.owner_obsid
    )
    with archive.engine.connect() as conn:
        exclusive = conn.execute(
            base.where(products.c.proposal_id == program, owner.c.t_obs_release > now_mjd())
            .order_by(products.c.size)
            .limit(1)
        ).one()
        public = conn.execute(
            base.where(owner.c.t_obs_release < now_mjd()).order_by(products.c.size).limit(1)
        ).one()
    return (exclusive[0], exclusive[1]), (public[0], public[1])


def test_every_caller_gets_what_the_access_rule_says_on_both_databases(
    demo_archive_copy: Archive,
) -> None:
    archive = demo_archive_copy
    callers = create_callers(archive.engine, "4567")
    (eap_uri, eap_sha), (public_uri, public_sha) = _files(archive, "4567")
    with LiveServer(archive) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        for _ in range(2):  # the second time over connections the pool already holds
            for who, status in EXPECTED.items():
                for style in ("token", "cookie"):
                    headers = headers_for(callers, who, style)
                    answer = client.get("/api/v0.1/Download/file", params={"uri": eap_uri},
                                        headers=headers)  # fmt: skip
                    assert answer.status_code == status, (who, style, answer.text)
                    if status == 200:
                        assert hashlib.sha256(answer.content).hexdigest() == eap_sha
                    else:
                        assert eap_sha not in answer.text
                    public = client.get("/api/v0.1/Download/file", params={"uri": public_uri},
                                        headers=headers)  # fmt: skip
                    assert public.status_code == 200, (who, style, public.text)
                    assert hashlib.sha256(public.content).hexdigest() == public_sha
        # a grant or a revocation takes effect on the next request (no kept caller)
        with archive.engine.begin() as conn:
            grants.revoke(conn, "4567", user_id=callers.user_ids["coi"])
        denied = client.get("/api/v0.1/Download/file", params={"uri": eap_uri},
                            headers=headers_for(callers, "coi"))  # fmt: skip
        assert denied.status_code == 403
        with archive.engine.begin() as conn:
            grants.grant(conn, "4567", user_id=callers.user_ids["other"], granted_by=None)
        allowed = client.get("/api/v0.1/Download/file", params={"uri": eap_uri},
                             headers=headers_for(callers, "other"))  # fmt: skip
        assert allowed.status_code == 200


def _log_in(browser: httpx.Client, email: str) -> None:
    """Log in through the portal's form, as a browser does (the session cookie is kept)."""
    page = browser.get("/login").text
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    answer = browser.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf})
    assert answer.status_code in (200, 303), answer.text
    assert browser.cookies.get(SESSION_COOKIE)


def test_portal_sessions_get_what_the_access_rule_says_on_both_databases(
    demo_archive_copy: Archive,
) -> None:
    """A logged-in portal user downloads with the session cookie alone: the session's caller
    is read with the file's row, and the one rule answers as for the same user's token."""
    archive = demo_archive_copy
    callers = create_callers(archive.engine, "4567")
    (eap_uri, eap_sha), (public_uri, public_sha) = _files(archive, "4567")
    with LiveServer(archive) as server:
        for who in ("other", "coi", "pi", "admin"):
            with httpx.Client(base_url=server.url, timeout=60) as browser:
                _log_in(browser, callers.emails[who])
                for _ in range(2):  # the second time the session's last visit is recent
                    answer = browser.get("/api/v0.1/Download/file", params={"uri": eap_uri})
                    assert answer.status_code == EXPECTED[who], (who, answer.text)
                    if answer.status_code == 200:
                        assert hashlib.sha256(answer.content).hexdigest() == eap_sha
                    else:
                        assert eap_sha not in answer.text
                    public = browser.get("/api/v0.1/Download/file", params={"uri": public_uri})
                    assert public.status_code == 200, (who, public.text)
                    assert hashlib.sha256(public.content).hexdigest() == public_sha
        with httpx.Client(base_url=server.url, timeout=60) as browser:
            _log_in(browser, callers.emails["pi"])
            # a token presented beside the session decides (an outsider's here)
            outsider = browser.get("/api/v0.1/Download/file", params={"uri": eap_uri},
                                   headers=headers_for(callers, "other"))  # fmt: skip
            assert outsider.status_code == 403
            # an ended session (logged out elsewhere) is nobody: 401, public files still 200
            with archive.engine.begin() as conn:
                sessions.end_all_sessions(conn, callers.user_ids["pi"])
            ended = browser.get("/api/v0.1/Download/file", params={"uri": eap_uri})
            assert ended.status_code == 401
            assert browser.get("/api/v0.1/Download/file", params={"uri": public_uri}).is_success
        with httpx.Client(base_url=server.url, timeout=60) as stranger:
            stranger.cookies.set(SESSION_COOKIE, "forged-" + "x" * 40)
            forged = stranger.get("/api/v0.1/Download/file", params={"uri": eap_uri})
            assert forged.status_code == 401


def _last_used(archive: Archive, callers: Callers, who: str) -> float | None:
    with archive.engine.connect() as conn:
        (token,) = tokens.list_tokens(conn, user_id=callers.user_ids[who])
    return token.last_used_at


def test_a_token_records_its_use_when_it_decides_the_answer(demo_archive_copy: Archive) -> None:
    """docs/security.md: a token's last use is recorded (at most once a minute) whenever the
    archive judges it, allowed (200) or refused for lack of rights (403); an expired or
    revoked token records nothing, and a public file, whose answer does not depend on who
    asks, does not look the token up."""
    archive = demo_archive_copy
    callers = create_callers(archive.engine, "4567")
    (eap_uri, _sha), (public_uri, _public_sha) = _files(archive, "4567")
    with LiveServer(archive) as server, httpx.Client(base_url=server.url, timeout=60) as client:

        def fetch(who: str, uri: str) -> int:
            answer = client.get("/api/v0.1/Download/file", params={"uri": uri},
                                headers=headers_for(callers, who))  # fmt: skip
            return answer.status_code

        assert fetch("pi", public_uri) == 200
        assert _last_used(archive, callers, "pi") is None
        before = time.time()
        assert fetch("pi", eap_uri) == 200
        assert fetch("other", eap_uri) == 403
        for who in ("pi", "other"):
            last_used = _last_used(archive, callers, who)
            assert last_used is not None and last_used >= before - 1, who
        for who in ("expired", "revoked"):
            assert fetch(who, eap_uri) == 401
            assert _last_used(archive, callers, who) is None, who
