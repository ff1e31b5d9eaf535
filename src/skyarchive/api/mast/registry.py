"""MAST invoke services, each a small function registered under its service name."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import orjson
from sqlalchemy import Connection

from skyarchive.access.policy import ANONYMOUS, Caller
from skyarchive.archive import Archive
from skyarchive.errors import BadQuery
from skyarchive.search.columns import ColumnInfo


@dataclass
class MastRequest:
    service: str
    params: dict[str, Any]
    format: str = "json"
    page: int = 1
    pagesize: int = 50_000
    page_given: bool = False


def request_key(request: MastRequest) -> bytes:
    """The request, normalised for the answer cache (``api/answer_cache.py``): services by
    lower-cased name, params with keys sorted."""
    return orjson.dumps(
        [request.service.lower(), request.params, request.format, request.page,
         request.pagesize, request.page_given],
        option=orjson.OPT_SORT_KEYS,
    )  # fmt: skip


@dataclass
class ServiceContext:
    archive: Archive
    conn: Connection
    now: float
    #: Who asks, worked out only by the services that need it (the EDB's): most answer
    #: everyone alike and should not pay a credentials lookup.
    caller_of: Callable[[], Caller] = lambda: ANONYMOUS

    @property
    def caller(self) -> Caller:
        return self.caller_of()


class Fields(Sequence[Mapping[str, str]]):
    """A table answer's fields as MAST declares them (a name and a type each), with their
    JSON written once. A choice of columns declares the same fields in every answer, so a
    service may keep its :class:`Fields` and hand the same one to each (a keyword table's
    250 fields cost ~45 µs an answer to copy and write again); nothing changes them."""

    __slots__ = ("_declared", "json")

    def __init__(self, declared: Iterable[dict[str, str]]) -> None:
        self._declared = tuple(declared)
        self.json = orjson.dumps(self._declared)

    @classmethod
    def of(cls, columns: Iterable[ColumnInfo]) -> Fields:
        """The fields of ``columns``, each declared with its own type."""
        return cls({"name": column.name, "type": column.type} for column in columns)

    @overload
    def __getitem__(self, index: int) -> Mapping[str, str]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Mapping[str, str]]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return self._declared[index]

    def __len__(self) -> int:
        return len(self._declared)


@dataclass
class TableResult:
    """A table answer: column facts, total rows and the lazily produced rows of this page.

    ``total`` may be a function, asked only after the rows have been read (a search can often
    tell its total from a page that was not full). ``encoded`` rows are JSON text already.
    ``columns`` are the facts (unit, UCD, description) of the fields, for CSV and VOTable.
    """

    fields: Fields
    rows: Any  # iterable of dicts, or of JSON text when encoded
    total: int | Callable[[], int]
    page: int
    pagesize: int
    encoded: bool = False
    columns: Sequence[ColumnInfo] = ()

    def total_rows(self) -> int:
        return self.total() if callable(self.total) else self.total


Handler = Callable[[ServiceContext, MastRequest], "TableResult | dict[str, Any]"]
_SERVICES: dict[str, tuple[str, Handler]] = {}  # lower-cased name -> (name, handler)
_CACHED: set[str] = set()  # lower-cased names of the services whose answers may be kept


def mast_service(*names: str, cached: bool = False) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the implementation of the MAST services ``names``.

    ``cached``: its answers may be kept and served again (``api/answer_cache.py``) because
    they depend on nothing but the request, the catalogue's rows and the time against release
    dates: not on the caller, the configuration or anything outside the catalogue.
    """

    def register(handler: Handler) -> Handler:
        for name in names:
            _SERVICES[name.lower()] = (name, handler)
            if cached:
                _CACHED.add(name.lower())
        return handler

    return register


def is_cached(name: str) -> bool:
    """Whether service ``name`` (any case) was registered ``cached``."""
    return name.lower() in _CACHED


def service_handler(name: str) -> Handler:
    """The handler of service ``name`` (any case); BadQuery naming the services we answer."""
    found = _SERVICES.get(str(name).lower())
    if found is None:
        raise BadQuery(f"Unknown service '{name}'. This archive answers: {', '.join(served())}.")
    return found[1]


def served() -> list[str]:
    """Every service name this archive answers (those registered: see ``routes.py``)."""
    return sorted(name for name, _ in _SERVICES.values())
