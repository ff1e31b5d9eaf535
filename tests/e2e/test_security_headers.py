# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""Every archive page carries the security headers, and Chromium enforces them.

The policy comes from one middleware (api/security_headers.py); file responses carry their own
stricter one (tested in test_staged_files.py).
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.callers import create_callers, headers_for
from tests.e2e.test_access_security import portal_login
from tests.portal.browser import chromium, console, page  # noqa: F401  (fixtures)

PAGES = ["/", "/search", "/basket", "/deliveries", "/login", "/signup"]


def policy(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: [sources]}."""
    found: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            found[words[0].lower()] = words[1:]
    return found


def assert_page_headers(answer: httpx.Response) -> None:
    csp = policy(answer.headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no inline script, no eval, no other host
    assert "'unsafe-inline'" not in csp["style-src"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] in ("no-referrer", "same-origin")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_carries_the_policy(live_server, path: str) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{live_server.url}{path}", timeout=30)
    assert answer.status_code == 200
    assert_page_headers(answer)
    assert answer.headers["cache-control"] == "no-store"  # pages show the caller's state
    assert_no_inline_code(answer.text)


def assert_no_inline_code(html: str) -> None:
    """Nothing in the page that the policy would block: inline script (JSON data blocks are
    not script), event-handler attributes, style attributes."""
    inline = [s for s in re.findall(r"<script([^>]*)>", html) if "src=" not in s]
    assert all('type="application/json"' in attrs for attrs in inline), inline
    assert not re.search(r"\son[a-z]+\s*=", html) and "style=" not in html


def test_account_pages_and_credentialed_answers_are_not_stored(live_server, demo_archive) -> None:  # type: ignore[no-untyped-def]
    callers = create_callers(demo_archive.engine, "4567")
    with httpx.Client(base_url=live_server.url, timeout=30) as browser:
        assert portal_login(browser, callers.emails["other"]).status_code in (200, 303)
        account = browser.get("/account")
        assert account.status_code == 200 and callers.emails["other"] in account.text
        assert_page_headers(account)
        assert account.headers["cache-control"] == "no-store"
        assert_no_inline_code(account.text)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', account.text).group(1)  # type: ignore[union-attr]
        made = browser.post("/account/tokens", data={"csrf_token": csrf, "name": "t", "days": 1})
        assert made.status_code == 200 and "token" in made.text.lower()
        assert_page_headers(made)
        assert made.headers["cache-control"] == "no-store"  # the new token is on this page
        assert_no_inline_code(made.text)
    token_info = httpx.get(f"{live_server.url}/api/v0.1/Download/file?uri=nothing.fits",
                           headers=headers_for(callers, "other"), timeout=30)  # fmt: skip
    assert token_info.headers["cache-control"] == "no-store"
    static = httpx.get(f"{live_server.url}/static/portal.css", timeout=30)
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")


def test_api_docs_live_under_the_page_policy(live_server) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{live_server.url}/api/docs", timeout=30)
    assert answer.status_code == 200
    assert_page_headers(answer)
    assert_no_inline_code(answer.text)


def test_chromium_refuses_injected_inline_script_on_a_page(page, console) -> None:  # type: ignore[no-untyped-def]
    console.allow("Content Security Policy")
    page.goto("/search")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__injected = 1'; document.head.append(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__injected") is None
    assert any("Content Security Policy" in e for e in console.errors)


def test_chromium_shows_the_api_docs_under_the_policy(page) -> None:  # type: ignore[no-untyped-def]
    """Swagger UI starts and lists the operations with no policy violation (the page fixture
    fails the test on any console error)."""
    page.goto("/api/docs")
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert page.locator(".swagger-ui .opblock").count() > 10
