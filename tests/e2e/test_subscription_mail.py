"""The subscription e-mail as an astronomer gets it (issue 21): sent by the real CLI through a
real SMTP server or into the maildir outbox, with a signed one-click unsubscribe link that the
real server honours, links to where the server is really reached, the observations and planned
observations the files belong to, each file once, and counts in words."""

from __future__ import annotations

import logging
import mailbox
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
from sqlalchemy import select

from skyarchive.access import users
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import archive_state, observations, products
from skyarchive.ingest.run import ingest_paths
from skyarchive.notify import subscriptions as subs
from skyarchive.notify.links import REFRESH_SECONDS, SEEN_URL, SeenUrl
from skyarchive.notify.mail import outbox_path
from skyarchive.notify.unsubscribe import LINK_DAYS, unsubscribe_token
from skyarchive.portal.unsubscribe_routes import HIDE_UNSUBSCRIBE_SECRETS
from tests.e2e.conftest import LiveServer
from tests.e2e.test_access_security import PASSWORD, form_csrf, portal_login

LINK = re.compile(r"https?://[^\s>]+/unsubscribe/[^\s>]+")


def _cli(home: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "skyarchive", "--home", str(home), *args],
        capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return " ".join((done.stdout + done.stderr).split())  # rich wraps long lines


def _parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def _body(message: EmailMessage) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_content().replace("\r\n", "\n")  # type: ignore[attr-defined]


def _ingest(archive: Archive, *paths: Path) -> None:
    report = ingest_paths(
        list(paths), engine=archive.engine, storage=archive.storage, default_eap_months=12
    )
    assert report.ok, report.failed


def _user(archive: Archive, name: str) -> tuple[int, str]:
    email = f"{name}-{uuid.uuid4().hex[:6]}@example.org"
    with archive.engine.begin() as conn:
        user = users.create_user(conn, email=email, display_name=name, password=PASSWORD)
    return user.user_id, email


def _archive_followed(home: Path, program: str, kind: str) -> Archive:
    """A new archive (no base_url) where one user follows ``program``'s ``kind`` events, Fast."""
    archive = Archive.open(Settings(home=home))
    user_id, _ = _user(archive, "alice")
    with archive.engine.begin() as conn:
        subs.subscribe(conn, user_id=user_id, program_ids=[program], kinds=[kind],
                       frequency="fast")  # fmt: skip
    return archive


def _outbox(archive: Archive) -> list[EmailMessage]:
    box = mailbox.Maildir(outbox_path(archive.settings), create=True)
    found = sorted(box, key=lambda m: m.get_date())
    box.close()
    shutil.rmtree(outbox_path(archive.settings))
    return [_parse(m.as_bytes()) for m in found]


