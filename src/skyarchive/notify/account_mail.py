"""E-mails about a user's own account (password-reset links).

Asking for a reset link must cost the asker the same time whether or not the email has an
account, so the whole job (looking the email up, storing a link, sending it) runs in a thread
of its own after the request has been answered.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from skyarchive.access import password_resets
from skyarchive.config import Settings
from skyarchive.notify.mail import send_mail

log = logging.getLogger(__name__)


def start_password_reset(engine: Engine, settings: Settings, *, email: str) -> None:
    """Mail a reset link to ``email`` if an account uses it, without making the caller wait."""
    threading.Thread(
        target=mail_password_reset, args=(engine, settings), kwargs={"email": email},
        name="password-reset-mail", daemon=True,
    ).start()  # fmt: skip


def mail_password_reset(engine: Engine, settings: Settings, *, email: str) -> bool:
    """Store a reset link for ``email`` and mail it; False when no usable account has it.

    The link starts with the operator's ``base_url``, never with the host a request named:
    whoever asks for a link chooses the request's ``Host``, and must not choose where the
    secret is sent. A failure is logged without the link (it is a secret) and never raised.
    """
    try:
        with engine.begin() as conn:
            found = password_resets.request_reset(conn, email)
        if found is None:
            return False
        token, user = found
        minutes = int(password_resets.RESET_SECONDS // 60)
        body = (
            "Someone (we hope you) asked to set a new password for your skyarchive account.\n\n"
            f"Open this link within {minutes} minutes to choose one:\n\n"
            f"{settings.offline_base_url}/password-reset/{token}\n\n"
            "Setting a new password logs out every session of the account. If you did not ask "
            "for this, ignore this message: your password stays as it is.\n"
        )
        send_mail(settings, to=user.email, subject="skyarchive: set a new password", body=body)
        return True
    except Exception as exc:  # noqa: BLE001  (a thread of its own: nobody else would see it)
        log.warning("Could not send a password-reset e-mail: %s", type(exc).__name__)
        return False
