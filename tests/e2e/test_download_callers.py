"""``Download/file`` for every kind of caller on both databases: the caller's look-up (one
statement for a token, on ``Archive.lookup_engine``, autocommit on PostgreSQL) gives each the
status the one access rule says, and the bytes of the file to those it lets in."""

from __future__ import annotations

import hashlib

import httpx
from sqlalchemy import select

from skyarchive.access import grants
from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.db.tables import observations, products
from tests.e2e.callers import EXPECTED, create_callers, headers_for
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
