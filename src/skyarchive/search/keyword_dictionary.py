"""The JWST Keyword Dictionary, built offline from the stdatamodels schemas.

stdatamodels ships the JWST data-model schemas as YAML package data; every node holding a
``fits_keyword`` is a header keyword (HDU ``PRIMARY`` unless ``fits_hdu`` says otherwise). From
them come the keyword, its HDU, title, type, data-model path and allowed values. What the schemas
do not hold (units, sources, per-mode applicability) is not invented here. The instrument of a
keyword is the instrument whose ``Mast.Jwst.Filtered.<Instrument>`` table searches it
(:mod:`keyword_columns`).

Modes are approximated, since the schemas do not say which keyword serves which mode: an
instrument's exposure types (its ``EXP_TYPE`` values, which the schemas do list) are grouped
into modes by their names (:data:`MODES`: ``NRC_CORON`` is coronagraphy, ``NIS_SOSS`` time
series), and a keyword belongs to every mode of its instrument unless its data-model path
marks it as a mode's own (:data:`_MODE_PATHS`: ``meta.instrument.coronagraph`` is
coronagraphy's, ``meta.visit.tsovisit`` time series').

Built once per process at first use (all schemas parse in about 0.1 s) and kept; no network.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

from skyarchive.errors import BadQuery, Unavailable
from skyarchive.search.keyword_columns import columns_by_name

# The instruments as MAST's keyword services spell them, and the EXP_TYPE prefix of each.
INSTRUMENTS = {
    "NIRCAM": ("NIRCam", "NRC_"),
    "NIRISS": ("NIRISS", "NIS_"),
    "NIRSPEC": ("NIRSpec", "NRS_"),
    "MIRI": ("MIRI", "MIR_"),
    "FGS": ("FGS", "FGS_"),
    "GUIDESTAR": ("GuideStar", "FGS_"),
}
_PREFIXES = tuple({prefix for _, prefix in INSTRUMENTS.values()})

# Modes and the words of the exposure types in each, tried in this order (``FGS_ID-IMAGE`` is
# guiding, not imaging; ``MIR_FLATIMAGE`` calibration). Our grouping, not the schemas'.
MODES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Calibration", ("DARK", "FLAT", "LAMP", "LED", "FOCUS", "AUTOWAVE", "EXTCAL", "MIMF",
                     "WFSC", "CORONCAL")),
    ("Target acquisition", ("TACQ", "TACONFIRM", "WATA", "MSATA", "TASLIT", "CONFIRM",
                            "VERIFY")),
    ("Guiding", ("ACQ1", "ACQ2", "FINEGUIDE", "ID-IMAGE", "ID-STACK", "TRACK")),
    ("Time series", ("TSIMAGE", "TSGRISM", "SOSS", "BRIGHTOBJ", "LRS-SLITLESS")),
    ("Coronagraphy", ("CORON", "4QPM", "LYOT")),
    ("IFU spectroscopy", ("IFU", "MRS")),
    ("Slit and MSA spectroscopy", ("FIXEDSLIT", "MSASPEC")),
    ("Slitless spectroscopy", ("GRISM", "WFSS")),
    ("Aperture masking interferometry", ("AMI",)),
    ("Imaging", ("IMAGE",)),
)  # fmt: skip
OTHER_MODE = "Other"
_SPECTRA = ("Slit and MSA spectroscopy", "IFU spectroscopy")
# Data-model paths (prefixes) of keywords that serve only some modes.
_MODE_PATHS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("meta.instrument.coronagraph", ("Coronagraphy",)),
    ("meta.visit.tsovisit", ("Time series",)),
    ("meta.exposure.integration_start", ("Time series",)),
    ("meta.exposure.integration_end", ("Time series",)),
    ("meta.exposure.segment_", ("Time series",)),
    ("meta.instrument.lamp_", ("Calibration",)),
    ("meta.instrument.fixed_slit", ("Slit and MSA spectroscopy", "Time series",
                                    "Target acquisition")),
    ("meta.instrument.msa_", ("Slit and MSA spectroscopy", "Target acquisition")),
    ("meta.instrument.pre_image_id", ("Slit and MSA spectroscopy",)),
    ("meta.dither.nod_type", _SPECTRA),
    ("meta.dither.spatial_position_number", _SPECTRA),
    ("meta.dither.spectral_position_number", _SPECTRA),
)  # fmt: skip


def mode_of(exp_type: str) -> str:
    """The mode an exposure type belongs to (``NRC_TSGRISM`` -> ``Time series``)."""
    words = exp_type.upper().split("_", 1)[-1]
    return next((mode for mode, marks in MODES if any(m in words for m in marks)), OTHER_MODE)


_SCHEMAS = "jwst/datamodels/schemas"


@dataclass
class Keyword:
    """One header keyword: ``(hdu, name)`` is its identity."""

    name: str
    hdu: str
    title: str = ""
    type: str = ""
    description: str = ""
    default: Any = None
    paths: list[str] = field(default_factory=list)  # data-model paths (meta.subarray.name)
    schemas: list[str] = field(default_factory=list)  # schema files defining it
    values: list[str] = field(default_factory=list)  # allowed values, all instruments
    value_groups: list[tuple[str, list[str]]] = field(default_factory=list)  # (label, values)

    @property
    def column(self) -> str:
        return self.name.lower().replace("-", "_")

    @property
    def instruments(self) -> list[str]:
        """The instruments whose keyword table searches it (only table columns are searched)."""
        if self.hdu not in ("PRIMARY", "ERR"):
            return []
        return [i for i in INSTRUMENTS if self.column in columns_by_name(i)]

    def values_for(self, instrument: str | None) -> list[str]:
        """The allowed values for one instrument, where the schemas tell them apart."""
        if instrument is None:
            return self.values
        label = INSTRUMENTS[instrument][0].lower()
        groups = [vals for name, vals in self.value_groups if _applies(name, label)]
        if groups:
            return _unique(v for vals in groups for v in vals)
        prefix = INSTRUMENTS[instrument][1]
        prefixed = [v for v in self.values if v.startswith(_PREFIXES)]
        if len(prefixed) * 2 > len(self.values):  # values named by instrument, like EXP_TYPE
            return [v for v in self.values if v.startswith(prefix) or v not in prefixed]
        return self.values

    @property
    def own_modes(self) -> tuple[str, ...] | None:
        """The modes this keyword serves, when its data-model path says; None: every mode."""
        found = [modes for prefix, modes in _MODE_PATHS
                 if any(path.startswith(prefix) for path in self.paths)]  # fmt: skip
        return tuple(dict.fromkeys(m for modes in found for m in modes)) if found else None

    def serves(self, instrument: str, mode: str) -> bool:
        """Whether the keyword is one of ``instrument``'s and serves its ``mode``."""
        own = self.own_modes
        return instrument in self.instruments and (own is None or mode in own)

    def matches(self, text: str, *, descriptions: bool) -> bool:
        needle = text.strip().lower()
        if not needle or needle in self.name.lower():
            return True
        if descriptions:
            haystack = " ".join([self.title, self.description, *self.paths]).lower()
            return needle in haystack
        return False

    def as_json(self, instrument: str | None = None) -> dict[str, Any]:
        return {
            "keyword": self.name,
            "hdu": self.hdu,
            "title": self.title,
            "type": self.type,
            "description": self.description,
            "default": self.default,
            "values": self.values_for(instrument),
            "valueGroups": [{"label": n, "values": v} for n, v in self.value_groups],
            "paths": self.paths,
            "schemas": self.schemas,
            "instruments": [INSTRUMENTS[i][0] for i in self.instruments],
            "modes": list(self.own_modes or ()),  # empty: every mode of its instruments
            "searchColumn": self.column if self.instruments else None,
            "services": [f"Mast.Jwst.Filtered.{INSTRUMENTS[i][0]}" for i in self.instruments],
            "searchLinks": [
                {"instrument": INSTRUMENTS[i][0], "url": search_link(self, i)}
                for i in self.instruments
            ],
        }