def test_one_click_unsubscribe_from_an_email_sent_through_smtp(  # type: ignore[no-untyped-def]
    tmp_path: Path, demo_output, smtp
) -> None:
    port, inbox = smtp
    out, _ = demo_output
    home = tmp_path / "home"
    archive = Archive.open(Settings(home=home))  # no base_url: links follow the server's URL
    _, alice = _user(archive, "alice")
    program_dir = Path(out) / "jwst" / "jw04567"
    files = sorted(p.name for p in program_dir.iterdir())
    try:
        with LiveServer(archive) as server, httpx.Client(base_url=server.url) as browser:
            assert portal_login(browser, alice).status_code == 303
            csrf = form_csrf(browser.get("/account").text)
            added = browser.post("/account/subscriptions", data={
                "program_ids": "4567", "kinds": ["New", "First", "Public"],
                "frequency": "monthly", "collection": "JWST", "csrf_token": csrf})  # fmt: skip
            assert added.status_code == 303
            assert "Monthly" in browser.get("/account").text

            _ingest(archive, program_dir)
            said = _cli(home, "notify-send", env={"SKYARCHIVE_SMTP_HOST": "127.0.0.1",
                                                  "SKYARCHIVE_SMTP_PORT": str(port)})  # fmt: skip
            assert f"sent 1 e-mail with {2 * len(files)} events" in said
            assert "base_url" not in said  # the signed-in visit showed the server's URL
            [raw] = inbox.messages
            message = _parse(raw)
            body = _body(message)

            # The headers of RFC 2369 / RFC 8058, and the same link in the text.
            header = message["List-Unsubscribe"].strip()
            assert header.startswith(f"<{server.url}/unsubscribe/") and header.endswith(">")
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            link = header[1:-1]
            assert LINK.findall(body) == [link]
            assert "127.0.0.1:8000" not in body and f"{server.url}/account#subscriptions" in body

            # What the text says: counts in words, observations, each file once.
            with archive.engine.connect() as conn:
                owners = set(conn.scalars(
                    select(observations.c.obs_id).join(
                        products, products.c.owner_obsid == observations.c.obsid
                    ).where(products.c.proposal_id == "4567")))  # fmt: skip
            assert f"New          {len(files)} events" in body
            assert f"{len(files)} files in {len(owners)} observations:" in body
            assert re.search(r"\b1 (events|files|observations)\b", body) is None
            headings = re.findall(r"^  (\S+) \(\d+ files?\)$", body, flags=re.M)
            assert headings and set(headings) <= owners
            assert all(body.count(name) <= 1 for name in files)
            assert sum(body.count(name) for name in files) == 20  # the first 20, once each
            assert "(New, First)" in body
            assert f"... and {len(files) - 20} more files" in body

            # A stranger's mail program (no cookie, no log-in) sees the page, then one-clicks.
            with httpx.Client() as stranger:
                page = stranger.get(link)
                assert page.status_code == 200
                assert "Unsubscribe from JWST program 4567?" in page.text
                assert page.headers["Referrer-Policy"] == "no-referrer"
                assert f'action="{link.removeprefix(server.url)}"' in page.text

                tampered = link[:-1] + ("A" if link[-1] != "A" else "B")
                cut = link[:-5]
                for bad in (tampered, cut):
                    refused = stranger.post(bad, data={"List-Unsubscribe": "One-Click"})
                    assert refused.status_code == 400
                    assert "not valid" in refused.text and "account page" in refused.text
                token = link.rsplit("/", 1)[1]
                nobody = stranger.get(f"{server.url}/unsubscribe/999999{token[token.index('.') :]}")
                assert nobody.status_code == 404 and "removed already" in nobody.text

                with archive.engine.begin() as conn:
                    [sub] = subs.list_subscriptions(conn, user_id=users.find_user(
                        conn, alice).user_id)  # fmt: skip
                    old = unsubscribe_token(conn, sub, now=time.time() - (LINK_DAYS + 1) * 86400)
                # a genuine link past its expiry is Gone (410), on the page and on one click
                for method in ("GET", "POST"):
                    expired = stranger.request(method, f"{server.url}/unsubscribe/{old}")
                    assert expired.status_code == 410, method
                    assert "has expired" in expired.text and "account page" in expired.text
                assert "No subscriptions yet." not in browser.get("/account").text

                done = stranger.post(link, data={"List-Unsubscribe": "One-Click"})
                assert done.status_code == 200 and "Unsubscribed" in done.text
                assert alice in done.text
                again = stranger.post(link, data={"List-Unsubscribe": "One-Click"})
                assert again.status_code == 404 and "removed already" in again.text
            assert "No subscriptions yet." in browser.get("/account").text
    finally:
        archive.engine.dispose()

    # The access log never shows the token.
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s "%s %s"',
                               ("1.2.3.4", "POST", link), None)  # fmt: skip
    HIDE_UNSUBSCRIBE_SECRETS.filter(record)
    assert link.rsplit("/", 1)[1] not in record.getMessage()
    assert "/unsubscribe/(hidden)" in record.getMessage()


def test_without_base_url_or_a_visit_the_worker_says_so_and_sends_no_wrong_links(  # type: ignore[no-untyped-def]
    tmp_path: Path, demo_output
) -> None:
    out, _ = demo_output
    home = tmp_path / "home"
    archive = _archive_followed(home, "1366", "New")
    program_dir = tmp_path / "jw01366"
    shutil.copytree(Path(out) / "jwst" / "jw01366", program_dir)
    _ingest(archive, program_dir)
    try:
        said = _cli(home, "notify-send")
        assert "base_url" in said and "without links" in said
        [message] = _outbox(archive)
        body = _body(message)
        assert message["List-Unsubscribe"] is None
        assert "http" not in body and "base_url" in body

        # With base_url set, every link starts with it.
        newer = tmp_path / "newer"
        newer.mkdir()
        original = next(p for p in sorted(program_dir.glob("*.fits"))
                        if re.match(r"jw\d{11}_\d{5}_\d{5}[_-]", p.name))  # fmt: skip
        exposure_99 = original.name[:20] + "00099" + original.name[25:]  # a new exposure
        shutil.copyfile(original, newer / exposure_99)
        _ingest(archive, newer)
        said = _cli(home, "notify-send", "--force",
                    env={"SKYARCHIVE_BASE_URL": "https://archive.example.org/sky/"})  # fmt: skip
        assert "base_url" not in said
        [message] = _outbox(archive)
        links = re.findall(r"https?://\S+", _body(message))
        assert len(links) == 3
        assert all(u.startswith("https://archive.example.org/sky/") for u in links)
        assert message["List-Unsubscribe"].strip() == f"<{links[-1]}>"  # folded when long
    finally:
        archive.engine.dispose()


