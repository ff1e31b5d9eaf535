# ruff: noqa: F811  (the fixture imported from tests.portal.browser is a parameter here)
"""Staged files through the real server: one access rule for every file, safe responses, links.

An archive of its own holds an exclusive-access observation whose files include one named
``MANIFEST.HTML`` (and HTML/SVG pages with script) and a public one; every kind of caller
(tests/e2e/callers.py) fetches them from staging areas the staging job made.
"""

from __future__ import annotations

import hashlib
import json
import mailbox
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from email.header import decode_header
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import update

from skyarchive.access.caller import caller_for_user
from skyarchive.access.grants import grant, revoke
from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import delivery_requests
from skyarchive.delivery.requests import start_staging
from skyarchive.delivery.staging import remove_expired, run_staging
from skyarchive.ingest.run import ingest_paths
from skyarchive.notify.mail import outbox_path
from tests.e2e.callers import EXPECTED, Callers, create_callers, headers_for
from tests.e2e.conftest import LiveServer
from tests.portal.browser import chromium  # noqa: F401  (fixture)

EAP_PROGRAM, PUBLIC_PROGRAM = "90077", "90078"
SCRIPT_PAGE = b"<html><body><script>document.title='pwned'</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
UNICODE_NAME = 'spectre "α" naïve;1.txt'
EAP_FILES = {"MANIFEST.HTML": SCRIPT_PAGE, "secret_page.html": SCRIPT_PAGE,
             "secret_data.dat": b"SECRET-BYTES-" + bytes(range(256)) * 10}  # fmt: skip
PUBLIC_FILES = {"public_page.html": SCRIPT_PAGE, "public_logo.svg": SVG,
                "public_preview.png": PNG, UNICODE_NAME: "ünïcode".encode()}  # fmt: skip
BIG, BIG_SIZE = "public_big.dat", 96 << 20  # sparse: streams in many chunks


def run_by_the_test(request_id: str) -> None:
    """No worker runs in these tests: each runs the staging job itself."""


def _observation(obs_id: str, program: str, release: float, files: dict[str, bytes]) -> dict:
    return {
        "obs_id": obs_id, "obs_collection": "HST", "proposal_id": program,
        "instrument_name": "WFC3/UVIS", "target_name": "TEST", "calib_level": 3,
        "t_max": 50000.0, "t_obs_release": release, "dataproduct_type": "image",
        "products": [{"file": name, "productType": "SCIENCE", "productSubGroupDescription": "DRZ",
                      "calib_level": 3, "mrp": True} for name in files],
    }  # fmt: skip


@dataclass
class Site:
    archive: Archive
    server: LiveServer
    callers: Callers
    pi_area: str  # location of a staging area the PI made with every file

    def url(self, path: str) -> str:
        return f"{self.pi_area}{path}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    source = tmp_path_factory.mktemp("staged-in")
    for name, body in {**EAP_FILES, **PUBLIC_FILES}.items():
        (source / name).write_bytes(body)
    with open(source / BIG, "wb") as big:
        big.truncate(BIG_SIZE)
    manifest = {
        "skyarchive_manifest": 1,
        "programs": [{"proposal_id": p, "obs_collection": "HST", "category": "GO", "title": p}
                     for p in (EAP_PROGRAM, PUBLIC_PROGRAM)],
        "observations": [
            _observation("eap-obs", EAP_PROGRAM, now_mjd() + 365, EAP_FILES),
            _observation("public-obs", PUBLIC_PROGRAM, 50001.0, {**PUBLIC_FILES, BIG: b""}),
        ],
    }  # fmt: skip
    (source / "t.skyarchive.json").write_text(json.dumps(manifest))
    archive = Archive.open(Settings(home=tmp_path_factory.mktemp("staged-home")))
    report = ingest_paths([source], engine=archive.engine, storage=archive.storage,
                          default_eap_months=12)  # fmt: skip
    assert report.ok, report.failed
    callers = create_callers(archive.engine, EAP_PROGRAM)
    with LiveServer(archive) as server:
        with archive.engine.connect() as conn:
            pi = caller_for_user(conn, callers.user_ids["pi"])
        info = start_staging(archive, pi, base_url=server.url, enqueue=run_by_the_test,
                             uris=list(EAP_FILES) + list(PUBLIC_FILES))  # fmt: skip
        assert info["files_total"] == len(EAP_FILES) + len(PUBLIC_FILES)
        assert run_staging(archive, request_id=info["request_id"]) == "done"
        yield Site(archive, server, callers, info["location"])
    archive.engine.dispose()


