"""In-portal notices and feed tokens on SQLite and PostgreSQL: grouped from the subscription
events, filtered by each subscriber's kinds and start, read up to a time, feed addresses
revoked when remade."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from skyarchive.access import users
from skyarchive.archive import Archive
from skyarchive.db.tables import feed_tokens, notification_events
from skyarchive.notify import notices
from skyarchive.notify import subscriptions as subs
from tests.notify.test_subscriptions import _user


def _event(program: str, kind: str, filename: str, at: float) -> dict:
    return {
        "event_id": str(uuid.uuid4()), "obs_collection": "JWST", "proposal_id": program,
        "kind": kind, "filename": filename, "fileset": filename.rsplit("_", 1)[0],
        "version": f"v-{uuid.uuid4().hex}", "archived_date": None, "release_mjd": None,
        "arrival_checked": True, "created_at": at,
    }  # fmt: skip


def test_notices_follow_each_subscription(archive: Archive) -> None:
    alice, bob, carol = (_user(archive, n) for n in ("alice", "bob", "carol"))
    with archive.engine.begin() as conn:
        subs.subscribe(conn, user_id=alice, program_ids=["4567"], kinds=["New", "Public"],
                       frequency="weekly", now=100.0)  # fmt: skip
        subs.subscribe(conn, user_id=bob, program_ids=["4567", "1558"], kinds=list(subs.KINDS),
                       frequency="fast", now=100.0)  # fmt: skip
        subs.subscribe(conn, user_id=carol, program_ids=["4567"], kinds=["New"],
                       frequency="daily", now=250.0)  # fmt: skip
        conn.execute(notification_events.insert(), [
            _event("4567", "New", "a_cal.fits", 200.0),
            _event("4567", "First", "a_cal.fits", 200.0),
            _event("4567", "New", "b_cal.fits", 200.0),
            _event("4567", "Reprocessed", "a_cal.fits", 300.0),
            _event("1558", "New", "c_cal.fits", 400.0),
            _event("4567", "Public", "b_cal.fits", 500.0),
        ])  # fmt: skip

    with archive.engine.connect() as conn:
        mine = notices.list_notices(conn, user_id=alice)
        theirs = notices.list_notices(conn, user_id=bob)
        late = notices.list_notices(conn, user_id=carol)
        counts = {u: notices.unread_count(conn, user_id=u) for u in (alice, bob, carol)}

    # Alice: New at 200 (both files once), Public at 500; not First, not Reprocessed, not 1558.
    assert [(n.proposal_id, n.created_at, n.kinds) for n in mine] == [
        ("4567", 500.0, ("Public",)), ("4567", 200.0, ("New",)),
    ]  # fmt: skip
    assert [(f.filename, f.kinds) for f in mine[1].files] == [
        ("a_cal.fits", ("New",)), ("b_cal.fits", ("New",)),
    ]  # fmt: skip
    assert mine[1].title == "JWST program 4567: New (2 files)"
    # Bob follows every kind and two programs: a file New and First is listed once.
    assert [(n.proposal_id, n.created_at) for n in theirs] == [
        ("4567", 500.0), ("1558", 400.0), ("4567", 300.0), ("4567", 200.0),
    ]  # fmt: skip
    assert [(f.filename, f.kinds) for f in theirs[3].files] == [
        ("a_cal.fits", ("New", "First")), ("b_cal.fits", ("New",)),
    ]  # fmt: skip
    assert theirs[2].title == "JWST program 4567: Reprocessed (1 file)"
    # Carol subscribed at 250: the earlier events are not hers; no New after that.
    assert late == []
    assert counts == {alice: 2, bob: 4, carol: 0}

    with archive.engine.begin() as conn:
        notices.mark_read(conn, user_id=bob, upto=300.0, now=1000.0)
        notices.mark_read(conn, user_id=bob, upto=250.0, now=1000.0)  # never back in time
        notices.mark_read(conn, user_id=alice, upto=10**12, now=450.0)  # never past now
    with archive.engine.connect() as conn:
        assert notices.unread_count(conn, user_id=bob) == 2
        assert [n.unread for n in notices.list_notices(conn, user_id=bob)] == [
            True, True, False, False,
        ]  # fmt: skip
        assert notices.unread_count(conn, user_id=alice) == 1
        assert notices.read_until(conn, user_id=alice) == 450.0


def test_feed_token_is_secret_and_revoked_when_remade(archive: Archive) -> None:
    alice, bob = _user(archive, "alice"), _user(archive, "bob")
    with archive.engine.begin() as conn:
        assert not notices.has_feed(conn, user_id=alice)
        first = notices.new_feed_token(conn, user_id=alice)
        other = notices.new_feed_token(conn, user_id=bob)
    with archive.engine.connect() as conn:
        assert notices.feed_owner(conn, first) == alice
        assert notices.feed_owner(conn, other) == bob
        assert notices.has_feed(conn, user_id=alice)
        stored = conn.scalar(select(feed_tokens.c.token_hash).where(feed_tokens.c.user_id == alice))
        assert stored and first not in stored  # only a digest is kept
    with archive.engine.begin() as conn:
        second = notices.new_feed_token(conn, user_id=alice)
    with archive.engine.connect() as conn:
        assert second != first
        assert notices.feed_owner(conn, first) is None
        assert notices.feed_owner(conn, second) == alice
        assert notices.feed_owner(conn, "") is None and notices.feed_owner(conn, "x" * 500) is None
    with archive.engine.begin() as conn:
        users.set_disabled(conn, users.get_user(conn, alice).email)
    with archive.engine.connect() as conn:
        assert notices.feed_owner(conn, second) is None  # a disabled account's feed closes
