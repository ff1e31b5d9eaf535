"""Target-name resolution: turn ``M57`` or ``Ring Nebula`` into ICRS coordinates.

A :class:`ResolverChain` asks its resolvers in order and the first one that knows the name wins,
as MAST's name lookup does. The default chain works offline:

1. :class:`ArchiveTargetResolver` - target names the archive itself holds (the lookup callable is
   supplied by the database layer);
2. :class:`OpenNgcResolver` - the OpenNGC catalogue bundled with the ``pyongc`` package (NGC, IC,
   Messier numbers, cross-identifiers and common names), read straight from its SQLite file;
3. :class:`SesameResolver` - CDS Sesame over HTTP, only when the operator enables it
   (``Settings.online_resolver``).

Names are compared in a normalised form (see :func:`normalise_name`), so ``Messier 57``, ``M 57``
and ``m57`` are one key, as are ``NGC 0224`` and ``NGC224``.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import re
import sqlite3
import threading
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from skyarchive import loop_budget
from skyarchive.errors import BadQuery, NotFound

__all__ = [
    "ArchiveLookup",
    "ArchiveTargetResolver",
    "OpenNgcResolver",
    "Resolved",
    "Resolver",
    "ResolverChain",
    "SesameResolver",
    "StaticResolver",
    "archive_lookup_from_mapping",
    "default_chain",
    "normalise_name",
]

log = logging.getLogger(__name__)

#: Given a normalised name, return ``(ra_deg, dec_deg, canonical_name)`` or ``None``.
ArchiveLookup = Callable[[str], tuple[float, float, str] | None]


@dataclass(frozen=True)
class Resolved:
    """A name resolved to a sky position."""

    search_string: str  # the input as given
    canonical_name: str
    ra: float  # degrees, ICRS
    dec: float  # degrees, ICRS
    resolver: str  # "ARCHIVE", "OPENNGC", "SESAME", ...
    object_type: str | None = None


class Resolver(Protocol):
    name: str

    def resolve(self, name: str) -> Resolved | None: ...


# --------------------------------------------------------------------------------------------
# Name normalisation

# Leading zeros of a number, unless the number continues a decimal fraction or another number.
_LEADING_ZEROS = re.compile(r"(?<![\d.])0+(?=\d)")
# A hyphen between two numbers separates them ("ESO 56-115" is not "ESO 561-15"): keep it.
_NUMERIC_HYPHEN = re.compile(r"(?<=\d)[\s_]*-[\s_]*(?=\d)")
_SEPARATORS = re.compile(r"[\s_\-'\u2019`]+")
_MESSIER = re.compile(r"(?:messier|m)(\d+)")
_KEPT_HYPHEN = "\x00"


def normalise_name(name: str) -> str:
    """The lookup key for a target name.

    Lower case; spaces, underscores, hyphens and apostrophes dropped; leading zeros of catalogue
    numbers dropped; ``Messier N`` spelt ``mN``. A hyphen between two numbers is kept so that
    ``ESO 56-115`` and ``ESO 561-15`` stay different. ``normalise_name`` is idempotent.

    >>> normalise_name("Messier 057"), normalise_name("NGC 0224"), normalise_name("Ring Nebula")
    ('m57', 'ngc224', 'ringnebula')
    """
    text = unicodedata.normalize("NFKC", name).strip().lower()
    text = _LEADING_ZEROS.sub("", text)
    text = _NUMERIC_HYPHEN.sub(_KEPT_HYPHEN, text)
    text = _SEPARATORS.sub("", text).replace(_KEPT_HYPHEN, "-")
    messier = _MESSIER.fullmatch(text)
    if messier:
        return f"m{messier.group(1)}"
    return text


# --------------------------------------------------------------------------------------------
# The chain

_NOT_FOUND_HINT = "Try coordinates such as '283.396 33.029' or a Messier/NGC/IC name."


class ResolverChain:
    """Ask resolvers in order; the first that knows a name wins."""

    def __init__(self, resolvers: Sequence[Resolver]) -> None:
        self._resolvers: tuple[Resolver, ...] = tuple(resolvers)

    @property
    def resolvers(self) -> tuple[Resolver, ...]:
        return self._resolvers

    @staticmethod
    def _checked(name: str) -> str:
        if not isinstance(name, str) or not name.strip():
            raise BadQuery(
                "No target name given: give an object name such as 'M57' or coordinates."
            )
        return name

    def resolve(self, name: str) -> Resolved:
        """The position of ``name`` from the first resolver that knows it.

        Raises :class:`BadQuery` for an empty name and :class:`NotFound` when no resolver knows it.
        """
        self._checked(name)
        for resolver in self._resolvers:
            hit = resolver.resolve(name)
            if hit is not None:
                return hit
        raise NotFound(f"Could not resolve {name.strip()!r} to a sky position. {_NOT_FOUND_HINT}")

    def resolve_all(self, name: str) -> list[Resolved]:
        """One result from every resolver that knows ``name`` (empty when none does)."""
        self._checked(name)
        hits = (resolver.resolve(name) for resolver in self._resolvers)
        return [hit for hit in hits if hit is not None]


def default_chain(
    *,
    archive_lookup: ArchiveLookup | None = None,
    online: bool = False,
    online_timeout: float = 3.0,
) -> ResolverChain:
    """Archive targets (when a lookup is given), then OpenNGC, then Sesame only if ``online``."""
    resolvers: list[Resolver] = []
    if archive_lookup is not None:
        resolvers.append(ArchiveTargetResolver(archive_lookup))
    resolvers.append(OpenNgcResolver())
    if online:
        resolvers.append(SesameResolver(enabled=True, timeout=online_timeout))
    return ResolverChain(resolvers)


# --------------------------------------------------------------------------------------------
# 1. Archive targets


class ArchiveTargetResolver:
    """Names the archive holds; ``lookup`` receives the normalised name."""

    name = "ARCHIVE"

    def __init__(self, lookup: ArchiveLookup) -> None:
        self._lookup = lookup

    @classmethod
    def from_mapping(cls, targets: Mapping[str, tuple[float, float]]) -> ArchiveTargetResolver:
        """An in-memory resolver over ``{target_name: (ra, dec)}`` (handy in tests)."""
        return cls(archive_lookup_from_mapping(targets))

    def resolve(self, name: str) -> Resolved | None:
        key = normalise_name(name)
        if not key:
            return None
        hit = self._lookup(key)
        if hit is None:
            return None
        ra, dec, canonical = hit
        return Resolved(name, canonical, float(ra), float(dec), self.name)


def archive_lookup_from_mapping(targets: Mapping[str, tuple[float, float]]) -> ArchiveLookup:
    """A lookup over ``{target_name: (ra, dec)}``; the canonical name is the key as given."""
    table = {normalise_name(target): (ra, dec, target) for target, (ra, dec) in targets.items()}
    return table.get


# --------------------------------------------------------------------------------------------
# 2. OpenNGC, offline


class _Entry(NamedTuple):
    canonical_name: str
    ra: float
    dec: float
    object_type: str


# The OpenNGC names we format for display: catalogue letters, a number, then any suffix.
_CATALOGUE_NAME = re.compile(r"([A-Za-z]+)0*(\d+)(.*)")


def _display_name(openngc_name: str) -> str:
    """``NGC0224`` -> ``NGC 224``, ``ESO056-115`` -> ``ESO 56-115``, ``IC0715NW`` -> ``IC 715NW``"""
    match = _CATALOGUE_NAME.fullmatch(openngc_name)
    if not match:
        return openngc_name
    catalogue, number, rest = match.groups()
    return f"{catalogue} {number}{rest}"


def _split_list(field: str | None) -> list[str]:
    return [part.strip() for part in (field or "").split(",") if part.strip()]


def _openngc_db_path() -> Path | None:
    """The SQLite file shipped inside the ``pyongc`` package, found without importing it."""
    spec = importlib.util.find_spec("pyongc")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "ongc.db"
        if candidate.is_file():
            return candidate
    return None


# Rank of the ways a key can name an object; a lower rank wins when two objects claim one key.
_RANK_NAME, _RANK_MESSIER, _RANK_CROSS_ID, _RANK_IDENTIFIER, _RANK_COMMON = range(5)
_MAX_DUPLICATE_HOPS = 4


def _build_openngc_index(db_path: Path) -> dict[str, _Entry]:
    """Read every OpenNGC object once and key it by each of its normalised names.

    ``Dup`` records (an NGC/IC number that is another object) point at the object they duplicate.
    """
    uri = f"{db_path.resolve().as_uri()}?mode=ro&immutable=1"
    connection = sqlite3.connect(uri, uri=True)
    try:
        rows = connection.execute(
            "SELECT name, type, ra, dec, messier, ngc, ic, identifiers, commonnames FROM objects"
        ).fetchall()
    finally:
        connection.close()

    by_name = {row[0]: row for row in rows}
    by_messier = {row[4]: row for row in rows if row[4] and row[1] != "Dup"}

    def main_object(row: tuple) -> tuple | None:
        """Follow ``Dup`` records to the object they duplicate."""
        for _ in range(_MAX_DUPLICATE_HOPS):
            if row[1] != "Dup":
                return row
            name, _type, _ra, _dec, messier, ngc, ic = row[:7]
            target = by_messier.get(messier) if messier else None
            if target is None:
                for catalogue, numbers in (("NGC", ngc), ("IC", ic)):
                    for number in _split_list(numbers):
                        candidate = by_name.get(f"{catalogue}{number}")
                        if candidate is not None and candidate[0] != name:
                            target = candidate
                            break
                    if target is not None:
                        break
            if target is None:
                return row  # a duplicate of nothing we hold: use its own position
            row = target
        return row if row[1] != "Dup" else None

    index: dict[str, tuple[int, int, _Entry]] = {}

    def add(name: str, rank: int, entry: _Entry, is_messier: bool) -> None:
        key = normalise_name(name)
        if not key:
            return
        priority = (rank, 0 if is_messier else 1)
        known = index.get(key)
        if known is None or priority < known[:2]:
            index[key] = (*priority, entry)

    for row in rows:
        name, _type, _ra, _dec, messier, ngc, ic, identifiers, common_names = row
        main = main_object(row)
        if main is None or main[2] is None or main[3] is None:
            continue  # nonexistent objects have no position
        main_messier = main[4]
        canonical = f"MESSIER {int(main_messier):03d}" if main_messier else _display_name(main[0])
        entry = _Entry(canonical, math.degrees(main[2]), math.degrees(main[3]), main[1])
        is_messier = bool(main_messier)
        add(name, _RANK_NAME, entry, is_messier)
        if messier:
            add(f"M{messier}", _RANK_MESSIER, entry, is_messier)
        for catalogue, numbers in (("NGC", ngc), ("IC", ic)):
            for number in _split_list(numbers):
                add(f"{catalogue}{number}", _RANK_CROSS_ID, entry, is_messier)
        for identifier in _split_list(identifiers):
            add(identifier, _RANK_IDENTIFIER, entry, is_messier)
        for common_name in _split_list(common_names):
            add(common_name, _RANK_COMMON, entry, is_messier)
    return {key: value[2] for key, value in index.items()}


_INDEX_LOCK = threading.Lock()
_INDEXES: dict[Path, dict[str, _Entry]] = {}


def _openngc_index(db_path: Path) -> dict[str, _Entry]:
    """The index for ``db_path``, built on first use and kept for the life of the process."""
    index = _INDEXES.get(db_path)
    if index is None:
        loop_budget.must_not_wait()  # a search tried on the event loop goes to a thread
        with _INDEX_LOCK:
            index = _INDEXES.get(db_path)
            if index is None:
                index = _build_openngc_index(db_path)
                _INDEXES[db_path] = index
    return index


class OpenNgcResolver:
    """The OpenNGC catalogue (about 14,000 NGC/IC/Messier and addendum objects), offline."""

    name = "OPENNGC"

    def __init__(self, db_path: Path | str | None = None) -> None:
        self._db_path = Path(db_path) if db_path is not None else None

    def _index(self) -> dict[str, _Entry]:
        if self._db_path is None:
            found = _openngc_db_path()
            if found is None:
                raise RuntimeError(
                    "The OpenNGC catalogue was not found: install the 'pyongc' package."
                )
            self._db_path = found
        return _openngc_index(self._db_path)

    def names(self) -> Iterable[str]:
        """Every normalised key the catalogue answers to."""
        return self._index().keys()

    def resolve(self, name: str) -> Resolved | None:
        entry = self._index().get(normalise_name(name))
        if entry is None:
            return None
        return Resolved(
            name, entry.canonical_name, entry.ra, entry.dec, self.name, entry.object_type
        )


# --------------------------------------------------------------------------------------------
# 3. CDS Sesame, online and off by default

SESAME_URL = "https://cds.unistra.fr/cgi-bin/nph-sesame/-oI/SNV?"


def _http_get(url: str, timeout: float) -> str:
    request = urllib.request.Request(url, headers={"User-Agent": "skyarchive name resolver"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (fixed https URL)
        return response.read().decode("utf-8", errors="replace")


def parse_sesame(text: str) -> tuple[float, float, str | None, str | None] | None:
    """``(ra, dec, main identifier, object type)`` from Sesame's plain-text answer, or ``None``.

    The answer has one block per database asked (``#=S=Simbad ...``); the first block with a
    position (``%J ra dec ...``) is used, with its ``%I.0`` main identifier and ``%C.0`` type.
    """
    position: tuple[float, float] | None = None
    main_id: str | None = None
    object_type: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#="):  # a new database's block
            if position is not None:
                break
            main_id = object_type = None
        elif line.startswith("%J ") and position is None:
            parts = line[3:].split()
            try:
                position = (float(parts[0]), float(parts[1]))
            except (IndexError, ValueError):
                continue
        elif line.startswith("%I.0 ") and main_id is None:
            main_id = " ".join(line[5:].split()) or None
        elif line.startswith("%C.0 ") and object_type is None:
            object_type = line[5:].strip() or None
    if position is None:
        return None
    return position[0], position[1], main_id, object_type


class SesameResolver:
    """CDS Sesame (SIMBAD, NED, VizieR) over HTTP; does nothing unless ``enabled``.

    Any network or parsing failure counts as "not found" and is logged as a warning, so an outage
    at CDS never breaks a search. ``fetch(url, timeout)`` can be replaced (tests use a fake).
    """

    name = "SESAME"

    def __init__(
        self,
        *,
        enabled: bool = False,
        timeout: float = 3.0,
        url: str = SESAME_URL,
        fetch: Callable[[str, float], str] | None = None,
    ) -> None:
        self.enabled = enabled
        self.timeout = timeout
        self.url = url
        self._fetch = fetch or _http_get

    def resolve(self, name: str) -> Resolved | None:
        if not self.enabled or not name.strip():
            return None
        url = self.url + urllib.parse.quote(name.strip())
        loop_budget.must_not_wait()  # a search tried on the event loop goes to a thread
        try:
            answer = parse_sesame(self._fetch(url, self.timeout))
        except (OSError, ValueError, urllib.error.URLError) as exc:  # timeouts are OSErrors
            log.warning("Sesame lookup of %r failed: %s", name, exc)
            return None
        if answer is None:
            return None
        ra, dec, main_id, object_type = answer
        return Resolved(name, main_id or name.strip(), ra, dec, self.name, object_type)


# --------------------------------------------------------------------------------------------
# A fake for tests elsewhere


class StaticResolver:
    """An in-memory resolver over ``{name: (ra, dec)}`` or ``{name: (ra, dec, canonical)}``.

    Keys are matched in normalised form; every name asked is recorded in :attr:`calls`.
    """

    def __init__(
        self,
        mapping: Mapping[str, tuple[float, float] | tuple[float, float, str]],
        *,
        name: str = "STATIC",
        object_type: str | None = None,
    ) -> None:
        self.name = name
        self.object_type = object_type
        self.calls: list[str] = []
        self._table: dict[str, tuple[float, float, str]] = {}
        for key, value in mapping.items():
            ra, dec, *rest = value
            canonical = str(rest[0]) if rest else key
            self._table[normalise_name(key)] = (float(ra), float(dec), canonical)

    def resolve(self, name: str) -> Resolved | None:
        self.calls.append(name)
        hit = self._table.get(normalise_name(name))
        if hit is None:
            return None
        ra, dec, canonical = hit
        return Resolved(name, canonical, ra, dec, self.name, self.object_type)
