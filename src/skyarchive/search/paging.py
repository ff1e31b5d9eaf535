"""Page numbers and page sizes as clients send them (JSON numbers, floats or text).

One parser for every face, so ``page=1e30`` or ``pagesize=1e400`` are refused with a reason
instead of reaching the database as an offset no SQL engine accepts.
"""

from __future__ import annotations

import math
from typing import Any

from skyarchive.errors import BadQuery
from skyarchive.search.criteria import parse_identifier

#: Largest row offset a page may start at: well inside SQLite's and PostgreSQL's 64-bit OFFSET.
MAX_OFFSET = 2**53


def positive_whole(value: Any, name: str) -> int:
    """``value`` as a whole number >= 1 (``3``, ``3.0`` and ``"3"`` are all 3).

    Raises
    ------
    BadQuery
        When ``value`` is not a finite whole number of at least 1.
    """
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise BadQuery(f"{name} {value!r} is not a whole number.")
        value = int(value)
    number = parse_identifier(value, name)
    if number < 1:
        raise BadQuery(f"{name} {number} must be 1 or more.")
    return number


def parse_paging(page: Any, pagesize: Any, *, max_page_size: int) -> tuple[int, int]:
    """Validated (page, pagesize): both whole numbers >= 1, the size within the archive's limit
    and the page's first row within :data:`MAX_OFFSET`."""
    page_number = positive_whole(page, "page")
    size = positive_whole(pagesize, "pagesize")
    if size > max_page_size:
        raise BadQuery(
            f"pagesize {size} exceeds this archive's limit of {max_page_size}; "
            "ask for smaller pages."
        )
    if (page_number - 1) * size > MAX_OFFSET:
        raise BadQuery(
            f"page {page_number} of {size} rows starts beyond any result "
            f"(a page may start at row {MAX_OFFSET} at most)."
        )
    return page_number, size


def total_from_page(page: int, pagesize: int, rows_read: int) -> int | None:
    """The whole answer's row count when one page alone tells it, else None (count it).

    A page shorter than ``pagesize`` that holds rows is the last one; an empty first page
    means there are none. An empty later page says nothing: the count may be anything before.
    """
    if 0 < rows_read < pagesize or (page == 1 and not rows_read):
        return (page - 1) * pagesize + rows_read
    return None
