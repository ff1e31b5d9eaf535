"""A facet's values as the portal lists them: counted per part, ordered, cut to a few hundred.

Shared by the counts grouped from the observations (:mod:`.portal_search`) and those read from
the stored rows (:mod:`.facet_summary`), which must list the very same values: the stored path
counts some figures only for the values that will be listed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from skyarchive.search.columns import ColumnInfo

#: Most values one facet lists (the most frequent; a 200,000-row result has 8,000 targets).
MAX_VALUES = 500


def token_counts(column: ColumnInfo, grouped: Iterable[Sequence[Any]]) -> Counter[str]:
    """Counts per value; each part of a ``;``-separated value counts once per row. A value no
    row has (data rights counted as a difference: 0 exclusive when all are public) is none."""
    counts: Counter[str] = Counter()
    for value, count in grouped:
        if value is None or value == "" or not count:
            continue
        if not column.separator:  # one part: no splitting (8,000 targets of a large result)
            text = str(value).strip()
            if text:
                counts[text] += count
            continue
        tokens = str(value).split(column.separator)
        for token in dict.fromkeys(t.strip() for t in tokens if t.strip()):
            counts[token] += count
    return counts


def listed_values(column: ColumnInfo, total: Counter[str]) -> list[str]:
    """The values a facet lists: most frequent first (calibration levels in their order), at
    most :data:`MAX_VALUES`."""
    if column.type == "int":
        ordered = sorted(total, key=lambda v: (float(v) if _is_number(v) else 0.0, v))
    else:
        # by value, then stably by count, most first: no Python key per value (8,000 targets)
        ordered = sorted(sorted(total), key=total.__getitem__, reverse=True)
    return ordered[:MAX_VALUES]


def facet_values(
    column: ColumnInfo, total: Counter[str], shown: Counter[str]
) -> list[dict[str, Any]]:
    """The listed values with their ``shown`` and ``total`` counts."""
    return [{"value": v, "shown": shown.get(v, 0), "total": total[v]}
            for v in listed_values(column, total)]  # fmt: skip


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
