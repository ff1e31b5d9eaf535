"""Product metadata for JWST files: type, group, calibration level, description, MRP flag.

Minimum Recommended Products (MRP): the calib_level-3 science products of a level-3
observation and its level-3 association; for an exposure-level observation its most
calibrated science products (``cal``, ``calints``, ``i2d``, ``s2d``, ``s3d``, ``x1d``,
``x1dints``). Previews, guide-star, pool, level-2 association and raw files are never MRP.
"""

from __future__ import annotations

from dataclasses import dataclass

from skyarchive.products.naming import LEVEL2_ASN_TYPES, Kind, ParsedName

MRP = "Minimum Recommended Products"

_EXPOSURE_MRP = frozenset({"cal", "calints", "i2d", "s2d", "s3d", "x1d", "x1dints"})

DESCRIPTIONS = {
    "uncal": "exposure (L1b): Uncalibrated 4D exposure data",
    "ramp": "exposure (L2a): 4D corrected ramp data",
    "trapsfilled": "exposure (L2a): Charge trap state data",
    "rate": "exposure (L2a): 2D count rate averaged over integrations",
    "rateints": "exposure (L2a): 3D countrate per integration",
    "cal": "exposure (L2b): 2D calibrated exposure average over integrations",
    "calints": "exposure (L2b): 3D calibrated exposure",
    "crf": "exposure (L2c): 2D calibrated exposure with outliers flagged",
    "crfints": "exposure (L2c): 3D Calibrated data per integration",
    "i2d": "exposure/target (L2b/L3): rectified 2D image",
    "s2d": "exposure/target (L2b/L3): rectified 2D spectrum",
    "s3d": "exposure/target (L2b/L3): IFU 3D data cube",
    "x1d": "exposure/target (L2b/L3): 1D extracted spectrum",
    "x1dints": "exposure/target (L2b/L3): 1D extracted spectrum per integration",
    "c1d": "target (L3): combined 1D spectrum",
    "segm": "target (L3): segmentation map",
    "cat": "target (L3): source catalog",
    "whtlt": "target (L3): spectroscopic white-light curve",
    "phot": "target (L3): TSO imaging photometry",
    "asn": "source/target (L3): association generator",
    "pool": "source/target (L3): association pool",
    "msa": "exposure (L1b): NIRSpec MSA configuration",
}
_GUIDESTAR_DESCRIPTIONS = {
    "gs-id": "FGS guide star identification",
    "gs-acq1": "FGS guide star acquisition 1",
    "gs-acq2": "FGS guide star acquisition 2",
    "gs-track": "FGS guide star tracking",
    "gs-fg": "FGS guide star fine guide",
}


@dataclass(frozen=True)
class ProductRule:
    productType: str
    productSubGroupDescription: str
    calib_level: int
    description: str
    mrp: bool
    type: str = "S"


def product_rule(name: ParsedName) -> ProductRule:
    """Metadata MAST shows for a JWST file, from its parsed name alone."""
    if name.kind is Kind.ASN:
        level2 = name.asn_type in LEVEL2_ASN_TYPES
        return ProductRule(
            "INFO", "ASN", 2 if level2 else 3, DESCRIPTIONS["asn"], mrp=not level2,
            type="S" if level2 else "D",
        )  # fmt: skip
    if name.kind is Kind.POOL:
        return ProductRule("INFO", "POOL", 2, DESCRIPTIONS["pool"], mrp=False)
    if name.kind is Kind.MSA:
        return ProductRule("AUXILIARY", "MSA", 1, DESCRIPTIONS["msa"], mrp=False)
    if name.kind is Kind.WSS:
        return ProductRule(
            "SCIENCE", "WSS", 3, "Wavefront sensing: optical path difference (OPD) map",
            mrp=False, type="D",
        )  # fmt: skip

    if name.kind is Kind.GUIDESTAR:
        level = 1 if _guidestar_raw(name) else 2
        rule = ProductRule(
            "AUXILIARY", name.suffix.upper(), level, _GUIDESTAR_DESCRIPTIONS[name.suffix], False
        )
    else:
        level = 3 if name.kind is Kind.LEVEL3 else (1 if name.suffix == "uncal" else 2)
        mrp = (
            name.kind is Kind.LEVEL3
            and name.suffix not in ("crf",)
            or name.kind is Kind.EXPOSURE
            and name.suffix in _EXPOSURE_MRP
        )
        description = DESCRIPTIONS.get(name.suffix, f"{name.suffix} product")
        rule = ProductRule("SCIENCE", name.suffix.upper(), level, description, mrp)
    if name.preview:
        kind = "THUMBNAIL" if name.preview == "thumb" else "PREVIEW"
        return ProductRule(
            "PREVIEW", kind, rule.calib_level, f"{kind.title()} image: {rule.description}", False
        )
    return rule


def _guidestar_raw(name: ParsedName) -> bool:
    stem = name.filename.rsplit(".", 1)[0]
    return stem.endswith(("uncal", "stream"))
