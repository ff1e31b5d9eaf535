"""Every subscriber of a program gets every event, whatever the others' frequencies, failures and
the purge (issue 21 §1), on SQLite and PostgreSQL.

Events are written as ingest writes them (``notification_events`` rows); the digests are sent
by :func:`run_notifications` into the maildir outbox, and read back from it.
"""

from __future__ import annotations

import json
import mailbox
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from skyarchive.access import users
from skyarchive.archive import Archive
from skyarchive.db.tables import notification_deliveries, notification_events
from skyarchive.db.upsert import insert_ignore
from skyarchive.notify import digest
from skyarchive.notify import subscriptions as subs
from skyarchive.notify.digest import run_notifications
from skyarchive.notify.mail import outbox_path

PASSWORD = "a long enough password"
HOUR, DAY = 3600.0, 86400.0
T0 = 1_790_000_000.0  # 2026-09-21, the time of the first subscription


def _user(archive: Archive, name: str) -> tuple[int, str]:
    email = f"{name}-{uuid.uuid4().hex[:6]}@example.org"
    with archive.engine.begin() as conn:
        user = users.create_user(conn, email=email, display_name=name, password=PASSWORD)
    return user.user_id, email


def _follow(archive: Archive, name: str, frequency: str, kinds=subs.KINDS) -> str:  # type: ignore[no-untyped-def]
    user_id, email = _user(archive, name)
    with archive.engine.begin() as conn:
        subs.subscribe(conn, user_id=user_id, program_ids=["6001"], kinds=kinds,
                       frequency=frequency, now=T0)  # fmt: skip
    return email


def _events(archive: Archive, kind: str, at: float, *names: str) -> None:
    rows = [
        {"event_id": str(uuid.uuid4()), "obs_collection": "JWST", "proposal_id": "6001",
         "kind": kind, "filename": name, "fileset": name[:25], "version": uuid.uuid4().hex,
         "archived_date": "2026-09-21T10:00:00.000", "release_mjd": None,
         "arrival_checked": True, "created_at": at}
        for name in names
    ]  # fmt: skip
    with archive.engine.begin() as conn:
        insert_ignore(conn, notification_events, rows)


def _inbox(archive: Archive) -> dict[str, list[list[tuple[str, str]]]]:
    """Per recipient (by name), each e-mail's (event_type, filename) list; the outbox emptied."""
    path = outbox_path(archive.settings)
    box = mailbox.Maildir(path, create=True)
    found: dict[str, list[list[tuple[str, str]]]] = {}
    for key, message in sorted(box.items(), key=lambda item: item[1].get_date()):
        [part] = [p for p in message.walk() if p.get_filename()]
        events = json.loads(part.get_payload(decode=True))
        name = message["To"].split("-")[0]
        found.setdefault(name, []).append(sorted((e["event_type"], e["filename"]) for e in events))
        box.remove(key)
    box.close()
    return found


def _file(n: int) -> str:
    return f"jw06001001001_02101_0000{n}_nrca1_cal.fits"


def test_two_subscribers_on_different_frequencies_each_get_the_event(archive: Archive) -> None:
    """The issue's case: Bob (Fast) is sent a Reprocessed event first; Alice (Weekly) still gets
    it when her week is up, without any later event of the program."""
    _follow(archive, "alice", "weekly")
    _follow(archive, "bob", "fast")
    _events(archive, "Reprocessed", T0 + HOUR, _file(1))

    report = run_notifications(archive, now=T0 + 2 * HOUR)
    assert (report.emails, report.events_sent) == (2, 2)  # both: neither was sent anything yet
    first = _inbox(archive)
    assert first["alice"] == first["bob"] == [[("Reprocessed", _file(1))]]

    _events(archive, "Reprocessed", T0 + 3 * HOUR, _file(2))
    report = run_notifications(archive, now=T0 + 4 * HOUR)  # Bob's hour is up, Alice's week not
    assert _inbox(archive) == {"bob": [[("Reprocessed", _file(2))]]}
    assert run_notifications(archive, now=T0 + 4 * HOUR, force=True).emails == 1
    assert _inbox(archive) == {"alice": [[("Reprocessed", _file(2))]]}
    assert run_notifications(archive, now=T0 + 5 * HOUR, force=True).emails == 0


