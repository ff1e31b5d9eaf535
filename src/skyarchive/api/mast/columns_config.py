"""Column configs (``/portal/Mashup/Mashup.asmx/columnsconfig``) built from our column facts.

astroquery reads ``text``, ``type``/``vot.datatype``, ``vot.unit``, ``vot.description``,
``example`` and ``separator``: they decide which criteria are ranges and how results are typed.
"""

from __future__ import annotations

from typing import Any

from skyarchive.search.columns import (
    DISTANCE,
    OBJID1,
    OBSERVATION_COLUMNS,
    PRODUCT_COLUMNS,
    ColumnInfo,
)

_VOT_TYPES = {"float": "double", "int": "int", "string": "char", "boolean": "boolean"}
_OBSERVATION_SERVICES = (
    "mast.caom.cone",
    "mast.caom.filtered",
    "mast.caom.filtered.position",
    "skyarchive.jwst.filtered.observations",  # keyword filters in, CAOM rows out
)


def column_config(config_id: str) -> dict[str, Any]:
    """The config for ``config_id``; an empty object for services without table columns."""
    key = config_id.strip().lower()
    if key in _OBSERVATION_SERVICES:
        return _config([*OBSERVATION_COLUMNS, OBJID1, DISTANCE])
    if key == "mast.caom.products":
        return _config(PRODUCT_COLUMNS)
    return {}


def _config(columns: tuple[ColumnInfo, ...] | list[ColumnInfo]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for order, column in enumerate(columns):
        entry: dict[str, Any] = {
            "text": column.label,
            "type": column.type,
            "order": order,
            "visible": column.visible,
            "vot.datatype": _VOT_TYPES[column.type],
            "vot.description": column.description,
        }
        if column.unit:
            entry["vot.unit"] = column.unit
        if column.ucd:
            entry["vot.ucd"] = column.ucd
        if column.separator:
            entry["separator"] = column.separator
        if column.example:
            entry["example"] = column.example
        if column.facet:
            entry["autoFacetRule"] = "always"
        config[column.name] = entry
    return config
