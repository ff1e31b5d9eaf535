"""Subscribing where one meets a program, the account menu's notices and the Atom feed, through
the real server; planned observations replaced by executed ones, through the MAST API and the
portal's search."""

from __future__ import annotations

import json
import mailbox
import re
import shutil
import uuid
from email.message import Message
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET

import httpx

from skyarchive.access import grants, users
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observations
from skyarchive.ingest.run import ingest_paths
from skyarchive.notify.digest import run_notifications
from skyarchive.notify.mail import outbox_path
from tests.e2e.conftest import LiveServer
from tests.e2e.test_access_security import PASSWORD, form_csrf, portal_login

ATOM = "{http://www.w3.org/2005/Atom}"


def _people(archive: Archive, *names: str) -> dict[str, str]:
    emails = {who: f"{who}-{uuid.uuid4().hex[:6]}@example.org" for who in names}
    with archive.engine.begin() as conn:
        for who, email in emails.items():
            users.create_user(conn, email=email, display_name=who.title(), password=PASSWORD)
    return emails


def _menu(client: httpx.Client) -> str:
    """The account menu's notices panel on an ordinary page."""
    page = client.get("/search")
    assert page.status_code == 200
    return page.text.split('class="notices-menu"')[1].split("</details>")[0]


def _unread(menu: str) -> int:
    found = re.search(r'aria-label="Notices: (\d+) unread"', menu)
    assert found, menu
    return int(found[1])


def _notice_files(html: str) -> list[str]:
    return [unescape(name) for name in re.findall(r"<li><code>([^<]+)</code>", html)]


def _outbox_events(home: Path) -> dict[str, list[dict]]:
    """The JSON attachments of the e-mails in the maildir outbox, by recipient."""
    found: dict[str, list[dict]] = {}
    for raw in mailbox.Maildir(outbox_path(Settings(home=home)), create=False):
        message: Message = raw
        for part in message.walk():
            if part.get_filename():
                found.setdefault(message["To"], []).extend(
                    json.loads(part.get_payload(decode=True))  # type: ignore[arg-type]
                )
    return found


