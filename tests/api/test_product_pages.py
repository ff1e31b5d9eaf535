"""A page of a product list, cut from the lists of rows the listing gives a batch at a time."""

from __future__ import annotations

import pytest

from skyarchive.api.mast.services import _PageOfBatches

ROWS = list(range(23))
SPLITS = [[], [5], [5, 5, 5], [0, 7, 0, 16], [23], [1] * 23]


def _batches(sizes: list[int]) -> list[list[int]]:
    batches, start = [], 0
    for size in [*sizes, len(ROWS) - sum(sizes)]:
        batches.append(ROWS[start : start + size])
        start += size
    return batches


@pytest.mark.parametrize("sizes", SPLITS)
@pytest.mark.parametrize(("start", "size"), [(0, 50), (0, 5), (5, 5), (3, 7), (20, 7), (23, 4),
                                             (40, 5), (0, 1), (22, 1)])  # fmt: skip
def test_a_page_is_its_rows_and_the_total_counts_them_all(sizes, start: int, size: int) -> None:  # type: ignore[no-untyped-def]
    page = _PageOfBatches(iter(_batches(sizes)), start, size)
    assert list(page) == ROWS[start : start + size]
    assert page.total() == len(ROWS)
