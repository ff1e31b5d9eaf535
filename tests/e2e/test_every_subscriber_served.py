"""Issue 21 §1 as it was reproduced: several subscribers of one program, the real ``skyarchive
notify-send`` and a real SMTP server that refuses one of them for a while."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from email import message_from_bytes
from pathlib import Path

from astropy.io import fits

from skyarchive.access import users
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.ingest.run import ingest_paths
from skyarchive.notify import subscriptions as subs
from tests.e2e.conftest import Inbox, free_port
from tests.e2e.test_access_security import PASSWORD


class RefusingInbox(Inbox):
    """Refuses the addresses in ``refused`` at RCPT, as a full mailbox or a hiccup would."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]  # noqa: N802
        if address in self.refused:
            return "450 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def _notify_send(home: Path, port: int, *args: str) -> tuple[int, str]:
    """Exit code and the output (one line: the console wraps long ones)."""
    env = {"SKYARCHIVE_SMTP_HOST": "127.0.0.1", "SKYARCHIVE_SMTP_PORT": str(port),
           "SKYARCHIVE_BASE_URL": "https://sky.example.org"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "skyarchive", "--home", str(home), "notify-send", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )  # fmt: skip
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def _received(inbox: Inbox) -> dict[str, list[tuple[str, str]]]:
    """Per recipient's name, the (event_type, filename) of every event received; inbox emptied."""
    found: dict[str, list[tuple[str, str]]] = {}
    for raw in inbox.messages:
        message = message_from_bytes(raw)
        [part] = [p for p in message.walk() if p.get_filename()]
        events = json.loads(part.get_payload(decode=True))
        found.setdefault(message["To"].split("-")[0], []).extend(
            (e["event_type"], e["filename"]) for e in events
        )
    inbox.messages.clear()
    return found


def _reprocess(archive: Archive, source: Path, into: Path) -> str:
    """Ingest a newer version (a later FITS ``DATE``) of ``source``; returns its name."""
    into.mkdir(parents=True)
    shutil.copyfile(source, into / source.name)
    with fits.open(into / source.name, mode="update") as hdus:
        hdus[0].header["DATE"] = "2099-01-01T00:00:00.000"
    assert _ingest(archive, into).replaced == 1
    return source.name


def _ingest(archive: Archive, path: Path):  # type: ignore[no-untyped-def]
    report = ingest_paths(
        [path], engine=archive.engine, storage=archive.storage, default_eap_months=12
    )
    assert report.ok, report.failed
    return report


def test_every_subscriber_gets_every_event_through_the_real_cli(
    tmp_path: Path, demo_output
) -> None:  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller

    out, _ = demo_output
    home = tmp_path / "home"
    archive = Archive.open(Settings(home=home))
    emails = {who: f"{who}-{uuid.uuid4().hex[:6]}@example.org" for who in ("alice", "bob")}
    with archive.engine.begin() as conn:
        ids = {who: users.create_user(conn, email=email, display_name=who,
                                      password=PASSWORD).user_id
               for who, email in emails.items()}  # fmt: skip
        subs.subscribe(conn, user_id=ids["alice"], program_ids=["4567"], kinds=subs.KINDS,
                       frequency="weekly")  # fmt: skip
        subs.subscribe(conn, user_id=ids["bob"], program_ids=["4567"], kinds=["Reprocessed"],
                       frequency="fast")  # fmt: skip
    program_dir = Path(out) / "jwst" / "jw04567"
    cal = sorted(program_dir.glob("*_cal.fits"))
    inbox = RefusingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    port = controller.port
    work = tmp_path / "reprocessed"
    try:
        _ingest(archive, program_dir)
        assert _notify_send(home, port)[0] == 0
        assert list(_received(inbox)) == ["alice"]  # Bob follows Reprocessed only

        # Bob (Fast, never sent) is due; Alice (Weekly, just sent) is not.
        first = _reprocess(archive, cal[0], work / "1")
        assert _notify_send(home, port)[0] == 0
        assert _received(inbox) == {"bob": [("Reprocessed", first)]}
        # Forced, the event still owed to Alice goes out, and only to her.
        forced = _notify_send(home, port, "--force")
        assert forced == (0, forced[1]) and "sent 1 e-mail with 1 event;" in forced[1]
        assert _received(inbox) == {"alice": [("Reprocessed", first)]}

        # The mail server refuses Alice once: Bob's e-mail goes, hers stays pending.
        second = _reprocess(archive, cal[1], work / "2")
        inbox.refused = {emails["alice"]}
        failed = _notify_send(home, port, "--force")
        assert failed[0] == 1 and "1 failed" in failed[1]
        assert _received(inbox) == {"bob": [("Reprocessed", second)]}
        inbox.refused = set()
        retried = _notify_send(home, port, "--force")
        assert retried[0] == 0
        assert _received(inbox) == {"alice": [("Reprocessed", second)]}
        assert _notify_send(home, port, "--force")[0] == 0
        assert _received(inbox) == {}
    finally:
        controller.stop()
        archive.engine.dispose()
