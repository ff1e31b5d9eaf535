# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""Sessions, password changes and resets, login delays and enumeration, on a real server.

Two "machines" are two httpx clients whose connections leave from different loopback
addresses (127.0.0.1 and 127.0.0.2), so the server sees two client addresses.
"""

from __future__ import annotations

import logging
import mailbox
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from skyarchive.access import password_resets, users
from skyarchive.archive import Archive
from skyarchive.config import LOCAL_URL, Settings
from tests.e2e.conftest import LiveServer
from tests.e2e.test_access_security import form_csrf, portal_login
from tests.portal.browser import chromium, console, expect, page  # noqa: F401  (fixtures)

PASSWORD = "correct horse battery"
HOME_ADDRESS, AWAY_ADDRESS = "127.0.0.1", "127.0.0.2"
FREE_FAILURES, FIRST_DELAY = 5, 30.0


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    settings = Settings(
        home=tmp_path_factory.mktemp("accounts-home"),
        login_free_failures=FREE_FAILURES,
        login_delay_seconds=FIRST_DELAY,
    )
    opened = Archive.open(settings)
    yield opened
    opened.engine.dispose()


@pytest.fixture(scope="module")
def live_server(archive: Archive) -> Iterator[LiveServer]:
    with LiveServer(archive) as server:
        yield server


def new_user(archive: Archive, name: str) -> str:
    email = f"{name}-{time.monotonic_ns()}@example.org"
    with archive.engine.begin() as conn:
        users.create_user(conn, email=email, password=PASSWORD)
    return email


def client(
    server: LiveServer, address: str = HOME_ADDRESS, agent: str = "test-client"
) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.url, transport=transport, timeout=60,
                        headers={"User-Agent": agent})  # fmt: skip


def logged_in(
    server: LiveServer, email: str, address: str = HOME_ADDRESS, agent: str = "test-client",
    password: str = PASSWORD,
) -> httpx.Client:  # fmt: skip
    browser = client(server, address, agent)
    answer = portal_login(browser, email, password)
    assert answer.status_code == 303, answer.text
    assert browser.get("/account").status_code == 200
    return browser


def is_logged_in(browser: httpx.Client) -> bool:
    answer = browser.get("/account")
    return answer.status_code == 200 and "Sessions" in answer.text


def session_rows(html: str) -> list[str]:
    table = html.split('<table id="sessions">')[1].split("</table>")[0]
    return re.findall(r"<tr[ >].*?</tr>", table.split("<tbody>")[1], flags=re.S)


def end_links(html: str) -> list[str]:
    return re.findall(r'action="(/account/sessions/[0-9a-f]{64}/end)"', html)


def test_password_change_ends_the_other_sessions_only(live_server, archive) -> None:  # type: ignore[no-untyped-def]
    email = new_user(archive, "change")
    laptop = logged_in(live_server, email, HOME_ADDRESS, "laptop-browser")
    phone = logged_in(live_server, email, AWAY_ADDRESS, "phone-browser")
    page_html = laptop.get("/account").text
    rows = session_rows(page_html)
    assert len(rows) == 2
    assert any(AWAY_ADDRESS in r and "phone-browser" in r for r in rows)
    assert any(HOME_ADDRESS in r and "laptop-browser" in r and "this session" in r for r in rows)

    changed = laptop.post("/account/password", data={
        "current": PASSWORD, "new": "a brand new password", "csrf_token": form_csrf(page_html),
    })  # fmt: skip
    assert changed.status_code == 303
    assert is_logged_in(laptop)
    assert not is_logged_in(phone)
    assert phone.get("/account").headers["location"].startswith("/login")
    assert len(session_rows(laptop.get("/account").text)) == 1
    # the old password is gone, the new one works
    assert portal_login(client(live_server), email, PASSWORD).status_code == 401
    logged_in(live_server, email, password="a brand new password")


def test_account_page_ends_one_session_with_its_csrf_token(live_server, archive) -> None:  # type: ignore[no-untyped-def]
    email = new_user(archive, "end")
    mine = logged_in(live_server, email, HOME_ADDRESS)
    stolen = logged_in(live_server, email, AWAY_ADDRESS)
    stranger = logged_in(live_server, new_user(archive, "stranger"))
    html = mine.get("/account").text
    other = next(
        link for row in session_rows(html) if AWAY_ADDRESS in row for link in end_links(row)
    )
    assert mine.post(other, data={"csrf_token": "forged"}).status_code == 403
    stranger_csrf = form_csrf(stranger.get("/account").text)
    assert stranger.post(other, data={"csrf_token": stranger_csrf}).status_code == 404
    assert is_logged_in(stolen)
    ended = mine.post(other, data={"csrf_token": form_csrf(html)})
    assert ended.status_code == 303
    assert not is_logged_in(stolen)
    assert is_logged_in(mine)
    assert "The session has ended." in mine.get(ended.headers["location"]).text
    # ending the current session is logging out
    html = mine.get("/account").text
    (own,) = end_links(html)
    assert mine.post(own, data={"csrf_token": form_csrf(html)}).headers["location"] == "/login"
    assert not is_logged_in(mine)


def test_end_all_other_sessions_keeps_only_this_one(live_server, archive) -> None:  # type: ignore[no-untyped-def]
    email = new_user(archive, "others")
    mine = logged_in(live_server, email)
    others = [logged_in(live_server, email, a) for a in (HOME_ADDRESS, AWAY_ADDRESS)]
    html = mine.get("/account").text
    assert len(session_rows(html)) == 3
    ended = mine.post("/account/sessions/end-others", data={"csrf_token": form_csrf(html)})
    assert ended.status_code == 303
    assert not any(is_logged_in(o) for o in others)
    assert len(session_rows(mine.get("/account").text)) == 1


def test_api_tokens_are_listed_and_revoked_on_the_account_page(live_server, archive) -> None:  # type: ignore[no-untyped-def]
    email = new_user(archive, "tokens")
    browser = logged_in(live_server, email)
    csrf = form_csrf(browser.get("/account").text)
    created = browser.post(
        "/account/tokens", data={"name": "laptop-astroquery", "days": "3", "csrf_token": csrf}
    )
    token = re.search(r'id="token-value" class="token" value="([A-Za-z0-9_-]+)"', created.text)[1]
    auth = {"Authorization": f"token {token}"}
    assert client(live_server).get("/whoami", headers=auth).json()["eppn"] == email
    html = browser.get("/account").text
    assert "laptop-astroquery" in html and token[:8] in html
    revoke = re.search(r'action="(/account/tokens/\d+/revoke)"', html).group(1)
    assert browser.post(revoke, data={"csrf_token": form_csrf(html)}).status_code == 303
    assert client(live_server).get("/whoami", headers=auth).json()["anon"] is True


def outbox_links(archive: Archive, email: str) -> list[str]:
    outbox = archive.settings.home / "outbox"
    if not all((outbox / part).is_dir() for part in ("tmp", "new", "cur")):
        return []  # the server has not written its first e-mail yet
    box = mailbox.Maildir(outbox, create=False)
    links = []
    for message in box:
        if message["To"] == email:
            body = message.get_payload(decode=True).decode()
            links += re.findall(r"https?://\S+/password-reset/\S+", body)
    return links


def ask_reset(browser: httpx.Client, email: str) -> httpx.Response:
    csrf = form_csrf(browser.get("/password-reset").text)
    return browser.post("/password-reset", data={"email": email, "csrf_token": csrf})


@pytest.fixture
def access_log() -> Iterator[list[str]]:
    """The lines uvicorn's access log writes meanwhile (the test server logs warnings only)."""
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(handler.format(record))  # type: ignore[method-assign]
    logger = logging.getLogger("uvicorn.access")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_password_reset_by_email_ends_every_session(live_server, archive, access_log) -> None:  # type: ignore[no-untyped-def]
    email = new_user(archive, "reset")
    sessions = [logged_in(live_server, email, a) for a in (HOME_ADDRESS, AWAY_ADDRESS)]
    asker = client(live_server)
    known, unknown = ask_reset(asker, email), ask_reset(asker, "nobody-here@example.org")
    assert (
        (known.status_code, known.text) == (unknown.status_code, unknown.text) == (200, known.text)
    )
    deadline = time.monotonic() + 10  # the mail goes out after the answer
    while not outbox_links(archive, email) and time.monotonic() < deadline:
        time.sleep(0.05)
    (link,) = outbox_links(archive, email)
    path = httpx.URL(link).path
    # opened in a browser still logged in (its forms carry the session's CSRF token)
    laptop = sessions[0]
    form = laptop.get(path)
    assert form.status_code == 200 and form.headers["referrer-policy"] == "no-referrer"
    short = laptop.post(path, data={"new": "short", "csrf_token": form_csrf(form.text)})
    assert short.status_code == 400 and "at least 10 characters" in short.text
    done = laptop.post(path, data={"new": "reset to this one", "csrf_token": form_csrf(form.text)})
    assert done.status_code == 200 and "every session of the account has ended" in done.text
    assert not any(is_logged_in(s) for s in sessions)
    logged_in(live_server, email, password="reset to this one")
    csrf = form_csrf(asker.get("/password-reset").text)
    again = asker.post(path, data={"new": "and again this one", "csrf_token": csrf})
    assert again.status_code == 400 and "not valid or has expired" in again.text
    assert asker.get("/password-reset/not-a-real-link").status_code == 400
    # the access log saw every visit of the link, never its secret
    secret = path.rsplit("/", 1)[1]
    assert sum("/password-reset/(hidden)" in line for line in access_log) >= 4
    assert not any(secret in line for line in access_log)


