"""The download basket's JSON API and deliveries from it, through a live server."""

from __future__ import annotations

import hashlib
import io
import mailbox
import uuid
import zipfile

import httpx
import pytest
from sqlalchemy import select

from skyarchive.access import grants, sessions, tokens, users
from skyarchive.access.sessions import SESSION_COOKIE
from skyarchive.db.tables import observations
from skyarchive.delivery.staging import run_staging
from skyarchive.notify.mail import outbox_path


def _obsid(archive, obs_id: str) -> str:  # type: ignore[no-untyped-def]
    with archive.engine.connect() as conn:
        return str(conn.scalar(select(observations.c.obsid).where(observations.c.obs_id == obs_id)))


@pytest.fixture(scope="module")
def obsids(demo_archive) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with demo_archive.engine.connect() as conn:
        eap = conn.scalar(
            select(observations.c.obsid).where(
                observations.c.proposal_id == "4567",
                observations.c.status == "executed",
                observations.c.calib_level == 3,
            )  # fmt: skip
        )
    return {
        "nircam": _obsid(demo_archive, "jw01073-o001_t001_nircam_clear-f150w"),
        "niriss": _obsid(demo_archive, "jw01366-o001_t001_niriss_clear-gr700xd-substrip256"),
        "eap": str(eap),
    }


def test_anonymous_basket_lives_in_a_cookie(live_server, obsids) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=60) as browser:
        assert browser.get("/api/portal/basket").json()["summary"]["files"] == 0
        added = browser.post("/api/portal/basket/observations",
                             json={"obsids": [obsids["nircam"], obsids["niriss"]]})  # fmt: skip
        assert added.status_code == 200
        cookie = added.headers["set-cookie"]
        assert "skyarchive_basket=" in cookie and "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower()
        full = browser.get("/api/portal/basket").json()
        assert [m["mission"] for m in full["tree"]] == ["JWST"]
        assert [o["obsid"] for o in full["tree"][0]["observations"]] == [
            obsids["nircam"], obsids["niriss"]
        ]  # fmt: skip
        total = full["summary"]["files"]
        science = next(f for f in full["facets"]["productType"] if f["value"] == "SCIENCE")
        assert science["label"] == f"SCIENCE ({science['total']} of {science['total']})"

        mrp = browser.get("/api/portal/basket", params={"mrp": "true"}).json()
        chosen = [c for o in mrp["tree"][0]["observations"] for c in o["children"] if c["selected"]]
        assert chosen and all(c["mrp"] for c in chosen)
        assert mrp["summary"]["selected_files"] == len(chosen) < total
        science = next(f for f in mrp["facets"]["productType"] if f["value"] == "SCIENCE")
        assert science["count"] < science["total"]
        assert science["label"] == f"SCIENCE ({science['count']} of {science['total']})"
        levels = browser.get("/api/portal/basket",
                             params={"calib_level": 3, "extension": "fits"}).json()  # fmt: skip
        picked = [c for o in levels["tree"][0]["observations"] for c in o["children"]
                  if c["selected"]]  # fmt: skip
        assert picked and all(c["calib_level"] == 3 and c["extension"] == "fits" for c in picked)

        made = browser.post("/api/portal/basket/deliveries",
                            json={"method": "zip", "filters": {"mrp": True},
                                  "remove_completed": True})  # fmt: skip
        assert made.status_code == 201, made.text
        info = made.json()
        assert info["status"] == "queued" and info["files_total"] == len(chosen)
        download = browser.get(info["download_url"])
        assert download.status_code == 200
        names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
        assert sorted(names[:-1]) == sorted(c["path"] for c in chosen)
        status = browser.get(info["status_url"]).json()
        assert status["status"] == "done" and status["files_done"] == len(chosen)
        after = browser.get("/api/portal/basket").json()["summary"]
        assert after["files"] == total - len(chosen)  # delivered files left the basket

        script = browser.post("/api/portal/basket/deliveries", json={"method": "curl"}).json()
        text = browser.get(script["download_url"]).text
        assert text.count("\nfetch ") == after["files"]

        # another browser sees neither the basket nor the request
        stranger = httpx.get(info["status_url"], timeout=30)
        assert stranger.status_code == 404
        assert browser.delete("/api/portal/basket").status_code == 204
        assert browser.get("/api/portal/basket").json()["summary"]["files"] == 0


