"""What a data set's DOI says about it: DataCite JSON, schema.org JSON-LD, BibTeX, a citation.

The DataCite record carries the schema's mandatory properties (identifier, creators, titles,
publisher, publicationYear, resourceType ``Dataset``) plus the description, the size and the
paper the data support (``IsSupplementTo``), as spec mast-extras §4.3 asks. It is written as
the JSON:API document DataCite's REST API takes (``POST /dois``), so an operator without an
agency account can register the exported file as it is.
"""

from __future__ import annotations

import re
from typing import Any

from skyarchive.doi.datasets import Dataset
from skyarchive.doi.identifiers import split_doi

SCHEMA_VERSION = "http://datacite.org/schema/kernel-4"


def resolver_url(doi: str) -> str:
    return f"https://doi.org/{doi}"


def _creator(name: str) -> dict[str, Any]:
    """A DataCite creator: 'Family, Given' is a person with both names given; else as written."""
    family, comma, given = name.partition(",")
    if comma and family.strip() and given.strip():
        return {"name": f"{family.strip()}, {given.strip()}", "nameType": "Personal",
                "givenName": given.strip(), "familyName": family.strip()}  # fmt: skip
    return {"name": name}


def datacite_attributes(dataset: Dataset, *, url: str, publisher: str) -> dict[str, Any]:
    """The DataCite attributes of a data set whose landing page is ``url``."""
    prefix, suffix = split_doi(dataset.doi)
    attributes: dict[str, Any] = {
        "doi": dataset.doi,
        "prefix": prefix,
        "suffix": suffix,
        "creators": [_creator(name) for name in dataset.creators],
        "titles": [{"title": dataset.title}],
        "publisher": publisher,
        "publicationYear": dataset.publication_year,
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Observations"},
        "descriptions": [{"description": dataset.description, "descriptionType": "Abstract"}],
        "sizes": [f"{dataset.observation_count} observations"],
        "formats": ["application/fits"],
        "url": url,
        "schemaVersion": SCHEMA_VERSION,
    }
    if dataset.related_identifier:
        attributes["relatedIdentifiers"] = [{
            "relatedIdentifier": dataset.related_identifier,
            "relatedIdentifierType": "DOI" if dataset.related_type == "DOI" else "bibcode",
            "relationType": "IsSupplementTo",
        }]  # fmt: skip
    return attributes


def datacite_document(attributes: dict[str, Any], *, event: str | None = None) -> dict[str, Any]:
    """The JSON:API body of DataCite's ``POST /dois`` / ``PUT /dois/<doi>``.

    ``event`` None keeps (or makes) a draft; ``"publish"`` makes the DOI findable,
    ``"register"`` registered (resolvable, not indexed), ``"hide"`` findable back to registered.
    """
    body = dict(attributes)
    if event is not None:
        body["event"] = event
    return {"data": {"type": "dois", "attributes": body}}


def schema_org(dataset: Dataset, *, url: str, publisher: str) -> dict[str, Any]:
    """The data set as schema.org ``Dataset`` JSON-LD (what search engines read on a page)."""
    document: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": resolver_url(dataset.doi),
        "identifier": resolver_url(dataset.doi),
        "name": dataset.title,
        "description": dataset.description,
        "creator": [
            {"@type": "Person", "name": name} if "," in name else {"@type": "Thing", "name": name}
            for name in dataset.creators
        ],
        "publisher": {"@type": "Organization", "name": publisher},
        "datePublished": str(dataset.publication_year),
        "url": url,
    }
    if dataset.related_identifier:
        document["citation"] = (
            resolver_url(dataset.related_identifier)
            if dataset.related_type == "DOI" else dataset.related_identifier
        )  # fmt: skip
    return document


def citation_text(dataset: Dataset, *, publisher: str) -> str:
    """DataCite's recommended form: Creators (Year). Title. Publisher. https://doi.org/…"""
    creators = "; ".join(dataset.creators)
    title = dataset.title.rstrip(".")
    return (
        f"{creators} ({dataset.publication_year}). {title}. {publisher}. "
        f"{resolver_url(dataset.doi)}"
    )


_BIBTEX_SPECIAL = re.compile(r"([\\{}%&#$_^~])")


def _bibtex_text(value: str) -> str:
    """Text safe inside a BibTeX field (special characters escaped, whitespace folded)."""
    escaped = _BIBTEX_SPECIAL.sub(lambda m: "\\" + m.group(1), value)
    return " ".join(escaped.split())


def bibtex(dataset: Dataset, *, publisher: str) -> str:
    """A BibTeX ``@misc`` entry for the data set, keyed by first creator, year and DOI suffix."""
    first = re.sub(r"[^A-Za-z]", "", dataset.creators[0].partition(",")[0]) or "dataset"
    tail = re.sub(r"[^a-z0-9]", "", split_doi(dataset.doi)[1])[-6:]
    fields = [
        ("author", " and ".join(_bibtex_text(name) for name in dataset.creators)),
        ("title", _bibtex_text(dataset.title)),
        ("publisher", _bibtex_text(publisher)),
        ("year", str(dataset.publication_year)),
        ("doi", dataset.doi),
        ("url", resolver_url(dataset.doi)),
    ]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{first}{dataset.publication_year}_{tail},\n{body}\n}}\n"
