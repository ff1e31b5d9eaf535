"""Subscriptions end to end: subscribe on the portal, ingest, ``skyarchive notify-send`` through a
real SMTP server, a reprocessed file, ``program set-eap``, and another user kept out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import httpx
from astropy.io import fits

from skyarchive.access import users
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.ingest.run import ingest_paths
from skyarchive.notify.digest import run_notifications
from tests.e2e.conftest import LiveServer
from tests.e2e.test_access_security import PASSWORD, form_csrf, portal_login


def _attachment(raw: bytes) -> tuple[Message, str, list[dict]]:
    message = message_from_bytes(raw)
    [part] = [p for p in message.walk() if p.get_filename()]
    return message, part.get_filename(), json.loads(part.get_payload(decode=True))


def _notify_send(home: Path, port: int, *args: str) -> str:
    env = {"SKYARCHIVE_SMTP_HOST": "127.0.0.1", "SKYARCHIVE_SMTP_PORT": str(port)}
    done = subprocess.run(
        [sys.executable, "-m", "skyarchive", "--home", str(home), *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stderr


def _subscriptions_html(client: httpx.Client) -> str:
    page = client.get("/account")
    assert page.status_code == 200
    return page.text.split('id="subscriptions"')[1].split("</section>")[0]


def test_subscription_from_portal_to_mailbox(tmp_path: Path, demo_output, smtp) -> None:  # type: ignore[no-untyped-def]
    port, inbox = smtp
    out, _ = demo_output
    home = tmp_path / "home"
    archive = Archive.open(Settings(home=home, smtp_host="127.0.0.1", smtp_port=port))
    emails = {who: f"{who}-{uuid.uuid4().hex[:6]}@example.org" for who in ("alice", "bob")}
    with archive.engine.begin() as conn:
        for who, email in emails.items():
            users.create_user(conn, email=email, display_name=who.title(), password=PASSWORD)
    try:
        with LiveServer(archive) as server, httpx.Client(base_url=server.url) as alice, \
                httpx.Client(base_url=server.url) as bob:  # fmt: skip
            assert portal_login(alice, emails["alice"]).status_code == 303
            assert "No subscriptions yet." in _subscriptions_html(alice)
            csrf = form_csrf(alice.get("/account").text)
            form = {"program_ids": "1558, 4567", "kinds": ["New", "First", "Reprocessed", "Public"],
                    "frequency": "fast", "collection": "JWST"}  # fmt: skip
            forged = alice.post("/account/subscriptions", data={**form, "csrf_token": "forged"})
            assert forged.status_code == 403
            added = alice.post("/account/subscriptions", data={**form, "csrf_token": csrf})
            assert added.status_code == 303
            bad = alice.post("/account/subscriptions",
                             data={**form, "program_ids": "15a8", "csrf_token": csrf})  # fmt: skip
            assert bad.status_code == 400 and "not a program ID" in bad.text
            listed = _subscriptions_html(alice)
            assert "JWST 1558" in listed and "JWST 4567" in listed and "Fast (hourly)" in listed
            ids = [int(x.split("/")[0]) for x in listed.split("/account/subscriptions/")[1:]]
            assert len(ids) == 2

            # The demo's files arrive; one e-mail per program, through the real SMTP server.
            report = ingest_paths(
                [Path(out)], engine=archive.engine, storage=archive.storage, default_eap_months=12
            )
            assert report.ok, report.failed
            _notify_send(home, port, "notify-send")
            mails = {}
            for raw in inbox.messages:
                message, name, events = _attachment(raw)
                assert message["To"] == emails["alice"]
                mails[name.split("_")[2]] = (name, events)
            assert sorted(mails) == ["jwst-program-1558", "jwst-program-4567"]
            name, events = mails["jwst-program-4567"]
            assert name.startswith("event_metadata_jwst-program-4567_hourly_")
            files = sorted(p.name for p in (Path(out) / "jwst" / "jw04567").iterdir())
            kinds = {k: sorted(e["filename"] for e in events if e["event_type"] == k)
                     for k in ("New", "First", "Public", "Reprocessed")}  # fmt: skip
            assert kinds == {"New": files, "First": files, "Public": [], "Reprocessed": []}
            _, events_1558 = mails["jwst-program-1558"]
            assert {e["event_type"] for e in events_1558} == {"New", "First", "Public"}
            level3 = next(e for e in events_1558 if e["filename"].endswith("_i2d.fits"))
            assert level3["fileset"].count("_") == 2 and level3["program"] == 1558
            assert {e["mission"] for e in events_1558} == {"JWST"}
            assert len({e["event_id"] for e in events + events_1558}) == len(events + events_1558)

            # A second run has nothing new to say.
            inbox.messages.clear()
            _notify_send(home, port, "notify-send", "--force")
            assert inbox.messages == []

            # Bob sees nothing of Alice's and cannot remove her subscriptions.
            assert portal_login(bob, emails["bob"]).status_code == 303
            assert "No subscriptions yet." in _subscriptions_html(bob)
            bob_csrf = form_csrf(bob.get("/account").text)
            taken = bob.post(f"/account/subscriptions/{ids[0]}/remove",
                             data={"csrf_token": bob_csrf})  # fmt: skip
            assert taken.status_code == 404
            assert "JWST 1558" in _subscriptions_html(alice)

            # A reprocessed file of program 1558 (a later DATE, other bytes).
            newer = tmp_path / "newer"
            newer.mkdir()
            original = next((Path(out) / "jwst" / "jw01558").glob("*_cal.fits"))
            shutil.copyfile(original, newer / original.name)
            with fits.open(newer / original.name, mode="update") as hdus:
                hdus[0].header["DATE"] = "2099-01-01T00:00:00.000"
            again = ingest_paths(
                [newer], engine=archive.engine, storage=archive.storage, default_eap_months=12
            )
            assert again.replaced == 1
            run_notifications(archive, force=True)
            [raw] = inbox.messages
            _, name, events = _attachment(raw)
            assert "program-1558" in name
            assert [(e["event_type"], e["filename"]) for e in events] == [
                ("Reprocessed", original.name)
            ]
            inbox.messages.clear()

            # The operator ends program 4567's exclusive access: Public events for its files.
            done = subprocess.run(
                [sys.executable, "-m", "skyarchive", "--home", str(home), "program", "set-eap",
                 "4567", "0"], capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            _notify_send(home, port, "notify-send", "--force")
            [raw] = inbox.messages
            _, name, events = _attachment(raw)
            assert "program-4567" in name
            assert {e["event_type"] for e in events} == {"Public"}
            assert sorted(e["filename"] for e in events) == files

            # Alice removes a subscription on the portal.
            removed = alice.post(f"/account/subscriptions/{ids[0]}/remove",
                                 data={"csrf_token": csrf})  # fmt: skip
            assert removed.status_code == 303
            assert len(_subscriptions_html(alice).split("/account/subscriptions/")) == 2
    finally:
        archive.engine.dispose()
