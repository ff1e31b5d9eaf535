"""Ingest: turn pipeline files into catalog rows and stored files."""
