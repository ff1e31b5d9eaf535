"""Headless Chromium for the portal's browser tests (Debian's /usr/bin/chromium, never a download).

Import the fixtures into a test module: ``from tests.portal.browser import chromium, console,
page``.
Every page fails its test at teardown when the browser logged a console error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 800}


def chromium_path() -> Path | None:
    return CHROMIUM if CHROMIUM.exists() else None


# Module scope: each test module that imports these fixtures gets its own browser, closed at
# the module's end, since two sync Playwright instances cannot run at the same time.
@pytest.fixture(scope="module")
def chromium():  # type: ignore[no-untyped-def]
    if chromium_path() is None:
        pytest.skip(
            f"Chromium not found at {CHROMIUM}: portal browser tests skipped "
            "(install it with: apt-get install -y --no-install-recommends chromium)"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield browser
        browser.close()


class ConsoleLog:
    """Console errors of a page; a test may allow the ones it provokes on purpose."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[str] = []

    def allow(self, text: str) -> None:
        self.allowed.append(text)

    def __call__(self, message) -> None:  # type: ignore[no-untyped-def]
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url', '')})")

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(text in e for text in self.allowed)]


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(chromium, live_server, console: ConsoleLog) -> Iterator:  # type: ignore[no-untyped-def]
    """A fresh browser context on the live server at 1280x800; no console errors allowed."""
    context = chromium.new_context(
        base_url=live_server.url, viewport=VIEWPORT, accept_downloads=True
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.on("console", console)
    tab.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    try:
        yield tab
    finally:
        context.close()
    assert not console.unexpected(), f"console errors: {console.unexpected()}"
