"""The DOI use-cases the faces call: reserve a DOI for a data set, publish it, show it.

Each takes the ``caller``; reserving needs a signed-in user, publishing the data set's owner
(or an admin). Retrieval of a data set's files is not here: the faces hand its obsids to the
delivery façade (:mod:`skyarchive.delivery.service`), which applies the one access rule.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from skyarchive.access.policy import Caller
from skyarchive.access.rights import now_mjd
from skyarchive.config import Settings
from skyarchive.db.tables import datasets
from skyarchive.doi import agency as agencies
from skyarchive.doi.datasets import (
    Availability,
    Dataset,
    DatasetDraft,
    availability,
    checked,
    checked_obsids,
    dataset_observation_rows,
    dataset_obsids,
    delete_dataset,
    every_dataset,
    find_dataset,
    related_kind,
    set_state,
    store_dataset,
)
from skyarchive.doi.identifiers import new_suffix, split_doi
from skyarchive.doi.metadata import (
    bibtex,
    citation_text,
    datacite_attributes,
    datacite_document,
    schema_org,
)
from skyarchive.errors import BadQuery, Forbidden, InternalError, Unauthorized

#: How many observations a landing page lists (the rest are one search away).
LISTED_OBSERVATIONS = 200


def landing_url(base_url: str, doi: str) -> str:
    return f"{base_url.rstrip('/')}/doi/{doi}"


def _unused_doi(engine: Engine, prefix: str) -> str:
    for _ in range(10):  # 40 random bits: a clash is rare, ten in a row impossible in practice
        doi = f"{prefix}/{new_suffix()}"
        with engine.connect() as conn:
            if conn.execute(select(datasets.c.dataset_id).where(datasets.c.doi == doi)).first():
                continue
        return doi
    raise InternalError("No unused DOI suffix was found in ten tries.")


def reserve_doi(
    engine: Engine,
    settings: Settings,
    *,
    caller: Caller,
    draft: DatasetDraft,
    obsids: Sequence[object],
    base_url: str,
) -> Dataset:
    """Make a data set of ``obsids`` described by ``draft`` and reserve its DOI.

    Without a registration agency the DOI is a local draft; with DataCite configured it is
    stored here first, then created there as a draft, and removed here again if DataCite
    refuses it (so no draft is left at DataCite that the archive does not know).

    Parameters
    ----------
    engine : Engine
        The catalogue.
    settings : Settings
        ``doi_prefix``, ``doi_publisher`` and the DataCite settings.
    caller : Caller
        A signed-in user, who owns the data set.
    draft : DatasetDraft
        Title, creators, description and the related paper.
    obsids : sequence
        The observations (at most 10,000), as obsids.
    base_url : str
        The archive's public URL; the landing page is ``<base_url>/doi/<doi>``.

    Raises
    ------
    Unauthorized
        The caller is not signed in.
    BadQuery
        Missing or malformed metadata, no or too many observations; DataCite refused it.
    NotFound
        Obsids the archive does not have.
    Unavailable
        DataCite could not be reached or refused the archive's account.
    """
    if caller.anonymous or caller.user_id is None:
        raise Unauthorized(caller.problem or "Log in to reserve a DOI.")
    draft = checked(draft)
    with engine.connect() as conn:
        wanted = checked_obsids(conn, obsids)
    doi = _unused_doi(engine, settings.doi_prefix)
    now = time.time()
    year = datetime.now(UTC).year
    agency = agencies.agency_of(settings)
    # Stored here first, then sent to the agency: a failure here leaves nothing at DataCite
    # (a draft there cannot be listed back by the archive), and a refusal there removes the
    # row again, so either way nothing is reserved on one side only.
    with engine.begin() as conn:
        dataset_id = store_dataset(conn, doi=doi, owner_id=caller.user_id, draft=draft,
                                   obsids=wanted, state=agencies.DRAFT, agency=agency.name,
                                   year=year, now=now)  # fmt: skip
    if agency.name == agencies.DATACITE:
        planned = _unsaved(doi, caller, draft, len(wanted), year, agency.name, now)
        attributes = datacite_attributes(planned, url=landing_url(base_url, doi),
                                         publisher=settings.doi_publisher)  # fmt: skip
        try:
            state = agencies.create_draft(agency, datacite_document(attributes))
        except BaseException:
            with engine.begin() as conn:
                delete_dataset(conn, dataset_id)
            raise
        if state != agencies.DRAFT:
            with engine.begin() as conn:
                set_state(conn, dataset_id, state, now=now)
    with engine.connect() as conn:
        return find_dataset(conn, doi)


def _unsaved(
    doi: str, caller: Caller, draft: DatasetDraft, count: int, year: int, agency: str, now: float
) -> Dataset:
    """The data set as it will be stored (to describe it to the agency before storing it)."""
    related, kind = related_kind(draft.related) if draft.related else (None, None)
    return Dataset(
        dataset_id=0, doi=doi, owner_id=int(caller.user_id or 0),
        owner_name=caller.display_name or caller.email or "", title=draft.title,
        creators=draft.creators, description=draft.description, related_identifier=related,
        related_type=kind, state=agencies.DRAFT, agency=agency, publication_year=year,
        observation_count=count, created_at=now,
    )  # fmt: skip


def publish_doi(
    engine: Engine, settings: Settings, *, caller: Caller, doi: str, base_url: str
) -> Dataset:
    """Make a reserved DOI findable at DataCite (its owner or an admin).

    Raises
    ------
    Unauthorized, Forbidden
        Not signed in; neither the owner nor an admin.
    NotFound
        No such DOI here.
    BadQuery
        No registration agency is configured (register the exported document by hand), or
        the DOI was reserved before one was.
    Unavailable
        DataCite could not be reached.
    """
    with engine.connect() as conn:
        dataset = find_dataset(conn, doi)
    _check_owner(caller, dataset)
    agency = agencies.agency_of(settings)
    if agency.name != agencies.DATACITE or dataset.agency != agencies.DATACITE:
        raise BadQuery(
            f"{dataset.doi} is a local draft: no registration agency is configured. Register "
            f"its DataCite JSON (/doi/{dataset.doi}/datacite.json) with your agency by hand."
        )
    attributes = datacite_attributes(dataset, url=landing_url(base_url, dataset.doi),
                                     publisher=settings.doi_publisher)  # fmt: skip
    state = agencies.publish(agency, dataset.doi, datacite_document(attributes, event="publish"))
    with engine.begin() as conn:
        set_state(conn, dataset.dataset_id, state, now=time.time())
        return find_dataset(conn, dataset.doi)


def _check_owner(caller: Caller, dataset: Dataset) -> None:
    if caller.anonymous:
        raise Unauthorized(caller.problem or "Log in to change a DOI.")
    if not caller.is_admin and caller.user_id != dataset.owner_id:
        raise Forbidden(f"Only the owner of {dataset.doi} or an archive admin may change it.")


@dataclass(frozen=True)
class LandingPage:
    """Everything a DOI's landing page shows, for one caller."""

    dataset: Dataset
    prefix: str
    suffix: str
    url: str
    citation: str
    bibtex: str
    datacite: dict[str, Any]
    schema_org: dict[str, Any]
    availability: Availability
    observations: list[dict[str, Any]]
    may_publish: bool