def _get(url: str, who: str, site: Site, **headers: str) -> httpx.Response:
    return httpx.get(url, headers={**headers_for(site.callers, who), **headers}, timeout=30)


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_every_staged_file_follows_the_download_rule(site: Site, who: str) -> None:
    """Exclusive-access files (a data file named MANIFEST.HTML too, at any depth) answer each
    caller as Download/file does; public files answer everyone."""
    expected = EXPECTED[who]
    for name, body in EAP_FILES.items():
        url = site.url(f"HST/eap-obs/{name}")
        download = _get(f"{site.server.url}/api/v0.1/Download/file?uri={name}", who, site)
        assert download.status_code == expected
        for extra in ({}, {"Range": "bytes=0-9"}):
            staged = _get(url, who, site, **extra)
            wanted = 206 if expected == 200 and extra else expected
            assert staged.status_code == wanted, (name, extra, staged.text[:200])
            if expected == 200:
                assert body.startswith(staged.content) and staged.content
            else:
                assert body[:20] not in staged.content
                assert "exclusive-access" in staged.json()["error"]["message"]
        head = httpx.head(url, headers=headers_for(site.callers, who), timeout=30)
        assert head.status_code == expected
    for name, body in PUBLIC_FILES.items():
        if name != UNICODE_NAME:  # fetched by its listed link in another test
            staged = _get(site.url(f"HST/public-obs/{name}"), who, site)
            assert staged.status_code == 200 and staged.content == body, name
    # the archive's own manifest: for everyone who has the link
    manifest = _get(site.url("MANIFEST.HTML"), who, site)
    assert manifest.status_code == 200 and manifest.headers["content-type"].startswith("text/html")
    assert hashlib.sha256(EAP_FILES["secret_data.dat"]).hexdigest() in manifest.text


def test_the_public_files_of_a_staging_area_are_served_by_their_safe_paths(site: Site) -> None:
    root = httpx.get(site.url("HST/public-obs/"), timeout=30)
    names = re.findall(r'href="([^"]+)"', root.text)
    assert "public_page.html" in names and len(names) == len(PUBLIC_FILES) + 1  # and ../
    for href in names[1:]:
        assert httpx.get(site.url(f"HST/public-obs/{href}"), timeout=30).status_code == 200


def test_staged_files_answer_ranges_by_the_download_rule(site: Site) -> None:
    """Ranges of a staged file follow the same rule, and the same error shape, as Download/file."""
    name = "secret_data.dat"
    body, url = EAP_FILES[name], site.url(f"HST/eap-obs/{name}")
    archived = f"{site.server.url}/api/v0.1/Download/file?uri={name}"
    for asked, status, wanted in (
        ("bytes=5-9", 206, body[5:10]),
        ("bytes=-4", 206, body[-4:]),
        (f"bytes=10-{len(body) * 2}", 206, body[10:]),
        ("bytes=" + "9" * 5000 + "-", 416, None),
        (f"bytes={len(body)}-", 416, None),
        ("bytes=" + "7" * 5000, 200, body),  # not a range: the whole file, as HTTP allows
        ("pages=1-2", 200, body),
    ):
        staged = _get(url, "pi", site, Range=asked)
        original = _get(archived, "pi", site, Range=asked)
        assert staged.status_code == original.status_code == status, (asked, staged.text[:200])
        if wanted is not None:
            assert staged.content == original.content == wanted, asked
            assert "attachment" in staged.headers["content-disposition"]
        else:
            assert staged.json()["error"]["status"] == 416
            assert staged.headers["content-range"] == f"bytes */{len(body)}"
    head = httpx.head(url, headers={**headers_for(site.callers, "pi"), "Range": "bytes=0-3"})
    assert head.status_code == 206 and head.headers["content-length"] == "4"