def _applies(group: str, instrument: str) -> bool:
    words = group.lower().split()
    return instrument in words or "all" in words


def _unique(values: Iterator[str]) -> list[str]:
    return list(dict.fromkeys(values))


@dataclass(frozen=True)
class KeywordDictionary:
    keywords: tuple[Keyword, ...]
    source: str  # "stdatamodels <version>"

    def search(
        self,
        text: str = "",
        *,
        descriptions: bool = False,
        instrument: str | None = None,
        mode: str | None = None,
    ) -> list[Keyword]:
        """Keywords whose name contains ``text`` (any case), or title/description when asked;
        only those of ``instrument`` (and serving its ``mode``) when given. A mode's own
        keywords come first."""
        chosen = self.keywords
        if instrument is not None:
            chosen = tuple(k for k in chosen if instrument in k.instruments)
        if instrument is not None and mode is not None:
            chosen = tuple(k for k in chosen if k.serves(instrument, mode))
            chosen = tuple(sorted(chosen, key=lambda k: k.own_modes is None))
        return [k for k in chosen if k.matches(text, descriptions=descriptions)]

    def exposure_types(self, instrument: str) -> list[str]:
        """An instrument's exposure types (``EXP_TYPE`` values), as the schemas list them."""
        exp_type = next((k for k in self.keywords if k.name == "EXP_TYPE"), None)
        prefix = INSTRUMENTS[instrument][1]
        values = [] if exp_type is None else exp_type.values_for(instrument)
        return [v for v in values if v.startswith(prefix)]

    def modes(self, instrument: str) -> list[dict[str, Any]]:
        """An instrument's modes, each with its exposure types, in :data:`MODES` order."""
        grouped: dict[str, list[str]] = {}
        for exp_type in self.exposure_types(instrument):
            grouped.setdefault(mode_of(exp_type), []).append(exp_type)
        order = [mode for mode, _ in MODES] + [OTHER_MODE]
        return [{"name": mode, "expTypes": grouped[mode], "keywords": len(self.search(
                    instrument=instrument, mode=mode))}
                for mode in order if mode in grouped]  # fmt: skip

    def parse_mode(self, instrument: str | None, mode: str | None) -> str | None:
        """The mode called ``mode`` (any case) of ``instrument``; None when not given.

        Raises
        ------
        BadQuery
            For a mode without an instrument, or one the instrument does not have.
        """
        if mode is None or not mode.strip():
            return None
        if instrument is None:
            raise BadQuery(f"Mode {mode!r} needs an instrument (instrument=NIRCam ...).")
        names = [group["name"] for group in self.modes(instrument)]
        found = next((n for n in names if n.lower() == mode.strip().lower()), None)
        if found is None:
            label = INSTRUMENTS[instrument][0]
            raise BadQuery(f"{label} has no mode {mode!r}; its modes: {', '.join(names)}.")
        return found

    def instrument_groups(self) -> list[dict[str, Any]]:
        """Each instrument: its name, keyword service, modes and number of keywords."""
        return [
            {
                "key": key,
                "name": label,
                "service": f"Mast.Jwst.Filtered.{label}",
                "modes": self.modes(key),
                "keywords": len(self.search(instrument=key)),
            }
            for key, (label, _) in INSTRUMENTS.items()
        ]

    def documents(self) -> dict[str, dict[str, Any]]:
        """One JSON document per schema file, keyed by data-model path (``Mast.Jwst.Keywords``)."""
        documents: dict[str, dict[str, Any]] = {}
        for keyword in self.keywords:
            entry = {
                "fits_keyword": keyword.name,
                "fits_hdu": keyword.hdu,
                "title": keyword.title,
                "description": keyword.description,
                "type": keyword.type,
                "enum": keyword.values,
                "default_value": keyword.default,
                "si": [INSTRUMENTS[i][0] for i in keyword.instruments],
            }
            for schema, path in zip(keyword.schemas, keyword.paths, strict=True):
                documents.setdefault(f"{schema}.json", {})[path] = entry
        return documents


