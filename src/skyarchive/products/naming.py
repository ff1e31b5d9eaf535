"""JWST file-name rules: which observation a file belongs to and what kind of product it is.

Names follow the JWST pipeline conventions (exposure-based stages 1-2, source/target-based
stage 3, association and pool files, guide-star and MSA files, MAST previews). A name that
matches none of them is refused with the reason, so ingest can report it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from skyarchive.errors import IngestError


class Kind(StrEnum):
    EXPOSURE = "exposure"
    LEVEL3 = "level3"
    ASN = "asn"
    POOL = "pool"
    GUIDESTAR = "guidestar"
    MSA = "msa"
    WSS = "wss"


_EXPOSURE = re.compile(
    r"^jw(?P<program>\d{5})(?P<obs>\d{3})(?P<visit>\d{3})_(?P<group>\d{2})(?P<seq>\d)"
    r"(?P<act>[0-9a-z]{2})_(?P<expnum>\d{5})(?:-seg(?P<seg>\d{3}))?_(?P<detector>[a-z0-9]+)"
    r"_(?P<suffix>.+)$"
)
# Stage-3 names end in "_<optical elements>_<suffix>"; the suffix is matched from the right
# against the known list because some suffixes (aminorm-oi) contain hyphens themselves.
LEVEL3_SUFFIXES = (
    "aminorm-oi", "amimulti-oi", "ami-oi", "amilg", "i2d", "segm", "cat", "s2d", "s3d", "x1d",
    "c1d", "x1dints", "whtlt", "phot", "psfstack", "psfsub", "psfalign", "wfscmb", "crf",
)  # fmt: skip
_LEVEL3 = re.compile(
    r"^jw(?P<program>\d{5})-(?P<acid>[aocr]\d{3,4})_(?P<source>(?:t\d{3})(?:-[sbv]\d{5,9})?"
    r"|[sbv]\d{5,9})_(?P<instrument>nircam|niriss|nirspec|miri|fgs)_(?P<rest>.+)$"
)
_ASN = re.compile(
    r"^jw(?P<program>\d{5})-(?P<acid>[aocr]\d{3,4})_(?P<stamp>\d{8}t\d{6})_(?P<asn_type>[a-z0-9-]+)"
    r"_(?P<counter>\d{3,5})_asn$"
)
_POOL = re.compile(r"^jw(?P<program>\d{5})(?:_\d{3})?_(?P<stamp>\d{8}[tT]\d{6})_pool$")
_GUIDESTAR = re.compile(
    r"^jw(?P<program>\d{5})(?P<obs>\d{3})(?P<visit>\d{3})_gs-(?P<function>id|acq1|acq2|track|fg)"
    r"_(?P<stamp>[0-9a-z]+)_(?P<suffix>uncal|cal|stream|image-uncal|stacked-uncal|image-cal"
    r"|stacked-cal)$"
)
# Wavefront sensing products: <corr_id>-<apername>-<n>.fits (R2022060802-NRCA3_FP1-1.fits)
_WSS = re.compile(r"^(?P<corr_id>[A-Z]\d{10})-(?P<apername>[A-Z0-9]+(?:_[A-Z0-9]+)*)-(?P<n>\d+)$")
_MSA = re.compile(r"^jw(?P<program>\d{5})(?P<obs>\d{3})(?P<visit>\d{3})_(?P<cfg>\d+)_msa$")

LEVEL2_ASN_TYPES = frozenset({"image2", "spec2", "tso-image2", "tso-spec2", "wfs-image2",
                              "nrslamp-spec2"})  # fmt: skip


@dataclass(frozen=True)
class ParsedName:
    """What a JWST file name says about the file."""

    filename: str
    kind: Kind
    program: str  # unpadded proposal id, e.g. "1073"
    obs_id: str | None  # MAST observation the file belongs to (None for shared files)
    suffix: str  # product suffix without association tag, e.g. "cal", "crf", "asn", "gs-track"
    extension: str  # "fits", "jpg", "json", "csv", "ecsv"
    preview: str | None = None  # "preview" or "thumb" for MAST JPEG previews
    visit: str | None = None  # "jw<ppppp><ooo><vvv>" for exposure, guide-star and MSA files
    asn_type: str | None = None
    acid: str | None = None

    @property
    def is_preview(self) -> bool:
        return self.preview is not None


def parse_filename(filename: str) -> ParsedName:
    """Classify a JWST file name; raise :class:`IngestError` when it follows no JWST rule."""
    if "/" in filename or filename != filename.strip():
        raise IngestError(f"{filename!r} is not a bare file name.")
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        raise IngestError(f"{filename}: no file extension.")
    extension = extension.lower()
    preview = None
    if extension == "jpg":
        preview = "preview"
        if stem.endswith("_thumb"):
            stem, preview = stem[: -len("_thumb")], "thumb"

    if extension == "json" and (m := _ASN.match(stem)):
        return ParsedName(
            filename, Kind.ASN, _unpad(m["program"]), None, "asn", extension,
            asn_type=m["asn_type"], acid=m["acid"],
        )  # fmt: skip
    if extension == "csv" and (m := _POOL.match(stem)):
        return ParsedName(filename, Kind.POOL, _unpad(m["program"]), None, "pool", extension)
    if extension in ("fits", "jpg") and (m := _GUIDESTAR.match(stem)):
        visit = f"jw{m['program']}{m['obs']}{m['visit']}"
        return ParsedName(
            filename, Kind.GUIDESTAR, _unpad(m["program"]), None, f"gs-{m['function']}",
            extension, preview, visit,
        )  # fmt: skip
    if extension == "fits" and (m := _MSA.match(stem)):
        visit = f"jw{m['program']}{m['obs']}{m['visit']}"
        return ParsedName(filename, Kind.MSA, _unpad(m["program"]), None, "msa", extension,
                          visit=visit)  # fmt: skip
    if extension == "fits" and _WSS.match(stem):
        # the program is in the header, not the name (the reader fills it in)
        return ParsedName(filename, Kind.WSS, "", None, "wss", extension)
    if extension in ("fits", "jpg") and (m := _EXPOSURE.match(stem)):
        suffix = m["suffix"]
        acid = None
        if tagged := re.fullmatch(r"(?P<acid>[aocr]\d{3,4})_(?P<suffix>crf|crfints)", suffix):
            acid, suffix = tagged["acid"], tagged["suffix"]
        obs_id = stem[: m.start("suffix") - 1]
        visit = f"jw{m['program']}{m['obs']}{m['visit']}"
        return ParsedName(
            filename, Kind.EXPOSURE, _unpad(m["program"]), obs_id, suffix, extension, preview,
            visit, acid=acid,
        )  # fmt: skip
    if extension in ("fits", "jpg", "ecsv") and (m := _LEVEL3.match(stem)):
        for suffix in LEVEL3_SUFFIXES:
            if m["rest"].endswith("_" + suffix):
                obs_id = stem[: -len(suffix) - 1]
                return ParsedName(
                    filename, Kind.LEVEL3, _unpad(m["program"]), obs_id, suffix, extension,
                    preview, acid=m["acid"],
                )  # fmt: skip
        raise IngestError(f"{filename}: unknown stage-3 product suffix.")
    raise IngestError(f"{filename}: the name follows no JWST file-naming rule.")


def exposure_obs_id_of(expname: str) -> str | None:
    """The exposure observation named by an association member (``..._rate.fits`` -> stem)."""
    try:
        parsed = parse_filename(expname)
    except IngestError:
        return None
    return parsed.obs_id if parsed.kind is Kind.EXPOSURE else None


def _unpad(program: str) -> str:
    return str(int(program))