@pytest.mark.parametrize(
    "raw",
    ["HST/%00/x", "HST/eap-obs/secret_data.dat%00", "../../archive.db", "HST/../../../etc/passwd",
     "%2e%2e/%2e%2e/archive.db", "..%2f..%2farchive.db", "HST%5c..%5c..%5carchive.db",
     "/etc/passwd", "//etc/passwd", "HST/eap-obs/.secret", "%01", "a" * 3000],
)  # fmt: skip
def test_bad_staging_paths_get_a_4xx_never_a_500(site: Site, raw: str) -> None:
    """Sent byte for byte on a raw socket (clients would normalise the dots away)."""
    request_id = site.pi_area.rstrip("/").rsplit("/", 1)[1]
    target = f"/staging/{request_id}/{raw}"
    with socket.create_connection(("127.0.0.1", site.server.port), timeout=30) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, (raw, answer[:300])
    assert b"SIMPLE" not in answer and b"root:" not in answer and b"SQLite" not in answer
    assert httpx.get(site.url(""), timeout=30).status_code == 200  # the server still answers


def test_data_files_are_attachments_that_never_run_as_pages(site: Site) -> None:
    """HTML/SVG from the data: attachments of an opaque type with nosniff and a sandboxing
    policy, from Download/file and from staging alike; PNG previews may show in place."""
    admin = headers_for(site.callers, "admin")
    base = site.server.url
    for name in ("secret_page.html", "public_page.html", "public_logo.svg", "MANIFEST.HTML"):
        obs = "eap-obs" if name in EAP_FILES else "public-obs"
        for url in (f"{base}/api/v0.1/Download/file?uri={name}", site.url(f"HST/{obs}/{name}")):
            answer = httpx.get(url, headers=admin, timeout=30)
            assert answer.status_code == 200, url
            assert answer.headers["content-disposition"].startswith("attachment;")
            assert answer.headers["x-content-type-options"] == "nosniff"
            kind = answer.headers["content-type"]
            assert "html" not in kind and "svg" not in kind and "javascript" not in kind
            assert "sandbox" in answer.headers["content-security-policy"]
    preview = httpx.get(f"{base}/api/v0.1/Download/file?uri=public_preview.png", timeout=30)
    assert preview.headers["content-type"] == "image/png"
    assert preview.headers["content-disposition"].startswith("inline;")
    assert preview.headers["x-content-type-options"] == "nosniff"


def _disposition_name(header: str) -> tuple[str, str]:
    """(ASCII fallback, decoded filename*) of a Content-Disposition header."""
    fallback = re.search(r'filename="([^"]*)"', header)
    star = re.search(r"filename\*=UTF-8''([^;\s]+)", header)
    assert fallback and star, header
    assert fallback.group(1).isascii()
    return fallback.group(1), unquote(star.group(1), encoding="utf-8", errors="strict")


