"""Send one e-mail: through SMTP when configured, else into the maildir ``outbox/`` in the home.

The outbox lets a single-machine archive work without a mail server: operators read or
forward it with any maildir tool (``mutt -f <home>/outbox``).
"""

from __future__ import annotations

import mailbox
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from skyarchive.config import Settings


def build_message(*, sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(body)
    return message


def outbox_path(settings: Settings) -> Path:
    return (settings.home / "outbox").resolve()


def send_mail(settings: Settings, *, to: str, subject: str, body: str) -> str:
    """Send a plain-text e-mail; return where it went (``smtp:<host>`` or the outbox path).

    Parameters
    ----------
    settings : Settings
        ``smtp_host`` (and port, user, password, STARTTLS) when set; else the maildir outbox.
    to : str
        Recipient address.
    subject, body : str
        Subject line and plain-text body.
    """
    message = build_message(sender=settings.mail_from, to=to, subject=subject, body=body)
    return deliver(settings, message)


def deliver(settings: Settings, message: EmailMessage) -> str:
    """Send a built message (for instance one with attachments) the way :func:`send_mail` does."""
    if settings.smtp_host:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)
        return f"smtp:{settings.smtp_host}"
    box = mailbox.Maildir(outbox_path(settings), create=True)
    try:
        box.add(message)
    finally:
        box.close()
    return str(outbox_path(settings))
