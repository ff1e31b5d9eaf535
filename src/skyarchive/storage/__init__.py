"""File storage behind one small interface: a local directory by default, an S3-compatible
object store when configured, in-memory for tests. :func:`open_storage` picks one by settings."""

from skyarchive.storage.base import Storage, StoredFile, StoredObject, safe_key
from skyarchive.storage.local import LocalStorage
from skyarchive.storage.memory import MemoryStorage
from skyarchive.storage.opening import open_storage, storage_at

__all__ = [
    "LocalStorage",
    "MemoryStorage",
    "Storage",
    "StoredFile",
    "StoredObject",
    "open_storage",
    "safe_key",
    "storage_at",
]
