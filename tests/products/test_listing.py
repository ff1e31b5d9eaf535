"""Product lists as the MAST API sends them (JSON text written by the database, the parent
and the rights appended in Python) agree with the rows built in Python, on both backends:
the same rows in the same order, each file once per requested observation, a level-3
observation's members' files listed under it, the rights of each file's release date."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from skyarchive.access.rights import now_mjd
from skyarchive.db.tables import observation_members, observations, products
from skyarchive.products import listing
from skyarchive.products.listing import product_json_batches, product_rows
from tests.catalogue_edits import change_first_observations


@pytest.fixture
def listed(demo_archive_copy):  # type: ignore[no-untyped-def]
    """The demo archive with one observation's files under exclusive access (no release date)
    and one file whose owner is another observation, still exclusive."""
    archive = demo_archive_copy
    change_first_observations(archive, {"t_obs_release": None}, {"t_obs_release": now_mjd() + 30})
    return archive


def _lists(conn, obsids: list[int]) -> tuple[list[dict], list[str]]:  # type: ignore[no-untyped-def]
    now = now_mjd()
    built = list(product_rows(conn, obsids, now=now))
    texts = [text for batch in product_json_batches(conn, obsids, now=now) for text in batch]
    return built, texts


def _requests(conn) -> list[list[int]]:  # type: ignore[no-untyped-def]
    every = conn.execute(select(observations.c.obsid).order_by(observations.c.obsid)).scalars()
    every = list(every)
    pairs = conn.execute(select(observation_members.c.parent_obsid,
                                observation_members.c.member_obsid)).all()  # fmt: skip
    assert pairs, "the demo has level-3 observations with members"
    parent, member = pairs[0]
    return [
        every,
        every[::-1],
        every + every[::3],  # repeated obsids are listed once
        [every[0]],
        [parent],
        [member, parent, member],  # a member asked for itself and through its parent
        sorted({p for p, _ in pairs}, reverse=True),
        [10**12],  # no such observation
    ]


@pytest.mark.parametrize("batch", [listing._BATCH, 2])
def test_the_json_rows_are_the_python_rows(listed, monkeypatch, batch: int) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(listing, "_BATCH", batch)  # batches of 2 put parents and members apart
    with listed.engine.connect() as conn:
        requests = _requests(conn)
        for obsids in requests:
            built, texts = _lists(conn, obsids)
            assert [json.loads(text) for text in texts] == built, obsids
    assert {row["dataRights"] for row in _lists_of(listed, requests[0])} == {
        "PUBLIC", "EXCLUSIVE_ACCESS"
    }  # fmt: skip


def _lists_of(archive, obsids: list[int]) -> list[dict]:  # type: ignore[no-untyped-def]
    with archive.engine.connect() as conn:
        return _lists(conn, obsids)[0]


def test_each_row_ends_as_clients_have_always_read_it(listed) -> None:  # type: ignore[no-untyped-def]
    """The parent and the rights follow the database's object with a space after each
    separator, whatever spacing the database's own JSON has."""
    with listed.engine.connect() as conn:
        pairs = conn.execute(select(observation_members.c.parent_obsid)).scalars().all()
        _, texts = _lists(conn, [pairs[0]])
    assert texts
    for text in texts:
        assert text.endswith(('", "dataRights": "PUBLIC"}', '", "dataRights": "EXCLUSIVE_ACCESS"}'))
        assert f', "parent_obsid": "{pairs[0]}", "dataRights": ' in text
        assert text.count("parent_obsid") == 1


def test_a_members_file_is_listed_once_under_its_parent(listed) -> None:  # type: ignore[no-untyped-def]
    with listed.engine.connect() as conn:
        pair = select(observation_members.c.parent_obsid, observation_members.c.member_obsid)
        parent, member = conn.execute(pair.order_by(*pair.selected_columns)).first()
        _, texts = _lists(conn, [parent])
        _, members_texts = _lists(conn, [member])
        total = conn.execute(select(products.c.product_id)).all()
    rows = [json.loads(text) for text in texts]
    uris = [row["dataURI"] for row in rows]
    assert len(uris) == len(set(uris)) <= len(total)
    assert {row["parent_obsid"] for row in rows} == {str(parent)}
    assert {json.loads(t)["dataURI"] for t in members_texts} <= set(uris)
    assert str(member) in {row["obsID"] for row in rows}
