"""E-mails about a user's own account (password-reset links)."""

from __future__ import annotations

import logging

from skyarchive.config import Settings
from skyarchive.notify.mail import send_mail

log = logging.getLogger(__name__)


def send_password_reset(settings: Settings, *, to: str, link: str, minutes: int) -> None:
    """Mail a password-reset link; a failure is logged without the link (it is a secret)."""
    body = (
        "Someone (we hope you) asked to set a new password for your skyarchive account.\n\n"
        f"Open this link within {minutes} minutes to choose one:\n\n{link}\n\n"
        "Setting a new password logs out every session of the account. If you did not ask "
        "for this, ignore this message: your password stays as it is.\n"
    )
    try:
        send_mail(settings, to=to, subject="skyarchive: set a new password", body=body)
    except OSError as exc:
        log.warning("Could not send a password-reset e-mail: %s", type(exc).__name__)
