"""Background jobs (batch staging, clean-up) run by ``skyarchive worker`` through huey."""