def test_user_basket_csrf_staging_and_staged_files(
    live_server, demo_archive, obsids, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    tag = uuid.uuid4().hex[:6]
    with demo_archive.engine.begin() as conn:
        user = users.create_user(
            conn, email=f"basket-{tag}@example.org", password="long password 1"
        )
        other = users.create_user(conn, email=f"basket-other-{tag}@example.org")
        grants.grant(conn, "4567", user_id=user.user_id, granted_by=None)
        cookie, session = sessions.start_session(conn, user.user_id)
        other_token, _ = tokens.create_token(conn, user_id=other.user_id, name="t", days=1,
                                             max_days=60)  # fmt: skip
        user_token, _ = tokens.create_token(conn, user_id=user.user_id, name="t", days=1,
                                            max_days=60)  # fmt: skip
    with httpx.Client(base_url=live_server.url, timeout=60,
                      cookies={SESSION_COOKIE: cookie}) as browser:  # fmt: skip
        body = {"obsids": [obsids["niriss"], obsids["eap"]]}
        refused = browser.post("/api/portal/basket/observations", json=body)
        assert refused.status_code == 403  # a session must echo its CSRF token
        headers = {"X-CSRF-Token": session.csrf_token}
        assert browser.post("/api/portal/basket/observations", json=body,
                            headers=headers).status_code == 200  # fmt: skip
        tree = browser.get("/api/portal/basket").json()
        restricted = [c for o in tree["tree"][0]["observations"] for c in o["children"]
                      if c["restricted"]]  # fmt: skip
        assert restricted and all(c["may_retrieve"] for c in restricted)
        wanted = {"method": "staging", "filters": {"productType": ["SCIENCE"]}}
        made = browser.post("/api/portal/basket/deliveries", headers=headers, json=wanted)
        assert made.status_code == 202, made.text
        info = made.json()
        assert info["status"] == "queued" and info["location"].endswith(f"/{info['request_id']}/")

    # the worker's job, run here: then the area is served with an index and the one access rule.
    # The worker has no request, so its e-mail links use base_url, as an operator who sends
    # e-mail sets it (docs/configuration.md).
    monkeypatch.setattr(demo_archive.settings, "base_url", live_server.url)
    assert run_staging(demo_archive, request_id=info["request_id"]) == "done"
    status_url = f"{live_server.url}/api/v0.1/Download/stage/{info['request_id']}"
    mine_only = {"Authorization": f"token {user_token}"}
    status = httpx.get(status_url, headers=mine_only, timeout=30).json()
    assert status["status"] == "done" and status["files_done"] == info["files_total"]
    assert status["expires_at"] > status["finished_at"]
    root = httpx.get(info["location"], timeout=30)
    assert root.status_code == 200 and 'href="JWST/"' in root.text and "MANIFEST.HTML" in root.text
    staged = [
        c for c in tree["tree"][0]["observations"][0]["children"] if c["productType"] == "SCIENCE"
    ]
    public_file = staged[0]
    body = httpx.get(f"{info['location']}{public_file['path']}", timeout=30)
    assert body.status_code == 200 and len(body.content) == public_file["size"]
    secret = next(c for c in restricted if c["productType"] == "SCIENCE")
    url = f"{info['location']}{secret['path']}"
    assert httpx.get(url, timeout=30).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"token {other_token}"},
                     timeout=30).status_code == 403  # fmt: skip
    mine = httpx.get(url, headers={"Authorization": f"token {user_token}"}, timeout=30)
    assert mine.status_code == 200 and len(mine.content) == secret["size"]
    assert hashlib.sha256(mine.content).hexdigest() in httpx.get(
        f"{info['location']}MANIFEST.HTML", timeout=30).text  # fmt: skip
    for bad in ("../archive.db", ".%2e/x", "JWST/../../x"):
        reply = httpx.get(f"{info['location']}{bad}", timeout=30, follow_redirects=True)
        assert reply.status_code in (400, 404)

    # the notice went to the outbox (no SMTP server configured)
    box = mailbox.Maildir(outbox_path(demo_archive.settings), create=False)
    notices = [m for m in box if info["request_id"] in str(m["Subject"])]
    assert len(notices) == 1 and notices[0]["To"] == user.email
    assert info["location"] in notices[0].get_payload()
    anonymous_staging = httpx.post(f"{live_server.url}/api/v0.1/Download/stage",
                                   data={"obsid": obsids["niriss"]}, timeout=30)  # fmt: skip
    assert anonymous_staging.status_code == 400  # anonymous staging needs an e-mail address
    assert "e-mail" in anonymous_staging.json()["error"]["message"]


def test_login_takes_over_the_anonymous_basket(live_server, demo_archive, obsids) -> None:  # type: ignore[no-untyped-def]
    with demo_archive.engine.begin() as conn:
        user = users.create_user(conn, email=f"merge-{uuid.uuid4().hex[:6]}@example.org")
        token, _ = tokens.create_token(conn, user_id=user.user_id, name="t", days=1, max_days=60)
    with httpx.Client(base_url=live_server.url, timeout=60) as browser:
        browser.post("/api/portal/basket/observations", json={"obsids": [obsids["nircam"]]})
        browser.headers["Authorization"] = f"token {token}"
        browser.post("/api/portal/basket/observations", json={"obsids": [obsids["niriss"]]})
        tree = browser.get("/api/portal/basket").json()["tree"][0]["observations"]
        assert {o["obsid"] for o in tree} == {obsids["nircam"], obsids["niriss"]}
        removed = browser.post("/api/portal/basket/remove", json={"obsids": [obsids["nircam"]]})
        assert removed.json()["summary"]["observations"] == 1
        unknown = browser.post("/api/portal/basket/observations", json={"obsids": ["987654321"]})
        assert unknown.status_code == 404
