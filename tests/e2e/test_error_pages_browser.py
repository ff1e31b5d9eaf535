# ruff: noqa: F811  (the fixtures imported from tests.portal.browser are parameters here)
"""The error page and the API documentation in real headless Chromium."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx

from tests.e2e.test_error_pages import parsed
from tests.portal.browser import chromium, console, expect, page  # noqa: F401  (fixtures)

#: A policy as strict as a page can have: no inline script or style, nothing from elsewhere.
STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:"


def with_strict_csp(route) -> None:  # type: ignore[no-untyped-def]
    """Answer with the server's response under STRICT_CSP: a violation is a console error,
    which fails the test (whether or not the server sends a policy of its own)."""
    answer = route.fetch()
    route.fulfill(
        response=answer, headers={**answer.headers, "content-security-policy": STRICT_CSP}
    )


def test_a_404_page_looks_like_the_portal_and_leads_back_to_search(page, console) -> None:  # type: ignore[no-untyped-def]
    console.allow("404")  # Chromium logs the failed navigation's status
    page.route("**/observations/nowhere", with_strict_csp)
    response = page.goto("/observations/nowhere")
    assert response.status == 404
    expect(page).to_have_title(re.compile(r"^404 "))
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_role("alert")).to_contain_text("/observations/nowhere")
    # the portal's stylesheet is applied: the same header as every page, styled
    expect(page.locator("header.site-header")).to_be_visible()
    brand = page.locator("header.site-header .brand")
    assert brand.evaluate("e => getComputedStyle(e).textDecorationLine") == "none"
    assert page.locator("main").evaluate("e => getComputedStyle(e).maxWidth") == "1600px"

    ways_back = page.get_by_role("navigation", name="Ways back")
    ways_back.get_by_role("link", name="Back to search").click()
    expect(page).to_have_url(re.compile(r"/search$"))
    expect(page.get_by_label("Object name or coordinates")).to_be_visible()


def test_api_docs_page_references_only_our_origin(live_server) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{live_server.url}/api/docs", timeout=30)
    assert answer.status_code == 200
    docs = parsed(answer.text)
    references = docs.stylesheets + docs.scripts
    assert references and docs.inline_scripts == 0
    for reference in references:
        assert not urlsplit(reference).netloc, f"external reference {reference}"
        asset = httpx.get(f"{live_server.url}{reference}", timeout=30)
        assert asset.status_code == 200 and len(asset.content) > 100, reference
    assert not re.search(r"https?://", answer.text)


def test_api_docs_render_the_operations_with_no_network(page, live_server) -> None:  # type: ignore[no-untyped-def]
    """Swagger UI starts and lists our operations while every other host is unreachable, under
    a strict Content-Security-Policy (a violation is a console error, which fails the test)."""
    ours = urlsplit(live_server.url).netloc
    elsewhere: list[str] = []

    def only_ours(route) -> None:  # type: ignore[no-untyped-def]
        url = urlsplit(route.request.url)
        if url.netloc != ours:
            elsewhere.append(route.request.url)
            route.abort()
        elif url.path == "/api/docs":
            with_strict_csp(route)
        else:
            route.continue_()

    page.route("**/*", only_ours)
    page.goto("/api/docs")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/v0/invoke").first).to_be_visible()
    assert operations.count() >= 10
    assert elsewhere == []