def parse_instrument(name: str | None) -> str | None:
    """``NIRCam``, ``nircam`` ... -> ``NIRCAM``; empty -> None; BadQuery otherwise."""
    if name is None or not name.strip():
        return None
    key = name.strip().upper()
    if key not in INSTRUMENTS:
        known = ", ".join(label for label, _ in INSTRUMENTS.values())
        raise BadQuery(f"Unknown instrument {name!r}; known: {known}.")
    return key


def search_link(keyword: Keyword, instrument: str) -> str:
    """The portal's keyword-search dialog for ``instrument``, with this keyword's column."""
    query = urlencode({"collection": "keywords", "instrument": INSTRUMENTS[instrument][0],
                       "keyword": keyword.column})  # fmt: skip
    return f"/search?{query}"


@cache
def keyword_dictionary() -> KeywordDictionary:
    """The dictionary of the installed stdatamodels, built at first use."""
    directory, version = _schema_directory()
    found: dict[tuple[str, str], Keyword] = {}
    for file in sorted(directory.glob("*.schema.yaml")):
        text = file.read_text(encoding="utf-8")
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        labels = _group_labels(text)
        schema = file.name[: -len(".yaml")]
        for path, node in _keyword_nodes(document, ()):
            _merge(found, node, schema, ".".join(path), labels)
    ordered = sorted(found.values(), key=lambda k: (k.name, k.hdu != "PRIMARY", k.hdu))
    return KeywordDictionary(tuple(ordered), f"stdatamodels {version}")