def test_reset_links_never_point_at_the_host_a_request_named(live_server, archive) -> None:  # type: ignore[no-untyped-def]
    """Whoever asks for a victim's link chooses the Host header; the secret must not follow it."""
    email = new_user(archive, "poison")
    configured = archive.settings.base_url
    archive.settings.base_url = None  # even with no base_url set (links are then local)
    try:
        asker = client(live_server)
        csrf = form_csrf(asker.get("/password-reset").text)
        forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
        asked = asker.post(
            "/password-reset", data={"email": email, "csrf_token": csrf}, headers=forged
        )
        assert asked.status_code == 200
        deadline = time.monotonic() + 10
        while not outbox_links(archive, email) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        archive.settings.base_url = configured
    (link,) = outbox_links(archive, email)
    assert "evil" not in link
    assert link.startswith(f"{LOCAL_URL}/password-reset/")


def test_asking_again_and_again_does_not_flood_the_inbox(live_server, archive) -> None:  # type: ignore[no-untyped-def]
    email = new_user(archive, "flood")
    asker = client(live_server)
    answers = {ask_reset(asker, email).text for _ in range(password_resets.MAX_LIVE_LINKS + 3)}
    assert len(answers) == 1  # every ask is answered alike
    deadline = time.monotonic() + 10
    while len(outbox_links(archive, email)) < password_resets.MAX_LIVE_LINKS:
        assert time.monotonic() < deadline, outbox_links(archive, email)
        time.sleep(0.05)
    time.sleep(1)  # the asks beyond the limit have been handled by now too
    assert len(outbox_links(archive, email)) == password_resets.MAX_LIVE_LINKS