def landing_page(
    engine: Engine, settings: Settings, *, caller: Caller, doi: str, base_url: str
) -> LandingPage:
    """The landing page of ``doi`` as ``caller`` sees it (NotFound for an unknown DOI)."""
    publisher = settings.doi_publisher
    with engine.connect() as conn:
        dataset = find_dataset(conn, doi)
        rights = availability(conn, dataset.dataset_id, caller=caller, now=now_mjd())
        rows = dataset_observation_rows(conn, dataset.dataset_id, limit=LISTED_OBSERVATIONS)
    url = landing_url(base_url, dataset.doi)
    prefix, suffix = split_doi(dataset.doi)
    owner = not caller.anonymous and (caller.is_admin or caller.user_id == dataset.owner_id)
    return LandingPage(
        dataset=dataset, prefix=prefix, suffix=suffix, url=url,
        citation=citation_text(dataset, publisher=publisher),
        bibtex=bibtex(dataset, publisher=publisher),
        datacite=datacite_document(datacite_attributes(dataset, url=url, publisher=publisher)),
        schema_org=schema_org(dataset, url=url, publisher=publisher),
        availability=rights, observations=rows,
        may_publish=owner and dataset.agency == agencies.DATACITE
        and dataset.state != agencies.FINDABLE,
    )  # fmt: skip


def datacite_export(engine: Engine, settings: Settings, *, doi: str, base_url: str) -> dict:
    """The DataCite JSON:API document of ``doi``, ready for ``POST /dois`` by hand."""
    with engine.connect() as conn:
        dataset = find_dataset(conn, doi)
    url = landing_url(base_url, dataset.doi)
    return datacite_document(
        datacite_attributes(dataset, url=url, publisher=settings.doi_publisher)
    )


def observations_of_doi(engine: Engine, doi: str) -> tuple[Dataset, list[int]]:
    """The data set of ``doi`` and its obsids (for a search by DOI and for retrieval)."""
    with engine.connect() as conn:
        dataset = find_dataset(conn, doi)
        return dataset, dataset_obsids(conn, dataset.dataset_id)


def record_manual_registration(engine: Engine, *, doi: str, state: str) -> Dataset:
    """The operator registered a local DOI by hand (its DataCite JSON): record the state.

    Raises
    ------
    BadQuery
        An unknown state, or a DOI DataCite manages (publish it from its page instead).
    NotFound
        No such DOI here.
    """
    if state not in agencies.STATES:
        raise BadQuery(f"Unknown state {state!r}; give one of {', '.join(agencies.STATES)}.")
    with engine.begin() as conn:
        dataset = find_dataset(conn, doi)
        if dataset.agency != agencies.LOCAL:
            raise BadQuery(f"{dataset.doi} is managed through DataCite; publish it from its page.")
        set_state(conn, dataset.dataset_id, state, now=time.time())
        return find_dataset(conn, dataset.doi)


def all_datasets(engine: Engine) -> list[Dataset]:
    """Every data set, newest first (for the operator)."""
    with engine.connect() as conn:
        return every_dataset(conn)
