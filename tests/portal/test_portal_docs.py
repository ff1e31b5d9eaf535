"""docs/portal.md lists every portal search endpoint, keyword search included; the README,
docs/portal.md and docs/subscriptions.md show existing screenshots."""

from __future__ import annotations

import re
from pathlib import Path

from skyarchive.api.portal.keyword_search import router as keyword_router
from skyarchive.api.portal.search import router

ROOT = Path(__file__).resolve().parents[2]


def test_every_search_endpoint_is_documented() -> None:
    text = (ROOT / "docs" / "portal.md").read_text()
    for route in [*router.routes, *keyword_router.routes]:
        for method in route.methods:  # type: ignore[attr-defined]
            assert f"`{method} {route.path}`" in text, f"{method} {route.path}"  # type: ignore[attr-defined]


def test_screenshots_in_the_docs_exist() -> None:
    docs = ROOT / "docs"
    for doc in (ROOT / "README.md", docs / "portal.md", docs / "subscriptions.md"):
        for image in re.findall(r"\]\(((?:docs/)?screenshots/[^)]+\.png)\)", doc.read_text()):
            assert (doc.parent / image).is_file(), image
