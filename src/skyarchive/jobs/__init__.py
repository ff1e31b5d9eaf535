"""Background jobs (staging, clean-up, subscription e-mails) run by ``skyarchive worker``."""
