"""The one error vocabulary of skyarchive.

Services raise these; each face (MAST API, portal API, CLI) maps them in one place::

    SkyArchiveError (status 500)
    ├── BadQuery (400, ValueError)        malformed or impossible input
    │   └── UnknownColumn (400, KeyError)  a column name we do not have
    ├── Unauthorized (401)                 no or bad credentials
    ├── Forbidden (403)                    valid caller, not allowed
    ├── NotFound (404, LookupError)        no such observation, product, file or page
    ├── MethodNotAllowed (405)             a known path asked with the wrong HTTP method
    ├── Gone (410)                         a link that was valid once and has expired
    ├── PayloadTooLarge (413)              request beyond an operator limit
    ├── RangeNotSatisfiable (416)          a byte range outside the file
    ├── IngestError (422, ValueError)      a file that cannot be archived
    ├── TooManyRequests (429)              an operator's rate limit reached (says when to retry)
    ├── InternalError (500)                an unexpected failure (details only in the log)
    ├── Unavailable (503)                  a part the installation lacks (e.g. stdatamodels)
    └── StorageUnavailable (507)           storage or catalogue cannot take a write (disk full)

Messages carry the bad value and, where there is one, the way out.
"""

from __future__ import annotations


class SkyArchiveError(Exception):
    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.headers: dict[str, str] = {}  # HTTP headers the answer must carry

    def __str__(self) -> str:
        return self.message


class BadQuery(SkyArchiveError, ValueError):
    status = 400


class UnknownColumn(BadQuery, KeyError):
    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.message


class Unauthorized(SkyArchiveError):
    status = 401


class Forbidden(SkyArchiveError):
    status = 403


class NotFound(SkyArchiveError, LookupError):
    status = 404


class MethodNotAllowed(SkyArchiveError):
    status = 405


class Gone(SkyArchiveError):
    """A link or resource that existed and will not come back (an expired link): unlike
    NotFound, retrying or correcting the request cannot help."""

    status = 410


class PayloadTooLarge(SkyArchiveError):
    status = 413


class RangeNotSatisfiable(SkyArchiveError):
    status = 416

    def __init__(self, message: str, *, size: int | None = None) -> None:
        super().__init__(message)
        if size is not None:  # tells the client the file's length (RFC 9110, 15.5.17)
            self.headers["Content-Range"] = f"bytes */{size}"


class IngestError(SkyArchiveError, ValueError):
    status = 422


class TooManyRequests(SkyArchiveError):
    status = 429

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        if retry_after is not None:  # whole seconds until a retry can succeed (RFC 9110, 10.2.3)
            self.headers["Retry-After"] = str(max(1, int(retry_after)))


class InternalError(SkyArchiveError):
    status = 500


class Unavailable(SkyArchiveError):
    status = 503


class StorageUnavailable(SkyArchiveError):
    """The archive cannot store anything more now (disk full, read-only): stop, do not skip."""

    status = 507
