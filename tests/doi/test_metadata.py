"""DOI names and what a DOI says about its data set (in process, no server)."""

from __future__ import annotations

import re

import pytest

from skyarchive.config import Settings
from skyarchive.doi.agency import agency_of
from skyarchive.doi.datasets import Dataset, DatasetDraft, checked, related_kind
from skyarchive.doi.identifiers import new_suffix, parse_doi
from skyarchive.doi.metadata import bibtex, citation_text, datacite_attributes, schema_org
from skyarchive.errors import BadQuery


def _dataset(**changes) -> Dataset:  # type: ignore[no-untyped-def]
    values = dict(
        dataset_id=1, doi="10.5072/sky-ab12-cd34", owner_id=1, owner_name="Ada",
        title="Spectra of WASP-39 b", creators=("Lovelace, Ada", "JWST ERS Team"),
        description="Time series.", related_identifier="2023Natur.614..659R",
        related_type="bibcode", state="draft", agency="local", publication_year=2026,
        observation_count=3, created_at=0.0,
    )  # fmt: skip
    values.update(changes)
    return Dataset(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "written",
    ["10.17909/T9-9SKZ-QW10", "doi:10.17909/t9-9skz-qw10", " https://doi.org/10.17909/t9-9skz-qw10",
     "http://dx.doi.org/10.17909/T9-9skz-qw10"],
)  # fmt: skip
def test_a_doi_is_read_in_every_usual_spelling(written: str) -> None:
    assert parse_doi(written) == "10.17909/t9-9skz-qw10"


@pytest.mark.parametrize("written", ["", "M57", "10.1/x", "11.5072/abc", "10.5072/", "10.5072/a b"])
def test_what_is_no_doi_is_a_bad_query(written: str) -> None:
    with pytest.raises(BadQuery, match="DOI"):
        parse_doi(written)


def test_new_suffixes_are_random_and_unambiguous() -> None:
    made = {new_suffix() for _ in range(200)}
    assert len(made) == 200
    for suffix in made:
        assert re.fullmatch(r"sky-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}", suffix)


def test_the_related_paper_is_a_doi_or_a_bibcode() -> None:
    assert related_kind("2023Natur.614..659R") == ("2023Natur.614..659R", "bibcode")
    assert related_kind("https://doi.org/10.1038/S41586-022-05591-3") == (
        "10.1038/s41586-022-05591-3", "DOI",
    )  # fmt: skip
    with pytest.raises(BadQuery, match="bibcode"):
        related_kind("Nature 614, 659")


def test_a_draft_is_trimmed_and_its_limits_named() -> None:
    draft = checked(DatasetDraft(" T ", (" A, B ", "", "  "), " D ", " "))
    assert draft == DatasetDraft("T", ("A, B",), "D", "")
    with pytest.raises(BadQuery, match="at most 500"):
        checked(DatasetDraft("x" * 501, ("A",), "D"))
    with pytest.raises(BadQuery, match="At most 100 creators"):
        checked(DatasetDraft("T", tuple(f"P{i}" for i in range(101)), "D"))


def test_datacite_attributes_carry_the_mandatory_set_and_the_paper() -> None:
    attributes = datacite_attributes(_dataset(), url="https://a.example/doi/x", publisher="P")
    for mandatory in ("doi", "creators", "titles", "publisher", "publicationYear", "types"):
        assert attributes[mandatory]
    assert attributes["types"]["resourceTypeGeneral"] == "Dataset"
    assert attributes["relatedIdentifiers"][0]["relatedIdentifierType"] == "bibcode"
    assert attributes["creators"][1] == {"name": "JWST ERS Team"}
    assert "relatedIdentifiers" not in datacite_attributes(
        _dataset(related_identifier=None, related_type=None), url="u", publisher="P"
    )


def test_bibtex_escapes_what_latex_would_read() -> None:
    entry = bibtex(_dataset(title="50% of {M57} & #1_a"), publisher="Sky $ Archive")
    assert "title = {50\\% of \\{M57\\} \\& \\#1\\_a}" in entry
    assert "publisher = {Sky \\$ Archive}" in entry
    assert entry.startswith("@misc{Lovelace2026_")
    assert "author = {Lovelace, Ada and JWST ERS Team}" in entry


def test_citation_and_json_ld() -> None:
    dataset = _dataset(title="Spectra.")
    assert citation_text(dataset, publisher="P") == (
        "Lovelace, Ada; JWST ERS Team (2026). Spectra. P. https://doi.org/10.5072/sky-ab12-cd34"
    )
    document = schema_org(dataset, url="u", publisher="P")
    assert document["@type"] == "Dataset" and document["citation"] == "2023Natur.614..659R"


def test_the_datacite_password_stays_secret() -> None:
    settings = Settings(datacite_url="https://x.example", datacite_user="U",
                        datacite_password="hunter2-long")  # fmt: skip
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
    agency = agency_of(settings)
    assert agency.password == "hunter2-long" and "hunter2" not in repr(agency)
