"""Data sets: the observations a user gathered under one DOI, and what describes them.

A data set holds up to :data:`MAX_OBSERVATIONS` observations (MAST's limit for a user's DOI),
checked and stored set-based (a few queries per 2,000 obsids). Its files follow the archive's
one access rule like any other: what an observation in its exclusive-access period holds is
retrievable by everyone only once the observation turns public (:func:`availability`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select

from skyarchive.access.policy import Caller, may_retrieve
from skyarchive.access.rights import PUBLIC, data_rights
from skyarchive.db.tables import dataset_observations, datasets, observations, users
from skyarchive.doi.identifiers import parse_doi
from skyarchive.errors import BadQuery, NotFound
from skyarchive.products.listing import parse_obsids

MAX_OBSERVATIONS = 10_000
MAX_CREATORS = 100
_CHUNK = 2000
_TITLE, _NAME, _DESCRIPTION = 500, 200, 10_000
# An ADS bibcode: 19 characters, year first (e.g. 2023Natur.614..659R).
_BIBCODE = re.compile(r"^\d{4}[A-Za-z0-9&.]{14}[A-Z.]$")


@dataclass(frozen=True)
class DatasetDraft:
    """What a user says about a data set before its DOI exists (checked by :func:`checked`)."""

    title: str
    creators: tuple[str, ...]
    description: str
    related: str = ""  # the paper: a DOI or an ADS bibcode, or nothing yet


@dataclass(frozen=True)
class Dataset:
    dataset_id: int
    doi: str
    owner_id: int
    owner_name: str
    title: str
    creators: tuple[str, ...]
    description: str
    related_identifier: str | None
    related_type: str | None  # "DOI" or "bibcode"
    state: str  # draft | registered | findable
    agency: str  # local | datacite
    publication_year: int
    observation_count: int
    created_at: float


def checked(draft: DatasetDraft) -> DatasetDraft:
    """The draft with its text trimmed, or BadQuery naming what is missing or too long."""
    title = draft.title.strip()
    description = draft.description.strip()
    creators = tuple(name.strip() for name in draft.creators if name and name.strip())
    if not title:
        raise BadQuery("Give the data set a title.")
    if len(title) > _TITLE:
        raise BadQuery(f"The title has {len(title)} characters; at most {_TITLE}.")
    if not creators:
        raise BadQuery("Name at least one creator (e.g. 'Lovelace, Ada').")
    if len(creators) > MAX_CREATORS:
        raise BadQuery(f"At most {MAX_CREATORS} creators (got {len(creators)}).")
    for name in creators:
        if len(name) > _NAME or not name.isprintable():
            raise BadQuery(f"Creator {name[:40]!r}…: at most {_NAME} printable characters.")
    if not description:
        raise BadQuery("Describe the data set (what it holds, what it was used for).")
    if len(description) > _DESCRIPTION:
        raise BadQuery(f"The description has {len(description)} characters; at most 10,000.")
    related = draft.related.strip()
    if related:
        related_kind(related)
    return DatasetDraft(title, creators, description, related)


def related_kind(value: str) -> tuple[str, str]:
    """(identifier, "DOI" | "bibcode") of the related paper, or BadQuery."""
    if _BIBCODE.match(value):
        return value, "bibcode"
    try:
        return parse_doi(value), "DOI"
    except BadQuery:
        raise BadQuery(
            f"Related paper {value[:60]!r}: give its DOI (10.3847/...) or its ADS bibcode "
            "(19 characters, e.g. 2023Natur.614..659R)."
        ) from None


def checked_obsids(conn: Connection, values: Sequence[object]) -> list[int]:
    """Distinct obsids, each an observation of this archive, at most :data:`MAX_OBSERVATIONS`.

    Raises
    ------
    BadQuery
        None given, more than the limit, or a value that is no obsid.
    NotFound
        Obsids the archive does not have (the first few are named).
    """
    if not values:
        raise BadQuery("A data set needs at least one observation.")
    # Repeats (a row met twice) count once, so they are dropped before the limit applies.
    wanted = list(dict.fromkeys(parse_obsids(list(dict.fromkeys(values)), limit=MAX_OBSERVATIONS)))
    known: set[int] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        known.update(
            conn.execute(select(observations.c.obsid).where(observations.c.obsid.in_(chunk)))
            .scalars()
        )  # fmt: skip
    unknown = [obsid for obsid in wanted if obsid not in known]
    if unknown:
        raise NotFound(
            f"{len(unknown)} obsids are not in this archive: "
            + ", ".join(str(o) for o in unknown[:5]) + ("…" if len(unknown) > 5 else "")
        )  # fmt: skip
    return wanted


def store_dataset(
    conn: Connection,
    *,
    doi: str,
    owner_id: int,
    draft: DatasetDraft,
    obsids: Sequence[int],
    state: str,
    agency: str,
    year: int,
    now: float,
) -> int:
    """Insert a checked data set and its observations; its ``dataset_id``."""
    related, kind = related_kind(draft.related) if draft.related else (None, None)
    dataset_id = conn.execute(
        insert(datasets).values(
            doi=doi, owner_id=owner_id, title=draft.title, creators=json.dumps(draft.creators),
            description=draft.description, related_identifier=related, related_type=kind,
            state=state, agency=agency, publication_year=year, observation_count=len(obsids),
            created_at=now, updated_at=now,
        ).returning(datasets.c.dataset_id)
    ).scalar_one()  # fmt: skip
    for start in range(0, len(obsids), _CHUNK):
        rows = [{"dataset_id": dataset_id, "obsid": o} for o in obsids[start : start + _CHUNK]]
        conn.execute(insert(dataset_observations), rows)
    return int(dataset_id)


def delete_dataset(conn: Connection, dataset_id: int) -> None:
    """Remove a data set and its observation list (a reservation the agency refused)."""
    conn.execute(
        delete(dataset_observations).where(dataset_observations.c.dataset_id == dataset_id)
    )
    conn.execute(delete(datasets).where(datasets.c.dataset_id == dataset_id))


_DATASET = select(datasets, users.c.display_name, users.c.email).join(
    users, users.c.user_id == datasets.c.owner_id
)


def _dataset(row) -> Dataset:  # type: ignore[no-untyped-def]
    return Dataset(
        dataset_id=row.dataset_id, doi=row.doi, owner_id=row.owner_id,
        owner_name=row.display_name or row.email, title=row.title,
        creators=tuple(json.loads(row.creators)), description=row.description,
        related_identifier=row.related_identifier, related_type=row.related_type,
        state=row.state, agency=row.agency, publication_year=row.publication_year,
        observation_count=row.observation_count, created_at=row.created_at,
    )  # fmt: skip


def find_dataset(conn: Connection, doi: str) -> Dataset:
    """The data set of ``doi`` (any spelling :func:`parse_doi` reads), or NotFound."""
    parsed = parse_doi(doi)
    row = conn.execute(_DATASET.where(datasets.c.doi == parsed)).first()
    if row is None:
        raise NotFound(f"No data set with DOI {parsed} in this archive.")
    return _dataset(row)


def datasets_of(conn: Connection, *, user_id: int) -> list[Dataset]:
    """A user's data sets, newest first."""
    query = _DATASET.where(datasets.c.owner_id == user_id).order_by(datasets.c.dataset_id.desc())
    return [_dataset(row) for row in conn.execute(query)]