def test_the_email_says_when_a_planned_observation_was_executed(  # type: ignore[no-untyped-def]
    tmp_path: Path, demo_output
) -> None:
    out, _ = demo_output
    archive = Archive.open(Settings(home=tmp_path / "home", base_url="https://sky.example.org"))
    user_id, _ = _user(archive, "alice")
    _ingest(archive, Path(out) / "planned.skyarchive.json")
    with archive.engine.connect() as conn:
        planned = sorted(conn.scalars(select(observations.c.obs_id).where(
            observations.c.proposal_id == "1558", observations.c.status == "planned")))  # fmt: skip
    assert planned  # the demo plans observations 3 and 4 of program 1558
    visit = planned[0][:13]  # jw01558003001
    with archive.engine.begin() as conn:
        subs.subscribe(conn, user_id=user_id, program_ids=["1558"], kinds=["New"],
                       frequency="daily")  # fmt: skip
    executed = tmp_path / "executed"
    executed.mkdir()
    source = next((Path(out) / "jwst" / "jw01558").glob("jw01558001001_*_mirimage_cal.fits"))
    copy = executed / source.name.replace("jw01558001001", visit)
    shutil.copyfile(source, copy)
    _ingest(archive, executed)
    try:
        said = _cli(archive.settings.home, "notify-send",
                    env={"SKYARCHIVE_BASE_URL": "https://sky.example.org"})  # fmt: skip
        assert "sent 1 e-mail with 1 event;" in said
        [message] = _outbox(archive)
        body = _body(message)
        assert f"Planned observation {planned[0]} was executed" in body
        assert planned[1] not in body  # the other planned observation is still to come
        assert "1 file in 1 observation:" in body and "New          1 event" in body
        assert message["Subject"].endswith(": 1 file, 1 event (New)")
    finally:
        archive.engine.dispose()


def test_set_eap_says_how_many_files_became_public(tmp_path: Path, demo_output) -> None:  # type: ignore[no-untyped-def]
    out, _ = demo_output
    home = tmp_path / "home"
    archive = _archive_followed(home, "4567", "Public")
    program_dir = Path(out) / "jwst" / "jw04567"
    _ingest(archive, program_dir)
    files = len(list(program_dir.iterdir()))
    try:
        first = _cli(home, "notify-send")  # the first check starts the release watermark
        assert "0 files became public" in first and "sent 0 e-mails" in first
        said = _cli(home, "program", "set-eap", "4567", "0")
        assert f"{files} files became public ({files} Public events for subscribers)" in said
        again = _cli(home, "program", "set-eap", "4567", "0")
        assert "0 files became public (0 Public events for subscribers)" in again
        sent = _cli(home, "notify-send")
        assert "0 files became public since the last check" in sent
        assert f"sent 1 e-mail with {files} events" in sent
    finally:
        archive.engine.dispose()


def test_the_server_records_its_url_from_signed_in_visits_only_and_rarely(tmp_path: Path) -> None:
    archive = Archive.open(Settings(home=tmp_path / "home"))
    _, alice = _user(archive, "alice")

    def recorded() -> tuple[str, float] | None:
        with archive.engine.connect() as conn:
            row = conn.execute(
                select(archive_state.c.value, archive_state.c.updated_at).where(
                    archive_state.c.name == SEEN_URL
                )
            ).first()
        return (row[0], row[1]) if row else None

    try:
        with LiveServer(archive) as server, httpx.Client(base_url=server.url) as browser:
            # Anonymous callers choose their Host freely: it never becomes the e-mails' links.
            for path in ("/", "/search", "/login"):
                assert browser.get(path, headers={"Host": "evil.example"}).status_code == 200
            assert recorded() is None
            assert portal_login(browser, alice).status_code == 303
            assert browser.get("/account").status_code == 200
            first = recorded()
            assert first is not None and first[0] == server.url
            for _ in range(20):  # not a write per request
                assert browser.get("/account").status_code == 200
            assert recorded() == first
    finally:
        archive.engine.dispose()

    seen = SeenUrl()  # a changed URL is written at once; the same one after REFRESH_SECONDS
    assert seen.remember(archive.engine, "http://a.example/", now=1000.0)
    assert not seen.remember(archive.engine, "http://a.example", now=1001.0)
    assert seen.remember(archive.engine, "http://b.example", now=1002.0)
    assert not seen.remember(archive.engine, "http://b.example", now=1001.0 + REFRESH_SECONDS)
    assert seen.remember(archive.engine, "http://b.example", now=1003.0 + REFRESH_SECONDS)
    assert recorded() == ("http://b.example", 1003.0 + REFRESH_SECONDS)
