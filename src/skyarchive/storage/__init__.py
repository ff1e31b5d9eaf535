"""File storage behind one small interface: a local directory by default, in-memory for tests."""

from skyarchive.storage.base import Storage, StoredFile, safe_key
from skyarchive.storage.local import LocalStorage
from skyarchive.storage.memory import MemoryStorage

__all__ = ["LocalStorage", "MemoryStorage", "Storage", "StoredFile", "safe_key"]
