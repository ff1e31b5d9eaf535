"""Subscriptions and their events on SQLite and PostgreSQL: who sees what, which events an ingest,
a reprocessing, a release date and ``set_eap_months`` make, and what the e-mails carry."""

from __future__ import annotations

import calendar
import json
import mailbox
import shutil
import time
import uuid
from pathlib import Path

import pytest
from astropy.io import fits
from astropy.time import Time
from sqlalchemy import func, select

from skyarchive.access import users
from skyarchive.archive import Archive
from skyarchive.db.tables import notification_events, observations
from skyarchive.errors import BadQuery, NotFound
from skyarchive.ingest import release
from skyarchive.ingest.run import ingest_paths
from skyarchive.notify import subscriptions as subs
from skyarchive.notify.digest import attachment_name, run_notifications
from skyarchive.notify.events import fileset_of, record_due_releases
from skyarchive.notify.mail import outbox_path

PASSWORD = "a long enough password"


def _user(archive: Archive, name: str) -> int:
    with archive.engine.begin() as conn:
        return users.create_user(
            conn, email=f"{name}-{uuid.uuid4().hex[:6]}@example.org", display_name=name,
            password=PASSWORD,
        ).user_id  # fmt: skip


def _ingest(archive: Archive, path: Path):  # type: ignore[no-untyped-def]
    report = ingest_paths(
        [path], engine=archive.engine, storage=archive.storage, default_eap_months=12, workers=1
    )
    assert report.ok, report.failed
    return report


def _outbox(archive: Archive) -> list[tuple[str, str, list[dict]]]:
    """(recipient, attachment name, events) of every message in the maildir outbox, oldest first."""
    box = mailbox.Maildir(outbox_path(archive.settings), create=True)
    found = []
    for message in sorted(box, key=lambda m: m.get_date()):
        parts = [p for p in message.walk() if p.get_filename()]
        assert len(parts) == 1
        payload = json.loads(parts[0].get_payload(decode=True))
        found.append((message["To"], parts[0].get_filename(), payload))
    box.close()
    return found


def _clear_outbox(archive: Archive) -> None:
    shutil.rmtree(outbox_path(archive.settings), ignore_errors=True)


def test_subscriptions_belong_to_their_user(archive: Archive) -> None:
    alice, bob = _user(archive, "alice"), _user(archive, "bob")
    with archive.engine.begin() as conn:
        made = subs.subscribe(
            conn, user_id=alice, program_ids=subs.parse_program_ids("1558, 04567 99999"),
            kinds=["new", "Public"], frequency="Daily",
        )  # fmt: skip
        assert [s.proposal_id for s in made] == ["1558", "4567", "99999"]
        assert made[0].kinds == ("New", "Public") and made[0].frequency == "daily"
        again = subs.subscribe(conn, user_id=alice, program_ids=["1558"], kinds=["Reprocessed"],
                               frequency="weekly")  # fmt: skip
        assert [(s.subscription_id, s.kinds, s.frequency) for s in again] == [
            (made[0].subscription_id, ("Reprocessed",), "weekly")
        ]
        subs.subscribe(conn, user_id=alice, program_ids=["1558"], kinds=["New"],
                       frequency="fast", collection="hst")  # fmt: skip
        assert len(subs.list_subscriptions(conn, user_id=alice)) == 4
        assert subs.list_subscriptions(conn, user_id=bob) == []
        with pytest.raises(NotFound):
            subs.unsubscribe(conn, made[1].subscription_id, user_id=bob)
        subs.unsubscribe(conn, made[1].subscription_id, user_id=alice)
        with pytest.raises(NotFound):
            subs.unsubscribe(conn, made[1].subscription_id, user_id=alice)
        left = [
            (s.obs_collection, s.proposal_id) for s in subs.list_subscriptions(conn, user_id=alice)
        ]
        assert left == [("HST", "1558"), ("JWST", "1558"), ("JWST", "99999")]
        for bad in (
            dict(program_ids=["15a8"], kinds=["New"], frequency="fast"),
            dict(program_ids=["1558"], kinds=[], frequency="fast"),
            dict(program_ids=["1558"], kinds=["Old"], frequency="fast"),
            dict(program_ids=["1558"], kinds=["New"], frequency="yearly"),
            dict(program_ids=["1558"], kinds=["New"], frequency="fast", collection="SPITZER"),
        ):
            with pytest.raises(BadQuery):
                subs.subscribe(conn, user_id=bob, **bad)  # type: ignore[arg-type]
    for text in ("", "1558; 1559", "12345678"):
        with pytest.raises(BadQuery):
            subs.parse_program_ids(text)


