"""Headless Chromium for the portal's browser tests (Debian's /usr/bin/chromium, never a download).

Import the fixtures into a test module: ``from tests.portal.browser import chromium, console,
expect, page``.
Every page fails its test at teardown when the browser logged a console error. Without Chromium
or Playwright the tests skip through tests.tools (loudly; under CI=true they fail).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.tools import CHROMIUM, require_tool

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 800}
# How long an expectation or an action waits for the page. The tests judge what the page
# shows, not how fast (benchmarks do that): a full parallel test run on two cores makes a
# cutout or a search take several seconds, beyond Playwright's 5 s default.
EXPECT_TIMEOUT_MS = 20_000
ACTION_TIMEOUT_MS = 30_000


def expect(actual: Any, message: str | None = None) -> Any:
    """Playwright's ``expect``, imported when first used (a missing Playwright skips the test)."""
    require_tool("playwright")
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    return playwright_expect(actual, message)


# Module scope: each test module that imports these fixtures gets its own browser, closed at
# the module's end, since two sync Playwright instances cannot run at the same time.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium browser; skips (through tests.tools) when it cannot run."""
    require_tool("playwright")
    require_tool("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
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
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    tab = context.new_page()
    tab.on("console", console)
    tab.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    try:
        yield tab
    finally:
        context.close()
    assert not console.unexpected(), f"console errors: {console.unexpected()}"
