"""Notices to users: e-mail through SMTP, or a maildir outbox in the archive home."""
