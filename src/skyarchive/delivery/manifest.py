"""``MANIFEST.HTML``: what a bundle or staging area holds, and what it could not include."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from skyarchive.access.policy import Caller
from skyarchive.delivery.selection import Excluded, Item

MANIFEST_STYLE = (
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:90%}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}td.n{text-align:right}"
    "code{font-size:85%}"
)


def _size(n: int | None) -> str:
    return "" if n is None else f"{n:,}"


def manifest_html(
    items: Sequence[Item],
    excluded: Sequence[Excluded],
    *,
    caller: Caller,
    source: str,
    moment: datetime | None = None,
) -> str:
    """The manifest page.

    Parameters
    ----------
    items : sequence of Item
        Files the delivery contains (name, description, type, size, SHA-256, access).
    excluded : sequence of Excluded
        Files requested but not included, each with its reason.
    caller : Caller
        Who asked (shown by e-mail address; anonymous otherwise).
    source : str
        The archive's public URL.
    moment : datetime, optional
        When the delivery was made (default now).
    """
    moment = moment or datetime.now(UTC)
    who = escape(caller.email or "anonymous")
    total = sum(item.size for item in items)
    rows = "".join(
        "<tr><td><code>{path}</code></td><td>{desc}</td><td>{ptype}</td><td class=n>{size}</td>"
        "<td><code>{sha}</code></td><td>{access}</td></tr>\n".format(
            path=escape(item.path),
            desc=escape(item.description or ""),
            ptype=escape(" / ".join(p for p in (item.product_type, item.subgroup) if p)),
            size=_size(item.size),
            sha=item.sha256,
            access="exclusive access (restricted)" if item.restricted else "public",
        )  # fmt: skip
        for item in items
    )
    missing = "".join(
        f"<tr><td><code>{escape(e.path or e.name)}</code></td><td class=n>{_size(e.size)}</td>"
        f"<td>{escape(e.reason)}</td></tr>\n"
        for e in excluded
    )
    not_included = (
        "<h2>Not included</h2>\n<table><tr><th>file</th><th>size</th><th>reason</th></tr>\n"
        f"{missing}</table>\n"
        if excluded
        else "<p>Every requested file is included.</p>\n"
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>MANIFEST</title>'
        f"<style>{MANIFEST_STYLE}</style></head><body>\n"
        f"<h1>Manifest</h1>\n<p>From {escape(source)} for {who}, "
        f"{moment:%Y-%m-%d %H:%M:%S} UTC: {len(items)} files, {total:,} bytes"
        f"{f'; {len(excluded)} not included' if excluded else ''}.</p>\n"
        "<table><tr><th>file</th><th>description</th><th>product type</th><th>size (bytes)</th>"
        "<th>SHA-256</th><th>access</th></tr>\n"
        f"{rows}</table>\n{not_included}</body></html>\n"
    )
