"""Accounts, tokens and grants as services, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text, update

from skyarchive.access import grants, login_throttle, password_resets, sessions, tokens, users
from skyarchive.access.caller import caller_from_credentials, token_from_headers
from skyarchive.access.policy import ANONYMOUS, Caller, check_retrieval, may_retrieve
from skyarchive.archive import Archive
from skyarchive.db.tables import api_tokens, programs
from skyarchive.errors import BadQuery, Forbidden, NotFound, Unauthorized
from skyarchive.ingest import release

NOW = 61000.0


def test_users_passwords_and_disabling(archive: Archive) -> None:
    with archive.engine.begin() as conn:
        alice = users.create_user(conn, email="Alice@Example.org", display_name="Alice",
                                  password="correct horse battery")  # fmt: skip
        assert alice.email == "alice@example.org"
        with pytest.raises(BadQuery, match="already exists"):
            users.create_user(conn, email="alice@example.org", password="another password")
        with pytest.raises(BadQuery, match="10 characters"):
            users.create_user(conn, email="bob@example.org", password="short")
        with pytest.raises(BadQuery, match="not an email"):
            users.create_user(conn, email="not-an-email")
        assert users.authenticate(conn, "ALICE@example.org", "correct horse battery") == alice
        assert users.authenticate(conn, "alice@example.org", "wrong password!") is None
        assert users.authenticate(conn, "nobody@example.org", "correct horse battery") is None
        users.set_disabled(conn, "alice@example.org")
        assert users.authenticate(conn, "alice@example.org", "correct horse battery") is None
        stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
        assert stored.startswith("$argon2") and "correct horse" not in stored


def test_tokens_are_hashed_and_checked(archive: Archive) -> None:
    with archive.engine.begin() as conn:
        user = users.create_user(conn, email="pi@example.org")
        token, info = tokens.create_token(conn, user_id=user.user_id, name="laptop", days=10,
                                          max_days=60)  # fmt: skip
        assert conn.execute(select(api_tokens.c.token_hash)).scalar_one() == tokens.token_hash(
            token
        )
        assert token not in str(conn.execute(select(api_tokens)).all())
        assert tokens.user_for_token(conn, token) == user.user_id
        with pytest.raises(Unauthorized, match="malformed"):
            tokens.user_for_token(conn, "short'; DROP TABLE users;--")
        with pytest.raises(Unauthorized, match="not valid"):
            tokens.user_for_token(conn, token[:-1] + ("A" if token[-1] != "A" else "B"))
        with pytest.raises(BadQuery, match="between 1 and 60"):
            tokens.create_token(conn, user_id=user.user_id, name="x", days=61, max_days=60)
        conn.execute(update(api_tokens).values(expires_at=time.time() - 1))
        with pytest.raises(Unauthorized, match="expired"):
            tokens.user_for_token(conn, token)
        conn.execute(update(api_tokens).values(expires_at=time.time() + 100))
        tokens.revoke_token(conn, info.token_id, user_id=user.user_id)
        with pytest.raises(Unauthorized, match="revoked"):
            tokens.user_for_token(conn, token)


def test_nobody_sees_or_revokes_another_users_tokens(archive: Archive) -> None:
    with archive.engine.begin() as conn:
        a = users.create_user(conn, email="a@example.org")
        b = users.create_user(conn, email="b@example.org")
        _, info = tokens.create_token(conn, user_id=a.user_id, name="a", days=1, max_days=60)
        assert tokens.list_tokens(conn, user_id=b.user_id) == []
        with pytest.raises(NotFound):
            tokens.revoke_token(conn, info.token_id, user_id=b.user_id)
        assert tokens.get_token(conn, info.token_id, user_id=a.user_id).revoked_at is None


def test_grants_and_the_retrieval_rule(archive: Archive) -> None:
    with archive.engine.begin() as conn:
        conn.execute(programs.insert().values(proposal_id="4567", obs_collection="JWST",
                                              category="GO"))  # fmt: skip
        pi = users.create_user(conn, email="pi@example.org")
        coi = users.create_user(conn, email="coi@example.org")
        other = users.create_user(conn, email="other@example.org")
        grants.set_pi(conn, "4567", user_id=pi.user_id)
        grants.grant(conn, "4567", user_id=coi.user_id, granted_by=pi.user_id)
        assert grants.programs_readable_by(conn, pi.user_id) == {"4567"}
        assert grants.programs_readable_by(conn, coi.user_id) == {"4567"}
        assert grants.programs_readable_by(conn, other.user_id) == frozenset()
        with pytest.raises(Forbidden):
            grants.ensure_may_manage(conn, "4567", user_id=coi.user_id, is_admin=False)
        grants.ensure_may_manage(conn, "4567", user_id=pi.user_id, is_admin=False)
        grants.ensure_may_manage(conn, "4567", user_id=other.user_id, is_admin=True)

        def caller(user) -> Caller:  # type: ignore[no-untyped-def]
            return Caller(user_id=user.user_id, email=user.email,
                          programs=grants.programs_readable_by(conn, user.user_id))  # fmt: skip

        eap = {"proposal_id": "4567", "t_obs_release": NOW + 10, "now": NOW}
        assert may_retrieve(caller(pi), **eap) and may_retrieve(caller(coi), **eap)
        assert not may_retrieve(caller(other), **eap)
        assert not may_retrieve(ANONYMOUS, **eap)
        assert may_retrieve(Caller(user_id=99, is_admin=True), **eap)
        assert may_retrieve(ANONYMOUS, proposal_id="4567", t_obs_release=NOW - 1, now=NOW)
        with pytest.raises(Unauthorized, match="token"):
            check_retrieval(ANONYMOUS, filename="f.fits", **eap)
        with pytest.raises(Forbidden, match="ask the PI"):
            check_retrieval(caller(other), filename="f.fits", **eap)
        grants.revoke(conn, "4567", user_id=coi.user_id)
        assert not may_retrieve(caller(coi), **eap)


def test_callers_from_tokens_and_sessions(archive: Archive) -> None:
    with archive.engine.begin() as conn:
        user = users.create_user(conn, email="x@example.org", display_name="X Person")
        token, _ = tokens.create_token(conn, user_id=user.user_id, name="t", days=1, max_days=60)
        cookie, session = sessions.start_session(conn, user.user_id)
        by_token = caller_from_credentials(conn, token=token, session_cookie=None)
        assert by_token.user_id == user.user_id and by_token.via_token
        by_session = caller_from_credentials(conn, token=None, session_cookie=cookie)
        assert by_session.user_id == user.user_id and by_session.csrf_token == session.csrf_token
        bad = caller_from_credentials(conn, token="x" * 43, session_cookie=cookie)
        assert bad.anonymous and "not valid" in (bad.problem or "")
        assert caller_from_credentials(conn, token=None, session_cookie="forged").anonymous
        sessions.end_session(conn, cookie)
        assert caller_from_credentials(conn, token=None, session_cookie=cookie).anonymous
    assert token_from_headers("token abc", None) == "abc"
    assert token_from_headers("Bearer abc", None) == "abc"
    assert token_from_headers(None, "cookie-token") == "cookie-token"


def test_release_date_change_takes_effect_at_once(archive: Archive, demo_output) -> None:  # type: ignore[no-untyped-def]
    from skyarchive.access.rights import data_rights
    from skyarchive.db.tables import observations
    from tests.ingest.test_ingest_demo import ingest

    out, _ = demo_output
    ingest(archive, out)

    def rights() -> set[str]:
        with archive.engine.connect() as conn:
            releases = conn.execute(
                select(observations.c.t_obs_release).where(
                    observations.c.proposal_id == "4567", observations.c.status == "executed"
                )
            ).scalars()
            return {data_rights(r) for r in releases}

    assert rights() == {"EXCLUSIVE_ACCESS"}
    with archive.engine.begin() as conn:
        release.set_eap_months(conn, "4567", 0, default_months=12)
    assert rights() == {"PUBLIC"}
    with archive.engine.begin() as conn:
        release.set_eap_months(conn, "4567", None, default_months=12)
    assert rights() == {"EXCLUSIVE_ACCESS"}


def test_login_delays_count_failures_per_account_and_client(archive: Archive) -> None:
    delays = login_throttle.Delays(free=3, base=100.0, maximum=300.0)
    me = {"email": "a@b.org", "client": "10.0.0.1"}
    with archive.engine.begin() as conn:
        for _ in range(delays.free):
            assert login_throttle.seconds_to_wait(conn, **me, delays=delays) == 0
            login_throttle.record_failure(conn, **me)
        assert 95 <= login_throttle.seconds_to_wait(conn, **me, delays=delays) <= 100
        login_throttle.record_failure(conn, **me)  # one more: the wait doubles
        assert 195 <= login_throttle.seconds_to_wait(conn, **me, delays=delays) <= 200
        for _ in range(3):  # and never grows past the maximum
            login_throttle.record_failure(conn, **me)
        assert 295 <= login_throttle.seconds_to_wait(conn, **me, delays=delays) <= 300
        # another address, or another account from this address, is not slowed down
        other_client = {"email": "A@b.org ", "client": "10.0.0.2"}
        assert login_throttle.seconds_to_wait(conn, **other_client, delays=delays) == 0
        other_account = {"email": "c@b.org", "client": "10.0.0.1"}
        assert login_throttle.seconds_to_wait(conn, **other_account, delays=delays) == 0
        login_throttle.clear_failures(conn, **me)
        assert login_throttle.seconds_to_wait(conn, **me, delays=delays) == 0


def test_parallel_attempts_are_admitted_no_more_than_the_free_ones(archive: Archive) -> None:
    """Each process records its attempt before weighing it, so a burst cannot slip past."""
    delays = login_throttle.Delays(free=3, base=100.0, maximum=300.0)
    me = {"email": "burst@b.org", "client": "10.0.0.9"}

    def attempt(_: int) -> int:
        with archive.engine.begin() as conn:
            return login_throttle.admit_attempt(conn, **me, delays=delays)

    with ThreadPoolExecutor(max_workers=4) as pool:
        waits = list(pool.map(attempt, range(12)))
    assert waits.count(0) == delays.free, waits
    with archive.engine.begin() as conn:  # refused attempts took their rows back
        assert 95 <= login_throttle.seconds_to_wait(conn, **me, delays=delays) <= 100


def test_new_password_ends_other_sessions_and_reset_links(archive: Archive) -> None:
    with archive.engine.begin() as conn:
        user = users.create_user(conn, email="s@b.org", password="long enough pw")
        kept, kept_session = sessions.start_session(conn, user.user_id)
        other, _ = sessions.start_session(conn, user.user_id, client_address="10.1.1.1",
                                          user_agent="x" * 1000)  # fmt: skip
        listed = sessions.list_sessions(conn, user_id=user.user_id)
        assert {s.client_address for s in listed} == {None, "10.1.1.1"}
        assert max(len(s.user_agent or "") for s in listed) == sessions.MAX_USER_AGENT
        link, _ = password_resets.request_reset(conn, "S@b.org") or ("", None)
        assert password_resets.check_reset(conn, link).user_id == user.user_id
        assert users.set_password(conn, user.user_id, "another long pw",
                                  keep_session=kept_session.session_id) == 1  # fmt: skip
        assert sessions.session_for(conn, other) is None
        assert sessions.session_for(conn, kept) is not None
        with pytest.raises(BadQuery, match="not valid or has expired"):
            password_resets.check_reset(conn, link)
        assert password_resets.request_reset(conn, "nobody@b.org") is None
        link, _ = password_resets.request_reset(conn, "s@b.org") or ("", None)
        password_resets.reset_password(conn, link, "a third long pw")
        assert sessions.session_for(conn, kept) is None
        assert users.authenticate(conn, "s@b.org", "a third long pw") is not None


def test_sessions_are_listed_last_used_first_including_older_rows(archive: Archive) -> None:
    from skyarchive.db.tables import sessions as session_rows

    with archive.engine.begin() as conn:
        user = users.create_user(conn, email="order@b.org", password="long enough pw")
        _, old = sessions.start_session(conn, user.user_id)
        _, new = sessions.start_session(conn, user.user_id, client_address="10.2.2.2")
        # a session started before schema 0011 has no last-seen time: its start counts
        conn.execute(
            update(session_rows)
            .where(session_rows.c.session_hash == old.session_id)
            .values(last_seen_at=None, created_at=time.time() - 3600)
        )
        listed = sessions.list_sessions(conn, user_id=user.user_id)
        assert [s.session_id for s in listed] == [new.session_id, old.session_id]
        assert listed[1].last_seen_at == listed[1].created_at
        assert sessions.end_session_by_id(conn, old.session_id, user_id=user.user_id + 1) is False
        assert sessions.end_session_by_id(conn, old.session_id, user_id=user.user_id) is True