def test_three_subscribers_over_several_runs_each_get_each_event_once(archive: Archive) -> None:
    _follow(archive, "ann", "fast")
    _follow(archive, "bea", "daily")
    _follow(archive, "cid", "weekly", kinds=["New"])
    received: dict[str, list[tuple[str, str]]] = {"ann": [], "bea": [], "cid": []}
    for hour in range(1, 24 * 8, 5):  # a new file every 5 hours for 8 days, a run every 5 hours
        _events(archive, "New", T0 + hour * HOUR, _file(hour))
        _events(archive, "Public", T0 + hour * HOUR, _file(hour))
        run_notifications(archive, now=T0 + hour * HOUR + 60)
        for name, mails in _inbox(archive).items():
            for mail in mails:
                received[name] += mail
    run_notifications(archive, now=T0 + 30 * DAY, force=True)
    for name, mails in _inbox(archive).items():
        for mail in mails:
            received[name] += mail

    with archive.engine.connect() as conn:
        every = conn.execute(select(notification_events.c.kind, notification_events.c.filename))
        every = sorted((kind, filename) for kind, filename in every)
    assert sorted(received["ann"]) == every
    assert sorted(received["bea"]) == every
    assert sorted(received["cid"]) == [e for e in every if e[0] == "New"]


def test_a_failed_mail_stays_pending_and_the_other_is_not_sent_twice(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = _follow(archive, "alice", "daily")
    _follow(archive, "bob", "daily")
    _events(archive, "New", T0 + HOUR, _file(1), _file(2))
    real_deliver = digest.deliver

    def refuse_alice(settings, message):  # type: ignore[no-untyped-def]
        if message["To"] == alice:
            raise ConnectionRefusedError("the mail server hung up")
        return real_deliver(settings, message)

    monkeypatch.setattr(digest, "deliver", refuse_alice)
    report = run_notifications(archive, now=T0 + 2 * HOUR)
    assert report.emails == 1 and len(report.failed) == 1
    assert list(_inbox(archive)) == ["bob"]

    monkeypatch.setattr(digest, "deliver", real_deliver)
    report = run_notifications(archive, now=T0 + 3 * HOUR)  # alice was never sent: due at once
    assert (report.emails, report.failed) == (1, [])
    assert _inbox(archive) == {"alice": [[("New", _file(1)), ("New", _file(2))]]}
    assert run_notifications(archive, now=T0 + 3 * DAY, force=True).emails == 0


def test_the_purge_keeps_what_is_still_owed(archive: Archive) -> None:
    """Older than ``KEEP_DAYS`` and sent to everyone: gone. Still owed to a subscriber: kept,
    up to ``OWED_CAP_DAYS``. A disabled account is owed nothing."""
    _follow(archive, "alice", "fast", kinds=["New"])
    _follow(archive, "bob", "monthly", kinds=["Reprocessed"])
    carl = _follow(archive, "carl", "fast", kinds=["Public"])
    _events(archive, "New", T0 + HOUR, _file(1))
    _events(archive, "Reprocessed", T0 + HOUR, _file(2))
    _events(archive, "Public", T0 + HOUR, _file(3))
    _events(archive, "First", T0 + HOUR, _file(4))  # nobody follows First
    with archive.engine.begin() as conn:
        users.set_disabled(conn, carl, True)
    run_notifications(archive, now=T0 + 2 * HOUR)
    assert sorted(_inbox(archive)) == ["alice", "bob"]
    _events(archive, "Reprocessed", T0 + 3 * HOUR, _file(5))
    assert run_notifications(archive, now=T0 + 4 * HOUR).emails == 0  # Bob's month is not up

    def left() -> list[str]:
        with archive.engine.connect() as conn:
            return sorted(conn.scalars(select(notification_events.c.kind)))

    with archive.engine.begin() as conn:
        digest.prune(conn, now=T0 + (digest.KEEP_DAYS + 1) * DAY)
    assert left() == ["Reprocessed"]  # the second one: Bob has not had it yet
    with archive.engine.begin() as conn:
        digest.prune(conn, now=T0 + (digest.OWED_CAP_DAYS + 1) * DAY)
        assert conn.scalar(select(func.count()).select_from(notification_deliveries)) == 0
    assert left() == []


def test_monthly_subscriptions_wait_a_month(archive: Archive, tmp_path: Path) -> None:
    _follow(archive, "alice", "monthly")
    _events(archive, "New", T0 + HOUR, _file(1))
    assert run_notifications(archive, now=T0 + 2 * HOUR).emails == 1  # the first at once
    mails = mailbox.Maildir(outbox_path(archive.settings))
    [message] = list(mails)
    [part] = [p for p in message.walk() if p.get_filename()]
    assert "_monthly_" in (part.get_filename() or "")
    _inbox(archive)
    _events(archive, "New", T0 + 3 * HOUR, _file(2))
    assert run_notifications(archive, now=T0 + 27 * DAY).emails == 0
    assert run_notifications(archive, now=T0 + 2 * HOUR + 31 * DAY).emails == 1
