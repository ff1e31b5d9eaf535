"""Signed unsubscribe links on SQLite and PostgreSQL: one subscription each, unforgeable,
expiring, void once used; the secret is made once and shared."""

from __future__ import annotations

import mailbox
import re
import uuid

import pytest

from skyarchive.access import users
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.state import read_state
from skyarchive.db.tables import notification_events
from skyarchive.db.upsert import insert_ignore
from skyarchive.errors import BadQuery, Gone, NotFound
from skyarchive.notify import subscriptions as subs
from skyarchive.notify.digest import run_notifications
from skyarchive.notify.mail import outbox_path
from skyarchive.notify.unsubscribe import (
    LINK_DAYS,
    SECRET_NAME,
    check_link,
    unsubscribe_by_link,
    unsubscribe_token,
)

NOW = 1_790_000_000.0


def _subscription(archive: Archive, program: str) -> subs.Subscription:
    with archive.engine.begin() as conn:
        user = users.create_user(conn, email=f"u-{uuid.uuid4().hex[:6]}@example.org",
                                 display_name="U", password="a long enough password")  # fmt: skip
        [made] = subs.subscribe(conn, user_id=user.user_id, program_ids=[program], kinds=["New"],
                                frequency="daily", now=NOW)  # fmt: skip
    return made


def test_a_link_names_one_subscription_and_cannot_be_changed(archive: Archive) -> None:
    mine, other = _subscription(archive, "1558"), _subscription(archive, "4567")
    with archive.engine.begin() as conn:
        token = unsubscribe_token(conn, mine, now=NOW)
        secret = read_state(conn, SECRET_NAME)
        assert secret and len(secret) == 64
        assert unsubscribe_token(conn, mine, now=NOW) == token  # one secret, kept
        assert check_link(conn, token, now=NOW + 3600).subscription == mine
        sid, expires, signature = token.split(".")
        forged = [
            f"{other.subscription_id}.{expires}.{signature}",  # another's subscription
            f"{sid}.{int(expires) + 86400}.{signature}",  # a later expiry
            f"{sid}.{expires}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
            f"{sid}.{expires}.{signature[:20]}",
            "",
            "1.2.3",
        ]
        for bad in forged:
            with pytest.raises(BadQuery, match="not valid"):
                check_link(conn, bad, now=NOW)
        with pytest.raises(Gone, match="expired"):
            check_link(conn, token, now=NOW + (LINK_DAYS + 1) * 86400)
        assert unsubscribe_by_link(conn, token, now=NOW).subscription == mine
        with pytest.raises(NotFound):
            unsubscribe_by_link(conn, token, now=NOW)
        assert [s.proposal_id for s in subs.list_subscriptions(conn, user_id=other.user_id)] == [
            "4567"
        ]


def test_every_email_carries_its_own_link(archive: Archive) -> None:
    settings = Settings(**{**archive.settings.model_dump(), "base_url": "https://sky.example.org"})
    linked = Archive(settings, archive.engine, archive.storage)
    first, second = _subscription(archive, "6001"), _subscription(archive, "6001")
    with archive.engine.begin() as conn:
        insert_ignore(conn, notification_events, [
            {"event_id": str(uuid.uuid4()), "obs_collection": "JWST", "proposal_id": "6001",
             "kind": "New", "filename": "jw06001001001_02101_00001_nrca1_cal.fits",
             "fileset": "jw06001001001_02101_00001", "version": "v1", "archived_date": None,
             "release_mjd": None, "arrival_checked": True, "created_at": NOW + 60}])  # fmt: skip
    assert run_notifications(linked, now=NOW + 120).emails == 2
    box = mailbox.Maildir(outbox_path(settings))
    links = {}
    for message in box:
        header = "".join(message["List-Unsubscribe"].split())  # unfolded
        [link] = re.findall(r"https://sky\.example\.org/unsubscribe/[^\s>]+", header)
        text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        assert link in text.get_payload(decode=True).decode()
        links[message["To"]] = link
    box.close()
    assert len(set(links.values())) == 2
    with archive.engine.connect() as conn:
        named = {check_link(conn, link.rsplit("/", 1)[1], now=NOW).subscription.subscription_id
                 for link in links.values()}  # fmt: skip
    assert named == {first.subscription_id, second.subscription_id}