def _schema_directory() -> tuple[Path, str]:
    # Located without importing stdatamodels (its import loads asdf: ~0.4 s, not needed here).
    spec = importlib.util.find_spec("stdatamodels")
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable("The keyword dictionary needs stdatamodels installed.")
    root = Path(next(iter(spec.submodule_search_locations)))
    directory = root / _SCHEMAS
    if not directory.is_dir():
        raise Unavailable(f"stdatamodels has no schemas in {directory}.")
    from importlib.metadata import version

    return directory, version("stdatamodels")


def _keyword_nodes(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict]]:
    """Depth-first: (data-model path, node) of every node holding ``fits_keyword``."""
    if isinstance(node, dict):
        if "fits_keyword" in node:
            yield path, node
            return
        for key, child in node.items():
            step = () if key in ("properties", "items") else (str(key),)
            if key in ("allOf", "anyOf", "oneOf"):
                step = ()
            yield from _keyword_nodes(child, path + step)
    elif isinstance(node, list):
        for child in node:
            yield from _keyword_nodes(child, path)


_LABELLED_GROUP = re.compile(r"^\s*#\s*(?P<label>[^\n]+?)\s*\n\s*-\s*enum\s*:", re.MULTILINE)


def _group_labels(text: str) -> dict[str, list[str]]:
    """Comment labels of ``anyOf`` enum groups, per keyword (``# NIRCam`` above ``- enum:``)."""
    labels: dict[str, list[str]] = {}
    start = 0
    for match in re.finditer(r"^\s*fits_keyword:\s*(\S+)", text, re.MULTILINE):
        block = text[start : match.start()]
        at = block.rfind("anyOf:")
        if at >= 0:
            labels[match.group(1)] = [m["label"] for m in _LABELLED_GROUP.finditer(block[at:])]
        start = match.end()
    return labels


def _merge(
    found: dict[tuple[str, str], Keyword],
    node: dict,
    schema: str,
    path: str,
    labels: dict[str, list[str]],
) -> None:
    name = str(node["fits_keyword"]).strip().upper()
    hdu = str(node.get("fits_hdu") or "PRIMARY").strip().upper()
    keyword = found.setdefault((hdu, name), Keyword(name, hdu))
    keyword.title = keyword.title or str(node.get("title") or "").strip()
    keyword.description = keyword.description or str(node.get("description") or "").strip()
    keyword.type = keyword.type or _type_of(node)
    if keyword.default is None and "default" in node:
        keyword.default = node["default"]
    keyword.paths.append(path)
    keyword.schemas.append(schema)
    groups = [g.get("enum", []) for g in node.get("anyOf", []) if isinstance(g, dict)]
    names = labels.get(name, [])
    if len(names) != len(groups):
        names = [f"group {n + 1}" for n in range(len(groups))]
    for label, values in zip(names, groups, strict=True):
        if values and all(label != known for known, _ in keyword.value_groups):
            keyword.value_groups.append((label, [str(v) for v in values]))
    flat = [*node.get("enum", []), *(v for g in groups for v in g)]
    keyword.values = _unique(iter([*keyword.values, *(str(v) for v in flat)]))


def _type_of(node: dict) -> str:
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "")
    if not kind:
        kinds = [g.get("type") for g in node.get("anyOf", []) if isinstance(g, dict)]
        kind = next((k for k in kinds if isinstance(k, str)), "")
    return {"number": "float"}.get(str(kind), str(kind))