def test_content_disposition_names_every_file_exactly(site: Site) -> None:
    """RFC 6266: ``filename*`` carries the exact UTF-8 name, ``filename=`` an ASCII fallback,
    on single files, staged files, bundles and scripts."""
    base = site.server.url
    single = httpx.get(f"{base}/api/v0.1/Download/file", params={"uri": UNICODE_NAME}, timeout=30)
    assert single.status_code == 200
    assert _disposition_name(single.headers["content-disposition"])[1] == UNICODE_NAME
    bundle = httpx.get(f"{base}/api/v0.1/Download/bundle.zip?uri=public_page.html", timeout=30)
    assert _disposition_name(bundle.headers["content-disposition"])[1].endswith(".zip")
    script = httpx.post(f"{base}/api/v0.1/Download/bundle.sh", data={"uri": "public_page.html"},
                        timeout=30)  # fmt: skip
    assert _disposition_name(script.headers["content-disposition"])[1].endswith(".sh")
    staged = httpx.get(site.url("HST/public-obs/"), timeout=30)
    href = next(h for h in re.findall(r'href="([^"]+)"', staged.text) if "spectre" in h)
    answer = httpx.get(site.url(f"HST/public-obs/{href}"), timeout=30)
    fallback, exact = _disposition_name(answer.headers["content-disposition"])
    assert exact == unquote(href) and '"' not in fallback


def _notices(archive: Archive, request_id: str) -> list[str]:
    box = mailbox.Maildir(outbox_path(archive.settings), create=False)
    found = []
    for message in box:
        subject = "".join(
            part.decode(charset or "ascii") if isinstance(part, bytes) else part
            for part, charset in decode_header(str(message["Subject"]))
        )
        if request_id in subject:
            found.append(message.get_payload(decode=True).decode())
    return found


def test_anonymous_staging_of_public_data_with_an_email(site: Site) -> None:
    """Anonymous callers give an e-mail and get public files only; the links in the status,
    notice and manifest start with the URL the request was made through; no token header."""
    archive, server = site.archive, site.server
    configured = archive.settings.base_url
    archive.settings.base_url = ""  # no fixed public URL: links follow the request's own URL
    other_host = f"http://localhost:{server.port}"
    try:
        missing = httpx.post(f"{other_host}/api/v0.1/Download/stage",
                             data={"uri": "public_page.html"}, timeout=30)  # fmt: skip
        assert missing.status_code == 400 and "e-mail" in missing.json()["error"]["message"]
        bad = httpx.post(f"{other_host}/api/v0.1/Download/stage",
                         data={"uri": "public_page.html", "email": "x@y.org\nBcc: z@w.org"},
                         timeout=30)  # fmt: skip
        assert bad.status_code == 400
        refused = httpx.post(f"{other_host}/api/v0.1/Download/stage",
                             data={"uri": "secret_data.dat", "email": "anon@example.org"},
                             timeout=30)  # fmt: skip
        assert refused.status_code == 401  # exclusive-access data only, nothing to stage
        made = httpx.post(
            f"{other_host}/api/v0.1/Download/stage", timeout=30,
            data={"uri": ["public_page.html", "public_logo.svg", "secret_data.dat"],
                  "email": "anon@example.org"},
        )  # fmt: skip
        assert made.status_code == 202, made.text
        info = made.json()
        request_id = info["request_id"]
        assert info["files_total"] == 2 and info["location"].startswith(f"{other_host}/staging/")
        assert [e["file"].rsplit("/", 1)[-1] for e in info["not_included"]] == ["secret_data.dat"]
        assert run_staging(archive, request_id=request_id) == "done"
        status = httpx.get(f"{server.url}/api/v0.1/Download/stage/{request_id}", timeout=30)
        assert status.status_code == 200  # the id is the anonymous requester's key
        described = status.json()
        assert described["needs_token"] is False
        assert "Authorization" not in described["fetch_command"]
        assert described["location"] == info["location"]
        (notice,) = _notices(archive, request_id)
        assert info["location"] in notice and "Authorization" not in notice
        manifest = httpx.get(f"{info['location']}MANIFEST.HTML", timeout=30).text
        assert other_host in manifest and "secret_data.dat" in manifest  # listed: not included
        included = manifest.split("<h2>Not included")[0]
        assert "secret_data.dat" not in included and "public_logo.svg" in included
    finally:
        archive.settings.base_url = configured