def test_operator_cli_set_password_ends_every_session(live_server, archive) -> None:  # type: ignore[no-untyped-def]
    email = new_user(archive, "cli")
    sessions = [logged_in(live_server, email, a) for a in (HOME_ADDRESS, AWAY_ADDRESS)]
    done = subprocess.run(
        [sys.executable, "-m", "skyarchive", "--home", str(archive.settings.home), "user",
         "set-password", email, "--password-stdin"],
        input="set by the operator\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 session(s) ended" in done.stdout
    assert not any(is_logged_in(s) for s in sessions)
    logged_in(live_server, email, password="set by the operator")


def test_failed_logins_slow_only_that_client_for_that_account(live_server, archive) -> None:  # type: ignore[no-untyped-def]
    email = new_user(archive, "victim")
    stranger = client(live_server, AWAY_ADDRESS)
    for _ in range(FREE_FAILURES):
        assert portal_login(stranger, email, "guess guess guess").status_code == 401
    refused = portal_login(stranger, email, PASSWORD)  # even the right password waits now
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= FIRST_DELAY
    assert "try again in" in refused.text
    # the real user, from their own address, is not locked out
    logged_in(live_server, email, HOME_ADDRESS)
    # an unknown e-mail is slowed down the same way (the delay reveals nothing)
    for _ in range(FREE_FAILURES):
        assert portal_login(stranger, "ghost@example.org", "guess guess guess").status_code == 401
    assert portal_login(stranger, "ghost@example.org", "guess guess guess").status_code == 429


def test_the_wait_doubles_with_each_further_failure(live_server, archive) -> None:  # type: ignore[no-untyped-def]
    email, guesser = new_user(archive, "doubling"), client(live_server, "127.0.0.4")
    base = archive.settings.login_delay_seconds
    archive.settings.login_delay_seconds = 2.0  # short, so the test can wait them out
    try:
        for _ in range(FREE_FAILURES):
            assert portal_login(guesser, email, "guess guess guess").status_code == 401
        waits = []
        for _ in range(3):
            refused = portal_login(guesser, email, "guess guess guess")
            assert refused.status_code == 429
            waits.append(int(refused.headers["retry-after"]))
            time.sleep(waits[-1] + 0.2)
            assert portal_login(guesser, email, "guess guess guess").status_code == 401
    finally:
        archive.settings.login_delay_seconds = base
    # 2, 4, 8 s, less the time a request takes on a busy machine
    assert waits[0] < waits[1] < waits[2] <= 8, waits
    assert waits[2] >= 6, waits


def test_parallel_guesses_are_counted_before_they_are_checked(live_server, archive) -> None:  # type: ignore[no-untyped-def]
    email = new_user(archive, "parallel")
    attempts = 4 * FREE_FAILURES

    def guess(_: int) -> int:
        return portal_login(
            client(live_server, AWAY_ADDRESS), email, "guess guess guess"
        ).status_code

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        statuses = list(pool.map(guess, range(attempts)))
    assert set(statuses) == {401, 429}
    # each guess is recorded before it is weighed, so the burst gets exactly the free ones
    assert statuses.count(401) == FREE_FAILURES, statuses


def test_current_password_guesses_on_the_account_page_are_slowed_too(live_server, archive) -> None:  # type: ignore[no-untyped-def]
    """A stolen session cannot guess the current password (to change it) at full speed."""
    email = new_user(archive, "thief")
    thief = logged_in(live_server, email, AWAY_ADDRESS)
    csrf = form_csrf(thief.get("/account").text)
    guess = {"current": "guess guess guess", "new": "taken over now!", "csrf_token": csrf}
    for _ in range(FREE_FAILURES):
        assert thief.post("/account/password", data=guess).status_code == 400
    refused = thief.post("/account/password", data={**guess, "current": PASSWORD})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert portal_login(client(live_server), email, PASSWORD).status_code == 303


def test_login_delays_are_shared_by_every_server_process(live_server, archive) -> None:  # type: ignore[no-untyped-def]
    """A second server on the same database (as `serve --workers 2` runs) sees the failures."""
    email = new_user(archive, "workers")
    second = Archive.open(archive.settings.model_copy())
    try:
        with LiveServer(second) as other_server:
            for _ in range(FREE_FAILURES):
                assert (
                    portal_login(client(live_server, AWAY_ADDRESS), email, "nope nope!").status_code
                    == 401
                )
            assert (
                portal_login(client(other_server, AWAY_ADDRESS), email, PASSWORD).status_code == 429
            )
            assert (
                portal_login(client(other_server, HOME_ADDRESS), email, PASSWORD).status_code == 303
            )
    finally:
        second.engine.dispose()


def settle() -> None:
    """Wait for the work the server does after answering (a reset e-mail's thread) to end."""
    deadline = time.monotonic() + 30
    while any(t.name == "password-reset-mail" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a reset e-mail was not sent within 30 s"
        time.sleep(0.005)


def median_ratio(first, second, rounds: int = 9) -> float:  # type: ignore[no-untyped-def]
    """Median over rounds of (time of ``first()``) / (time of ``second()``), sent in turn.

    Each round times the two back to back, alternating which goes first, so that a change in
    the machine's load (other test processes share its two cores) slows both sides of a
    round alike; the median leaves out rounds that one burst hit on one side. After each
    request the server's work after the answer finishes, so each time is that of one answer
    as the asker sees it.
    """
    ratios = []
    for round_ in range(rounds):
        seconds = {}
        for side, send in sorted([(0, first), (1, second)], reverse=bool(round_ % 2)):
            start = time.perf_counter()
            send()
            seconds[side] = time.perf_counter() - start
            settle()
        ratios.append(seconds[0] / seconds[1])
    return statistics.median(ratios)


class CountedHasher:
    """The server's password hasher (argon2, the costly step of these answers), counted."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.calls = 0

    def __getattr__(self, name: str) -> object:
        found = getattr(self.real, name)
        if name not in ("hash", "verify"):
            return found

        def counted(*args: object, **kwargs: object) -> object:
            self.calls += 1
            return found(*args, **kwargs)

        return counted


def test_known_and_unknown_emails_answer_alike_and_as_fast(  # type: ignore[no-untyped-def]
    live_server, archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Login, sign-up and password reset: same status, same words, the same argon2 work, and
    similar time (the median of paired rounds' ratios)."""
    email = new_user(archive, "known")
    browser = client(live_server, "127.0.0.3")
    csrf = {"csrf_token": form_csrf(browser.get("/signup").text)}
    counter = iter(range(10**6))
    forms = {
        "login": lambda e: browser.post("/login", data={
            "email": e, "password": "wrong!wrong!", **csrf}),
        "signup": lambda e: browser.post("/signup", data={
            "email": e or f"fresh-{next(counter)}-{time.monotonic_ns()}@example.org",
            "display_name": "Someone", "password": "a long enough password", **csrf}),
        "reset": lambda e: browser.post("/password-reset", data={"email": e, **csrf}),
    }  # fmt: skip
    unknown = {"login": "nobody-1@example.org", "signup": "", "reset": "nobody-2@example.org"}
    hasher = CountedHasher(users._HASHER)
    monkeypatch.setattr(users, "_HASHER", hasher)  # the server runs in this process

    def hashing(send, address: str) -> int:  # type: ignore[no-untyped-def]
        before = hasher.calls
        send(address)
        settle()
        return hasher.calls - before

    free = archive.settings.login_free_failures
    archive.settings.login_free_failures = 10_000  # time the answers, not the delays
    try:
        for name, send in forms.items():
            first_known, first_unknown = send(email), send(unknown[name])
            assert first_known.status_code == first_unknown.status_code < 500, name
            assert first_known.text == first_unknown.text, name
            work = hashing(send, email), hashing(send, unknown[name])
            assert work[0] == work[1], f"{name}: argon2 calls, known {work[0]}, unknown {work[1]}"
            assert work[0] >= (name != "reset"), name  # a reset's look-up is after the answer
            ratio = median_ratio(lambda: send(email), lambda: send(unknown[name]))  # noqa: B023
            assert 1 / 3 < ratio < 3, f"{name}: known takes {ratio:.2f} times unknown's time"
    finally:
        archive.settings.login_free_failures = free


def test_browser_lists_and_ends_another_session(page, live_server, archive) -> None:  # type: ignore[no-untyped-def]
    email = new_user(archive, "browser")
    other = logged_in(live_server, email, AWAY_ADDRESS, "other-machine")
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Sessions")).to_be_visible()
    rows = page.locator("#sessions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="this session")).to_contain_text("Chrome")
    away = rows.filter(has_text="other-machine")
    expect(away).to_contain_text(AWAY_ADDRESS)
    away.get_by_role("button", name=re.compile("^End session")).click()
    expect(page.get_by_role("status")).to_have_text("The session has ended.")
    expect(rows).to_have_count(1)
    assert not is_logged_in(other)
