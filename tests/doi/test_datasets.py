"""Data sets at MAST's limit of 10,000 observations, on SQLite and PostgreSQL (in process)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from skyarchive.access import grants, users
from skyarchive.access.caller import caller_for_user
from skyarchive.access.policy import ANONYMOUS
from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import observations, programs
from skyarchive.doi.datasets import MAX_OBSERVATIONS, DatasetDraft, availability
from skyarchive.doi.service import observations_of_doi, reserve_doi
from skyarchive.errors import BadQuery, Unauthorized
from skyarchive.search.portal_search import PortalQuery, run_search

EXCLUSIVE = 10
DRAFT = DatasetDraft("Ten thousand", ("Lovelace, Ada",), "Everything.", "")


def test_ten_thousand_observations_are_stored_found_and_judged_set_based(archive) -> None:  # type: ignore[no-untyped-def]
    future, past = now_mjd() + 300, now_mjd() - 300
    rows = [
        {"obs_id": f"jw-test-{i:05d}", "obs_collection": "JWST",
         "proposal_id": "2" if i < EXCLUSIVE else "1",
         "t_obs_release": future if i < EXCLUSIVE else past}
        for i in range(MAX_OBSERVATIONS)
    ]  # fmt: skip
    with archive.engine.begin() as conn:
        conn.execute(insert(programs), [{"proposal_id": p, "obs_collection": "JWST"} for p in "12"])
        conn.execute(insert(observations), rows)
        ids = [int(o) for o in conn.execute(observations.select().with_only_columns(
            observations.c.obsid)).scalars()]  # fmt: skip
        author = users.create_user(conn, email="author@example.org").user_id
        pi = users.create_user(conn, email="pi@example.org").user_id
        grants.set_pi(conn, "2", user_id=pi)
        author_caller = caller_for_user(conn, author)
        pi_caller = caller_for_user(conn, pi)

    with pytest.raises(Unauthorized):
        reserve_doi(archive.engine, archive.settings, caller=ANONYMOUS, draft=DRAFT, obsids=ids,
                    base_url="http://archive.example")  # fmt: skip
    with pytest.raises(BadQuery, match=f"At most {MAX_OBSERVATIONS} obsids"):
        reserve_doi(archive.engine, archive.settings, caller=author_caller, draft=DRAFT,
                    obsids=[*ids, 10**9], base_url="http://archive.example")  # fmt: skip

    made = reserve_doi(archive.engine, archive.settings, caller=author_caller, draft=DRAFT,
                       obsids=ids + ids[:5], base_url="http://archive.example")  # fmt: skip
    assert made.observation_count == MAX_OBSERVATIONS and made.state == "draft"
    _dataset, stored = observations_of_doi(archive.engine, made.doi.upper())
    assert sorted(stored) == sorted(ids)

    with archive.engine.connect() as conn:
        seen = availability(conn, made.dataset_id, caller=author_caller, now=now_mjd())
        assert (seen.total, seen.restricted, seen.yours) == (MAX_OBSERVATIONS, EXCLUSIVE, 0)
        assert seen.public_from == pytest.approx(future) and not seen.everyone
        assert availability(conn, made.dataset_id, caller=pi_caller, now=now_mjd()).yours == 10
        # A search by the DOI's obsids (what the portal's DOI collection runs) finds them all.
        by_obsid = [{"paramName": "obsid", "values": [str(o) for o in stored]}]
        query = PortalQuery(filters=by_obsid, pagesize=MAX_OBSERVATIONS, with_facets=False)
        found = run_search(conn, query, now=now_mjd())
        assert found.total == MAX_OBSERVATIONS