def test_staging_links_are_random_expire_and_need_the_token_header(site: Site) -> None:
    archive = site.archive
    with archive.engine.connect() as conn:
        coi = caller_for_user(conn, site.callers.user_ids["coi"])
    made = [start_staging(archive, coi, base_url=site.server.url, enqueue=run_by_the_test,
                          uris=["secret_data.dat"])
            for _ in range(2)]  # fmt: skip
    ids = [info["request_id"] for info in made]
    assert ids[0] != ids[1] and all(len(i) >= 22 for i in ids)  # >= 128 random bits
    for info in made:
        location = info["location"]
        assert "secret" not in location and "coi" not in location and "@" not in location
        assert info["needs_token"] is True
        assert "Authorization: token $MAST_API_TOKEN" in info["fetch_command"]
    first = ids[0]
    assert run_staging(archive, request_id=first) == "done"
    (notice,) = _notices(archive, first)
    assert '--header "Authorization: token $MAST_API_TOKEN"' in notice
    status = httpx.get(f"{site.server.url}/api/v0.1/Download/stage/{first}",
                       headers=headers_for(site.callers, "coi"), timeout=30).json()  # fmt: skip
    assert status["expires_at"] - status["finished_at"] == pytest.approx(14 * 86400)
    # the staging job's manifest lists only what its requester may have when it runs
    with archive.engine.begin() as conn:
        revoke(conn, EAP_PROGRAM, user_id=site.callers.user_ids["coi"])
    try:
        assert run_staging(archive, request_id=ids[1]) == "done"
        manifest = httpx.get(made[1]["location"] + "MANIFEST.HTML", timeout=30).text
        assert hashlib.sha256(EAP_FILES["secret_data.dat"]).hexdigest() not in manifest
        assert "not authorised" in manifest
    finally:
        with archive.engine.begin() as conn:
            grant(conn, EAP_PROGRAM, user_id=site.callers.user_ids["coi"], granted_by=None)

    area = archive.settings.resolved_staging_path / first
    with archive.engine.begin() as conn:
        conn.execute(update(delivery_requests).where(delivery_requests.c.request_id == first)
                     .values(expires_at=time.time() - 1))  # fmt: skip
    url = f"{made[0]['location']}HST/eap-obs/secret_data.dat"
    gone = httpx.get(url, headers=headers_for(site.callers, "coi"), timeout=30)
    assert gone.status_code == 410 and "expired" in gone.json()["error"]["message"]
    assert remove_expired(archive) >= 1 and not area.exists()
    # still Gone once the files are removed: the link was real, no retry can help
    assert httpx.get(url, headers=headers_for(site.callers, "coi"), timeout=30).status_code == 410