def test_subscribe_from_a_program_then_notices_and_feed(tmp_path: Path, demo_output) -> None:  # type: ignore[no-untyped-def]
    out, _ = demo_output
    home = tmp_path / "home"
    archive = Archive.open(Settings(home=home))
    emails = _people(archive, "alice", "bob")
    program_files = sorted(p.name for p in (Path(out) / "jwst" / "jw04567").iterdir())
    with LiveServer(archive) as server, httpx.Client(base_url=server.url) as alice, \
            httpx.Client(base_url=server.url) as bob:  # fmt: skip
        # Anonymous: sent to log in, and back to the form afterwards.
        asked = "/subscribe?program=4567&collection=JWST&next=%2Fsearch%3Fq%3D4567"
        first = alice.get(asked)
        assert first.status_code == 303
        login_url = first.headers["location"]
        assert login_url.startswith("/login?")
        back_to = parse_qs(urlsplit(login_url).query)["next"][0]
        login_page = alice.get(login_url)
        assert f'value="{back_to}"' in unescape(login_page.text)
        logged_in = alice.post("/login", data={
            "email": emails["alice"], "password": PASSWORD, "next": back_to,
            "csrf_token": form_csrf(login_page.text),
        })  # fmt: skip
        assert logged_in.status_code == 303 and logged_in.headers["location"] == back_to
        form = alice.get(back_to)
        assert form.status_code == 200
        assert 'name="program_ids" value="4567"' in form.text
        csrf = form_csrf(form.text)
        fields = {
            "program_ids": "4567", "collection": "JWST", "kinds": ["New", "Public"],
            "frequency": "weekly", "origin": "subscribe", "next": "/search?q=4567",
        }  # fmt: skip

        forged = alice.post("/account/subscriptions", data={**fields, "csrf_token": "forged"})
        assert forged.status_code == 403

        # Program 0, empty or missing fields: the form again with its message, never raw JSON.
        for bad, message in (
            ({"program_ids": "0"}, "program IDs start at 1"),
            ({"program_ids": "00000"}, "program IDs start at 1"),
            ({"program_ids": ""}, "Give at least one program ID."),
            ({"kinds": []}, "Choose at least one kind"),
        ):
            sent = {**fields, **bad, "csrf_token": csrf}
            answer = alice.post("/account/subscriptions", data=sent)
            assert answer.status_code == 400, (bad, answer.text[:300])
            assert answer.headers["content-type"].startswith("text/html")
            assert message in answer.text and 'action="/account/subscriptions"' in answer.text
        bare = alice.post("/account/subscriptions", data={"csrf_token": csrf})
        assert bare.status_code == 400 and bare.headers["content-type"].startswith("text/html")
        assert "Give at least one program ID." in bare.text
        on_account = alice.post("/account/subscriptions", data={"csrf_token": csrf,
                                                                "program_ids": "0"})  # fmt: skip
        assert on_account.status_code == 400 and 'id="subscriptions"' in on_account.text

        saved = alice.post("/account/subscriptions", data={**fields, "csrf_token": csrf})
        assert saved.status_code == 303
        done = alice.get(saved.headers["location"])
        assert done.status_code == 200
        assert "Subscribed to JWST program 4567: New, Public; weekly" in done.text
        assert 'href="/search?q=4567"' in done.text
        # The form again for a followed program shows what is followed.
        again = alice.get("/subscribe?program=04567")
        assert "You already follow this program" in again.text
        assert re.search(r'value="weekly" selected', again.text)

        # Bob follows it from the account page, every kind.
        assert portal_login(bob, emails["bob"]).status_code == 303
        bob_csrf = form_csrf(bob.get("/account").text)
        bob_saved = bob.post("/account/subscriptions", data={
            "program_ids": "4567", "kinds": ["New", "First", "Reprocessed", "Public"],
            "frequency": "fast", "collection": "JWST", "csrf_token": bob_csrf,
        })  # fmt: skip
        assert (
            "Subscribed to JWST program 4567: New, First, Reprocessed, Public; fast"
            in bob.get(bob_saved.headers["location"]).text
        )

        assert _unread(_menu(alice)) == 0 and "No notices yet." in _menu(alice)

        # The program's files arrive.
        report = ingest_paths([Path(out) / "jwst" / "jw04567"], engine=archive.engine,
                              storage=archive.storage, default_eap_months=12)  # fmt: skip
        assert report.ok, report.failed

        # The program's page (for its PI) offers the same form.
        with archive.engine.begin() as conn:
            grants.set_pi(conn, "4567", user_id=users.find_user(conn, emails["alice"]).user_id)
        program_page = alice.get("/account/programs/4567")
        assert program_page.status_code == 200
        link = re.search(r'href="(/subscribe\?program=4567[^"]*)"', program_page.text)
        assert link and "Subscribe to program 4567" in program_page.text
        assert 'name="program_ids" value="4567"' in alice.get(unescape(link[1])).text

        alice_menu, bob_menu = _menu(alice), _menu(bob)
        assert _unread(alice_menu) == 1 and _unread(bob_menu) == 1
        assert "JWST program 4567: New (" in alice_menu  # Alice does not follow First
        assert "JWST program 4567: New, First (" in bob_menu
        full = alice.get("/account/notices").text.split('id="notices-title"')[1]
        assert sorted(_notice_files(full)) == program_files  # each file once
        bob_full = bob.get("/account/notices").text.split('id="notices-title"')[1]
        assert sorted(_notice_files(bob_full)) == program_files  # once, though New and First
        exposure = re.compile(r"^(jw04567\d{6}_\d{5}_\d{5}_[a-z0-9]+)_uncal\.fits$")
        observation_ids = {m[1] for name in program_files if (m := exposure.match(name))}
        said = re.search(r"<p>Observations: ([^<]+)</p>", full)
        assert said and observation_ids <= set(said[1].split(", "))

        # The e-mails are made from the same events: the same files for each subscriber.
        run_notifications(archive, force=True)
        mailed = _outbox_events(home)
        assert sorted({e["filename"] for e in mailed[emails["alice"]]}) == program_files
        assert sorted({e["filename"] for e in mailed[emails["bob"]]}) == program_files
        assert _unread(_menu(alice)) == 1  # e-mailing does not read the notices

        # Mark as read (with the CSRF token of the session).
        upto = re.search(r'name="upto" value="([^"]+)"', _menu(alice))
        assert upto
        forged_read = alice.post("/account/notices/read",
                                 data={"csrf_token": "x", "upto": upto[1]})  # fmt: skip
        assert forged_read.status_code == 403
        read = alice.post("/account/notices/read", data={
            "csrf_token": csrf, "upto": upto[1], "next": "/search"})  # fmt: skip
        assert read.status_code == 303 and read.headers["location"] == "/search"
        assert _unread(_menu(alice)) == 0 and _unread(_menu(bob)) == 1

        # The secret feed: valid Atom with every required element; a new address revokes it.
        assert alice.post("/account/feed", data={"csrf_token": "x"}).status_code == 403
        made = alice.post("/account/feed", data={"csrf_token": csrf})
        assert made.status_code == 200
        feed_url = unescape(re.search(r'id="feed-url"[^>]* value="([^"]+)"', made.text)[1])  # type: ignore[index]
        assert feed_url.startswith(server.url + "/feeds/notices/")
        reader = httpx.get(feed_url)  # a feed reader: no cookie
        assert reader.status_code == 200
        assert reader.headers["content-type"].startswith("application/atom+xml")
        assert "no-store" in reader.headers["cache-control"]
        assert reader.headers["referrer-policy"] == "no-referrer"
        root = ET.fromstring(reader.content)
        assert root.tag == f"{ATOM}feed"
        for required in ("id", "title", "updated"):
            assert (root.findtext(f"{ATOM}{required}") or "").strip(), required
        assert root.findtext(f"{ATOM}author/{ATOM}name")
        [entry] = root.findall(f"{ATOM}entry")
        for required in ("id", "title", "updated", "content"):
            assert (entry.findtext(f"{ATOM}{required}") or "").strip(), required
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry.findtext(f"{ATOM}updated"))  # type: ignore[arg-type]
        assert entry.findtext(f"{ATOM}id", "").startswith("urn:uuid:")
        content = entry.findtext(f"{ATOM}content") or ""
        assert all(name in content for name in program_files)
        assert {c.get("term") for c in entry.findall(f"{ATOM}category")} == {"New"}
        assert emails["alice"] not in reader.text

        remade = alice.post("/account/feed", data={"csrf_token": csrf})
        new_url = unescape(re.search(r'id="feed-url"[^>]* value="([^"]+)"', remade.text)[1])  # type: ignore[index]
        assert new_url != feed_url
        assert httpx.get(feed_url).status_code == 404
        assert httpx.get(new_url).status_code == 200
        assert httpx.get(server.url + "/feeds/notices/guessed-token").status_code == 404
        assert "Make a new feed address" in alice.get("/account").text
    archive.engine.dispose()