def test_events_follow_the_program_through_its_life(
    archive: Archive, demo_output, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out, _ = demo_output
    program_dir = Path(out) / "jwst" / "jw04567"
    files = sorted(p.name for p in program_dir.iterdir())
    alice, bob = _user(archive, "alice"), _user(archive, "bob")
    with archive.engine.begin() as conn:
        subs.subscribe(conn, user_id=alice, program_ids=["4567"], kinds=subs.KINDS,
                       frequency="fast")  # fmt: skip
        subs.subscribe(conn, user_id=bob, program_ids=["4567"], kinds=["Public"],
                       frequency="weekly")  # fmt: skip

    _ingest(archive, program_dir)
    _ingest(archive, program_dir)  # unchanged files: no new events
    with archive.engine.connect() as conn:
        kinds = dict(
            conn.execute(
                select(notification_events.c.kind, func.count()).group_by(
                    notification_events.c.kind
                )
            ).all()
        )
    assert kinds == {"New": len(files), "First": len(files)}  # exclusive: no Public yet

    report = run_notifications(archive)
    assert (report.emails, report.events_sent) == (1, 2 * len(files))
    [(to, name, events)] = _outbox(archive)
    assert to.startswith("alice-")
    assert name.startswith("event_metadata_jwst-program-4567_hourly_") and name.endswith(".json")
    assert sorted(e["filename"] for e in events if e["event_type"] == "New") == files
    event = next(e for e in events if e["filename"].endswith("_02101_00001_mirimage_cal.fits"))
    assert event["fileset"] == "jw04567001001_02101_00001"
    assert event["mission"] == "JWST" and event["program"] == 4567
    assert uuid.UUID(event["event_id"]).version == 4
    assert event["archived_date"][:2] == "20" and len(event["archived_date"]) == 23
    with archive.engine.connect() as conn:
        releases = conn.scalars(
            select(observations.c.t_obs_release).where(observations.c.proposal_id == "4567")
        ).all()
    release_days = {Time(mjd, format="mjd").datetime.date().isoformat() for mjd in releases}
    assert event["public_release_date"][:10] in release_days
    assert run_notifications(archive, force=True).emails == 0  # nothing new: nothing sent
    _clear_outbox(archive)

    # A newer version of one file: Reprocessed (and no New, no First).
    newer = tmp_path / "newer"
    newer.mkdir()
    original = program_dir / "jw04567001001_02101_00001_mirimage_cal.fits"
    copy = newer / original.name
    shutil.copyfile(original, copy)
    with fits.open(copy, mode="update") as hdus:
        hdus[0].header["DATE"] = "2099-01-01T00:00:00.000"
    assert _ingest(archive, newer).replaced == 1
    assert run_notifications(archive).emails == 0  # Fast: the hour since the last e-mail is not up
    report = run_notifications(archive, force=True)
    [(_, _, events)] = _outbox(archive)
    assert [(e["event_type"], e["filename"]) for e in events] == [("Reprocessed", original.name)]
    _clear_outbox(archive)

    # The release date passing: found once by the periodic check, for both subscribers.
    with archive.engine.connect() as conn:
        release = conn.scalar(
            select(func.max(observations.c.t_obs_release)).where(
                observations.c.proposal_id == "4567"
            )
        )
    released_at = (release - 40587.0) * 86400.0 + 1
    with archive.engine.begin() as conn:
        assert record_due_releases(conn, now=time.time()) == 0
        assert record_due_releases(conn, now=released_at) == len(files)
        assert record_due_releases(conn, now=released_at + 60) == 0
    report = run_notifications(archive, now=released_at + 120)
    assert (report.emails, report.events_sent) == (2, 2 * len(files))
    sent = _outbox(archive)
    assert {to.split("-")[0] for to, _, _ in sent} == {"alice", "bob"}
    assert all({e["event_type"] for e in events} == {"Public"} for _, _, events in sent)
    assert sent[0][1].split("_")[-3] in ("hourly", "weekly")


def test_set_eap_and_public_arrivals_make_public_events(archive: Archive, demo_output) -> None:  # type: ignore[no-untyped-def]
    out, _ = demo_output
    alice = _user(archive, "alice")
    with archive.engine.begin() as conn:
        subs.subscribe(conn, user_id=alice, program_ids=["4567", "1366"], kinds=["Public"],
                       frequency="daily")  # fmt: skip
    _ingest(archive, Path(out) / "jwst" / "jw04567")
    _ingest(archive, Path(out) / "jwst" / "jw01366")  # public at once (a past release date)
    with archive.engine.begin() as conn:
        release.set_eap_months(conn, "4567", 0, default_months=12)
        release.set_eap_months(conn, "4567", 0, default_months=12)  # no change: no new events
        counts = dict(
            conn.execute(
                select(notification_events.c.proposal_id, func.count())
                .where(notification_events.c.kind == "Public")
                .group_by(notification_events.c.proposal_id)
            ).all()
        )
    assert counts == {"4567": 40, "1366": 50}
    run_notifications(archive)
    sent = {name.split("_")[2]: events for _, name, events in _outbox(archive)}
    assert sorted(sent) == ["jwst-program-1366", "jwst-program-4567"]
    assert {e["event_type"] for e in sent["jwst-program-4567"]} == {"Public"}
    today = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    assert all(e["public_release_date"] <= today for e in sent["jwst-program-4567"])


def test_fileset_and_attachment_names() -> None:
    assert fileset_of("jw01558001001_04101_00001-seg002_nrca1_cal.fits", "JWST") == (
        "jw01558001001_04101_00001"
    )
    assert fileset_of("jw01558-o001_t001_nircam_clear-f200w_i2d.fits", "JWST") == (
        "jw01558-o001_t001_nircam"
    )
    assert fileset_of("jw04567001001_gs-track_2026293030600_cal.fits", "JWST") == (
        "jw04567001001_gs-track_2026293030600"
    )
    assert fileset_of("jw04567_20261102t121820_pool.csv", "JWST") == "jw04567_20261102t121820"
    assert fileset_of("ib1f01010_drz.fits", "HST", "ib1f01010") == "ib1f01010"
    stamp = calendar.timegm((2026, 4, 22, 14, 35, 23, 0, 0, 0))
    assert attachment_name("JWST", "5105", "fast", stamp) == (
        "event_metadata_jwst-program-5105_hourly_20260422_143523.json"
    )


def test_worker_sends_subscription_mail_periodically(tmp_path: Path) -> None:
    from skyarchive.config import Settings
    from skyarchive.jobs.queue import build_queue

    queue = build_queue(Settings(home=tmp_path / "home"))
    periodic = {task.name for task in queue.huey._registry.periodic_tasks}
    assert {"cleanup", "notify"} <= periodic


def test_manifest_files_make_events_for_their_own_mission(
    archive: Archive, demo_output, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out, _ = demo_output
    source = tmp_path / "hst-delivery"  # a copy, so that one file can be reprocessed below
    source.mkdir()
    shutil.copy(Path(out) / "hst.skyarchive.json", source)
    shutil.copytree(Path(out) / "hst", source / "hst")
    files = sorted(p.name for p in (source / "hst").iterdir())
    alice, bob = _user(archive, "alice"), _user(archive, "bob")
    with archive.engine.begin() as conn:
        subs.subscribe(conn, user_id=alice, program_ids=["12309"], kinds=subs.KINDS,
                       frequency="fast", collection="HST")  # fmt: skip
        # JWST program 12309 is another program: its follower hears nothing of HST's files
        subs.subscribe(conn, user_id=bob, program_ids=["12309"], kinds=subs.KINDS,
                       frequency="fast", collection="JWST")  # fmt: skip

    _ingest(archive, source)
    _ingest(archive, source)  # unchanged files: no new events
    with archive.engine.connect() as conn:
        kinds = dict(
            conn.execute(
                select(notification_events.c.kind, func.count())
                .where(notification_events.c.obs_collection == "HST")
                .group_by(notification_events.c.kind)
            ).all()
        )
        assert conn.scalar(select(func.count()).select_from(notification_events)) == 3 * len(files)
    # released in 2012: Public on arrival as well
    assert kinds == {"New": len(files), "First": len(files), "Public": len(files)}

    report = run_notifications(archive)
    assert (report.emails, report.events_sent) == (1, 3 * len(files))
    [(to, name, events)] = _outbox(archive)
    assert to.startswith("alice-")
    assert name.startswith("event_metadata_hst-program-12309_hourly_")
    assert sorted(e["filename"] for e in events if e["event_type"] == "New") == files
    assert {(e["mission"], e["program"]) for e in events} == {("HST", 12309)}
    _clear_outbox(archive)

    changed = source / "hst" / "idxx01010_drz.fits"
    with fits.open(changed, mode="update") as hdus:
        hdus[0].header["DATE"] = "2099-01-01T00:00:00.000"
    assert _ingest(archive, source).replaced == 1
    run_notifications(archive, force=True)
    [(_, _, events)] = _outbox(archive)
    assert [(e["event_type"], e["filename"]) for e in events] == [("Reprocessed", changed.name)]
