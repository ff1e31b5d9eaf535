"""Wavefront sensing (WSS) products: ``<corr_id>-<apername>-<n>.fits`` with an OPD map.

Read (in the reader processes): the primary-header keywords of MAST's ``Mast.Jwst.Filtered.Wss``
columns and the RMS of the ``RESULT_PHASE`` OPD (microns, as WSS writes it) over the pupil.
Written through the one product writer (:func:`store_products`), beside a ``wss_products``
row. The files belong to no observation; they are public on arrival, as MAST serves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.time import Time
from sqlalchemy import Connection, delete, insert

from skyarchive.db.tables import wss_products
from skyarchive.errors import IngestError
from skyarchive.ingest.writer import (
    Candidate,
    StoredObjects,
    Verdict,
    archived_products,
    classify,
    data_uri,
    storage_key,
    store_products,
)
from skyarchive.products.rules import product_rule

OPD_EXTENSION = "RESULT_PHASE"
REQUIRED_KEYWORDS = ("CORR_ID", "APERNAME", "DATE-OBS")


def opd_rms_nm(path: Any) -> float | None:
    """RMS of the OPD in ``RESULT_PHASE`` over the pupil (finite, non-zero pixels), in nm."""
    with fits.open(path, memmap=False) as hdul:
        if OPD_EXTENSION not in hdul:
            return None
        opd = np.asarray(hdul[OPD_EXTENSION].data, dtype="float64")
    pupil = np.isfinite(opd) & (opd != 0)
    if not pupil.any():
        return None
    values = opd[pupil]
    return float(np.sqrt(np.mean((values - values.mean()) ** 2)) * 1000.0)


def wss_facts(filename: str, header: dict[str, Any], rms_nm: float | None) -> dict[str, Any]:
    """The ``wss_products`` columns of one file (IngestError naming a missing keyword)."""
    missing = [k for k in REQUIRED_KEYWORDS if not str(header.get(k, "")).strip()]
    if missing:
        raise IngestError(f"{filename}: a WSS product needs {', '.join(missing)} in its header.")
    moment = str(header["DATE-OBS"]).strip()
    if "T" not in moment and header.get("TIME-OBS"):
        moment = f"{moment}T{str(header['TIME-OBS']).strip()}"
    try:
        date_obs_mjd = float(Time(moment, format="isot", scale="utc").mjd)
    except ValueError:
        raise IngestError(f"{filename}: DATE-OBS {moment!r} is not an ISO date.") from None
    visit = str(header.get("VISIT_ID", "") or "").strip().removeprefix("V") or None
    return {
        "corr_id": str(header["CORR_ID"]).strip(),
        "apername": str(header["APERNAME"]).strip().upper(),
        "ap_type": str(header.get("AP_TYPE", "OPD") or "OPD").strip().upper(),
        "date_obs_mjd": date_obs_mjd,
        "visit_id": visit,
        "obs_id": str(header.get("OBS_ID", "") or "").strip() or None,
        "rms_nm": rms_nm,
    }


def _program(value: Any) -> str | None:
    text = str(value or "").strip()
    return str(int(text)) if text.isdigit() else (text or None)


def apply_wss_records(
    conn: Connection, objects: StoredObjects, records: Sequence[Any], outcome: Any
) -> None:
    """Archive WSS files: products through the one writer, and their ``wss_products`` rows."""

    archived = archived_products(conn, [r.name.filename for r in records])
    chosen = []
    facts: dict[str, dict[str, Any]] = {}
    for record in records:
        name = record.name
        rule = product_rule(name)
        values = {
            "productFilename": name.filename, "dataURI": data_uri("JWST", name.filename),
            "obs_collection": "JWST", "description": rule.description, "type": rule.type,
            "productType": rule.productType,
            "productSubGroupDescription": rule.productSubGroupDescription,
            "project": "WSS", "proposal_id": _program(record.header.get("PROGRAM")),
            "size": record.size, "calib_level": rule.calib_level, "sha256": record.sha256,
            "crc32": record.crc32, "storage_key": storage_key("JWST", record.sha256, name.filename),
            "file_date": record.file_date,
        }  # fmt: skip
        candidate = Candidate(record.path, values, None)
        decision = classify(candidate, archived.get(name.filename))
        outcome.count(candidate, decision)
        if decision.verdict in (Verdict.ADDED, Verdict.REPLACED):
            chosen.append((candidate, decision))
            facts[name.filename] = record.wss
    if not chosen:
        return
    ids = store_products(conn, objects, chosen, archived, {})
    released = float(Time(datetime.now(UTC)).mjd)
    conn.execute(delete(wss_products).where(wss_products.c.product_id.in_(list(ids.values()))))
    conn.execute(
        insert(wss_products),
        [{"product_id": ids[name], **row, "released_mjd": released} for name, row in facts.items()],
    )