def _filtered(server: LiveServer, program: str) -> list[dict]:
    body = {"service": "Mast.Caom.Filtered", "format": "json", "pagesize": 500, "page": 1,
            "params": {"columns": "*",
                       "filters": [{"paramName": "proposal_id", "values": [program]}]}}  # fmt: skip
    answer = httpx.post(f"{server.url}/api/v0/invoke", data={"request": json.dumps(body)},
                        timeout=30)  # fmt: skip
    assert answer.status_code == 200 and answer.json()["status"] == "COMPLETE", answer.text
    return answer.json()["data"]


def _portal_rows(server: LiveServer, program: str) -> list[dict]:
    answer = httpx.post(f"{server.url}/api/portal/search",
                        json={"collection": "program", "text": program}, timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()["rows"]


def test_planned_observation_replaced_when_executed(tmp_path: Path, demo_output) -> None:  # type: ignore[no-untyped-def]
    out, _ = demo_output
    archive = Archive.open(Settings(home=tmp_path / "home"))
    # Program 4567's observation 1 as it was planned (the demo executes it), beside the
    # demo's own planned observations 2 and 3 of the program.
    demo_plan = json.loads((Path(out) / "planned.skyarchive.json").read_text())
    planned = [o for o in demo_plan["observations"] if o["proposal_id"] == "4567"]
    first = dict(planned[0], obs_id="jw04567001001_xx101_00001_miri")
    plan_dir = tmp_path / "plan"
    plan_dir.mkdir()
    manifest = plan_dir / "planned.skyarchive.json"
    manifest.write_text(json.dumps({**demo_plan, "observations": [first, *planned]}))
    assert ingest_paths([manifest], engine=archive.engine, storage=archive.storage,
                        default_eap_months=12).ok  # fmt: skip
    still_planned = {o["obs_id"] for o in planned}

    def statuses(rows: list[dict]) -> dict[str, int]:
        return {row["obs_id"]: int(row["calib_level"]) for row in rows}

    with LiveServer(archive) as server:
        before = statuses(_filtered(server, "4567"))
        assert before == {first["obs_id"]: -1, **{o: -1 for o in still_planned}}

        data = tmp_path / "data"
        shutil.copytree(Path(out) / "jwst" / "jw04567", data)
        assert ingest_paths([data], engine=archive.engine, storage=archive.storage,
                            default_eap_months=12).ok  # fmt: skip
        exposure = re.compile(r"^(jw04567001001_\d{5}_\d{5}_[a-z0-9]+)_uncal\.fits$")
        executed = {m[1] for p in data.iterdir() if (m := exposure.match(p.name))}
        assert executed
        for rows in (_filtered(server, "4567"), _portal_rows(server, "4567")):
            after = statuses(rows)
            assert first["obs_id"] not in after  # replaced, not listed beside the executed one
            assert executed <= set(after) and all(after[o] >= 0 for o in executed)
            assert {o for o, level in after.items() if level == -1} == still_planned

        # Ingesting the old plan again does not bring the planned row back.
        assert ingest_paths([manifest], engine=archive.engine, storage=archive.storage,
                            default_eap_months=12).ok  # fmt: skip
        assert first["obs_id"] not in statuses(_filtered(server, "4567"))
        assert still_planned <= set(statuses(_portal_rows(server, "4567")))

        # An archive from before the rule lists both; the plan ingested again tidies it.
        with archive.engine.begin() as conn:
            conn.execute(observations.insert().values(
                obs_id=first["obs_id"], obs_collection="JWST", proposal_id="4567",
                status="planned", calib_level=-1, s_ra=first["s_ra"], s_dec=first["s_dec"],
            ))  # fmt: skip
        assert first["obs_id"] in statuses(_filtered(server, "4567"))
        assert ingest_paths([manifest], engine=archive.engine, storage=archive.storage,
                            default_eap_months=12).ok  # fmt: skip
        for rows in (_filtered(server, "4567"), _portal_rows(server, "4567")):
            assert first["obs_id"] not in statuses(rows)
            assert executed <= set(statuses(rows))
    archive.engine.dispose()