def test_an_aborted_download_is_one_log_line(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    """A client that closes the connection mid-stream: one line in the log, no traceback,
    and the server goes on answering."""
    targets = [f"/api/v0.1/Download/file?uri={BIG}", f"/api/v0.1/Download/bundle.tar?uri={BIG}"]
    with caplog.at_level("INFO"):
        for target in targets:
            with socket.create_connection(("127.0.0.1", site.server.port), timeout=30) as sock:
                sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                received = 0
                while received < 1 << 20:
                    received += len(sock.recv(1 << 16))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not _stops(caplog, target):
                time.sleep(0.05)
        time.sleep(0.5)  # anything the aborted streams log late is caught too
    assert all(len(_stops(caplog, target)) == 1 for target in targets), caplog.text
    assert not [r for r in caplog.records if r.exc_info or r.levelname in ("ERROR", "CRITICAL")]
    assert "Traceback" not in caplog.text
    whole = httpx.get(f"{site.server.url}/api/v0.1/Download/file?uri=public_page.html", timeout=30)
    assert whole.status_code == 200 and whole.content == PUBLIC_FILES["public_page.html"]


def _stops(caplog: pytest.LogCaptureFixture, target: str) -> list[str]:
    name = BIG if "file?" in target else ".tar"
    return [r.getMessage() for r in caplog.records
            if "went away" in r.getMessage() and name in r.getMessage()]  # fmt: skip


def test_in_chromium_data_pages_download_and_the_manifest_renders(site: Site, chromium) -> None:  # type: ignore[no-untyped-def]
    """HTML and SVG from the data are downloaded, never shown (their script never runs); the
    archive's MANIFEST.HTML shows with its own style, which the page policy allows by hash."""
    context = chromium.new_context(base_url=site.server.url, accept_downloads=True)
    errors: list[str] = []
    tab = context.new_page()

    def log_error(message) -> None:  # type: ignore[no-untyped-def]
        where = message.location.get("url", "")
        if message.type == "error" and "favicon" not in where:  # no icon on a file listing
            errors.append(f"{message.text} {where}")

    tab.on("console", log_error)
    try:
        tab.goto(site.url("MANIFEST.HTML"))
        assert tab.title() == "MANIFEST"
        border = tab.eval_on_selector("td", "e => getComputedStyle(e).borderTopStyle")
        assert border == "solid"  # the manifest's <style> applied under the policy
        for url in ("/api/v0.1/Download/file?uri=public_page.html",
                    site.url("HST/public-obs/public_logo.svg"),
                    site.url("HST/public-obs/public_page.html")):  # fmt: skip
            with tab.expect_download() as download:
                tab.evaluate("url => { window.location.href = url; }", url)
            assert download.value.suggested_filename.rsplit(".", 1)[-1] in ("html", "svg")
            assert tab.title() == "MANIFEST"  # still the manifest: nothing replaced the page
        assert not errors, errors
    finally:
        context.close()


@pytest.mark.skipif(shutil.which("wget") is None, reason="wget is not installed")
def test_the_notice_wget_line_fetches_exclusive_files_with_the_token(
    site: Site, tmp_path: Path
) -> None:
    """The command of the notice, run as a user would (bash, wget, MAST_API_TOKEN set): the
    exclusive-access file arrives; without the token it does not."""
    with site.archive.engine.connect() as conn:
        pi = caller_for_user(conn, site.callers.user_ids["pi"])
    info = start_staging(site.archive, pi, base_url=site.server.url, enqueue=run_by_the_test,
                         uris=["secret_data.dat", "public_page.html"])  # fmt: skip
    assert run_staging(site.archive, request_id=info["request_id"]) == "done"
    (notice,) = _notices(site.archive, info["request_id"])
    command = next(line.strip() for line in notice.splitlines() if line.strip().startswith("wget"))
    assert command == info["fetch_command"]
    secret = "eap-obs/secret_data.dat"
    for who, arrives in (("coi", True), ("other", False)):
        folder = tmp_path / who
        folder.mkdir()
        env = {**os.environ, "MAST_API_TOKEN": site.callers.tokens[who]}
        subprocess.run(["bash", "-c", f"{command} -q"], cwd=folder, env=env, timeout=60,
                       check=False)  # fmt: skip
        got = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
        assert "HST/public-obs/public_page.html" in got and "MANIFEST.HTML" in got, got
        assert (f"HST/{secret}" in got) is arrives, got
        if arrives:
            assert (folder / "HST" / secret).read_bytes() == EAP_FILES["secret_data.dat"]


def test_the_wget_line_is_one_shell_word_whatever_the_host_header(site: Site) -> None:
    """Whatever Host header a request came with, pasting the line runs wget on the location
    and nothing else."""
    made = httpx.post(f"{site.server.url}/api/v0.1/Download/stage", timeout=30,
                      headers={"Host": "evil$(touch pwned);x"},
                      data={"uri": "public_page.html", "email": "anon@example.org"})  # fmt: skip
    assert made.status_code in (202, 400), made.text
    if made.status_code == 202:
        info = made.json()
        words = shlex.split(info["fetch_command"])
        assert words[0] == "wget" and words[-1] == info["location"] and len(words) == 8
        assert "$(" not in info["fetch_command"].replace(" $MAST_API_TOKEN", "")
