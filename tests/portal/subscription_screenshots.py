"""Write docs/subscriptions.md's screenshots (small PNGs) into docs/screenshots/.

    .venv/bin/python -m tests.portal.subscription_screenshots

Builds the demo archive in a temporary directory with one follower of programs 4567 and 1558
subscribed before the data arrive, lets the worker's notification run write its e-mails to
the maildir outbox, serves the archive on a free port and drives Debian's headless Chromium:
the subscription form met on a results row, the confirmation, the account menu's notices, and
the e-mail as the worker wrote it.
"""

from __future__ import annotations

import html
import mailbox
import sys
import tempfile
from pathlib import Path

from skyarchive.access import users
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.notify import subscriptions as subs
from skyarchive.notify.digest import run_notifications
from skyarchive.notify.mail import outbox_path
from tests.e2e.conftest import LiveServer
from tests.portal.browser import LAUNCH_ARGS
from tests.portal.screenshots import demo_archive
from tests.tools import CHROMIUM

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
EMAIL, PASSWORD = "ada@example.org", "a long enough password"
PUBLIC_URL = "https://archive.example.org"
VIEWPORT = {"width": 1100, "height": 700}


def email_page(archive: Archive) -> str:
    """The first e-mail of the outbox about program 4567 as a page: headers, text, attachment."""
    for message in mailbox.Maildir(outbox_path(archive.settings), create=False):
        if "4567" not in str(message["Subject"]):
            continue
        body = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        names = [p.get_filename() for p in message.walk() if p.get_filename()]
        head = "\n".join(f"{k}: {message[k]}" for k in ("From", "To", "Subject"))
        text = body.get_payload(decode=True).decode()  # type: ignore[union-attr]
        attached = "\n".join(f"[attachment] {name}" for name in names)
        return (
            "<!doctype html><meta charset=utf-8><body style='margin:0;background:#fff'>"
            "<pre id=mail style='font:13px/1.35 monospace;padding:12px;margin:0'>"
            f"{html.escape(head)}\n\n{html.escape(text)}\n{html.escape(attached)}</pre>"
        )
    raise SystemExit("no e-mail about program 4567 in the outbox")


def shoot(base_url: str, archive: Archive) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        page = browser.new_page(base_url=base_url, viewport=VIEWPORT)

        def save(name: str, locator=None) -> None:  # type: ignore[no-untyped-def]
            path = OUT / f"{name}.png"
            (locator or page).screenshot(path=str(path))
            written.append(path)

        page.goto("/login?next=/search%3Fcollection%3Dprogram%26q%3D4567")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#grid tbody tr").first).to_be_visible()
        page.locator(".notices-menu summary").click()
        expect(page.locator(".notices-panel")).to_be_visible()
        save("notices-menu")
        page.goto("/search?collection=program&q=1073")
        page.locator("#grid tbody tr").first.get_by_role("link", name="Subscribe to").click()
        page.get_by_role("checkbox", name="First").uncheck()
        page.get_by_role("checkbox", name="Reprocessed").uncheck()
        page.get_by_label("Frequency").select_option("weekly")
        save("subscribe-form", page.locator("main"))
        page.get_by_role("button", name="Subscribe").click()
        expect(page.get_by_role("status")).to_contain_text("Subscribed to")
        save("subscribed", page.locator("main"))
        page.set_content(email_page(archive))
        save("subscription-email", page.locator("#mail"))
        browser.close()
    return written


def follow_before_data_arrive(archive: Archive) -> None:
    with archive.engine.begin() as conn:
        user = users.create_user(conn, email=EMAIL, display_name="Ada", password=PASSWORD)
        subs.subscribe(conn, user_id=user.user_id, program_ids=["4567", "1558"],
                       kinds=list(subs.KINDS), frequency="daily")  # fmt: skip


def main() -> int:
    if not CHROMIUM.exists():
        print(f"Chromium not found at {CHROMIUM}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        archive = demo_archive(Path(tmp), prepare=follow_before_data_arrive)
        # The worker writes the e-mails to the outbox, for a server whose operator set base_url.
        public = Settings(**{**archive.settings.model_dump(), "base_url": PUBLIC_URL})
        run_notifications(Archive(public, archive.engine, archive.storage), force=True)
        with LiveServer(archive) as server:
            for path in shoot(server.url, archive):
                print(path)
        archive.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