def every_dataset(conn: Connection) -> list[Dataset]:
    """Every data set of the archive, newest first."""
    return [_dataset(row) for row in conn.execute(_DATASET.order_by(datasets.c.dataset_id.desc()))]


def dataset_obsids(conn: Connection, dataset_id: int) -> list[int]:
    """The obsids of a data set, in obsid order."""
    query = (
        select(dataset_observations.c.obsid)
        .where(dataset_observations.c.dataset_id == dataset_id)
        .order_by(dataset_observations.c.obsid)
    )
    return [int(obsid) for obsid in conn.execute(query).scalars()]


def set_state(conn: Connection, dataset_id: int, state: str, *, now: float) -> None:
    conn.execute(
        datasets.update()
        .where(datasets.c.dataset_id == dataset_id)
        .values(state=state, updated_at=now)
    )


@dataclass(frozen=True)
class Availability:
    """Who may retrieve a data set's observations now, and when the rest turns public.

    ``restricted``: observations in their exclusive-access period now; ``yours``: how many
    of those the caller may retrieve all the same (PI, authorised, admin); ``public_from``:
    the MJD by which every restricted one has a release date passed (None when one has no
    release date yet, e.g. a planned observation).
    """

    total: int
    restricted: int
    yours: int
    next_release: float | None
    public_from: float | None

    @property
    def everyone(self) -> bool:
        return self.restricted == 0

    @property
    def retrievable(self) -> int:
        """How many observations the caller may retrieve now."""
        return self.total - self.restricted + self.yours


def availability(conn: Connection, dataset_id: int, *, caller: Caller, now: float) -> Availability:
    """What :class:`Availability` says for ``caller`` now, by the one access rule."""
    query = (
        select(observations.c.proposal_id, observations.c.t_obs_release, func.count())
        .join(dataset_observations, dataset_observations.c.obsid == observations.c.obsid)
        .where(dataset_observations.c.dataset_id == dataset_id)
        .group_by(observations.c.proposal_id, observations.c.t_obs_release)
    )
    total = restricted = yours = 0
    releases: list[float | None] = []
    for proposal_id, release, count in conn.execute(query):
        total += count
        if data_rights(release, now=now) == PUBLIC:
            continue
        restricted += count
        releases.append(release)
        if may_retrieve(caller, proposal_id=proposal_id, t_obs_release=release, now=now):
            yours += count
    known = [r for r in releases if r is not None]
    return Availability(
        total, restricted, yours,
        next_release=min(known) if known else None,
        public_from=max(known) if known and len(known) == len(releases) else None,
    )  # fmt: skip


def dataset_observation_rows(
    conn: Connection, dataset_id: int, *, limit: int
) -> list[dict[str, object]]:
    """The first ``limit`` observations of a data set (obsid order) for its landing page."""
    columns = [observations.c[name] for name in (
        "obsid", "obs_id", "obs_collection", "instrument_name", "filters", "target_name",
        "proposal_id", "t_obs_release",
    )]  # fmt: skip
    query = (
        select(*columns)
        .join(dataset_observations, dataset_observations.c.obsid == observations.c.obsid)
        .where(dataset_observations.c.dataset_id == dataset_id)
        .order_by(observations.c.obsid)
        .limit(limit)
    )
    return [dict(row._mapping) for row in conn.execute(query)]
