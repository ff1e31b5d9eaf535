"""The Keyword Dictionary builder, in process (the live-server tests are in tests/e2e)."""

from __future__ import annotations

import pytest

from skyarchive.errors import Unavailable
from skyarchive.search import keyword_dictionary as kd


def test_labels_of_grouped_values_come_from_the_comments() -> None:
    text = """
      name:
        anyOf:
          # FGS
          - enum: [A, B]
          # Obsolete NIRCam
          - enum: [C]
        fits_keyword: SUBARRAY
      other:
        enum: [X]
        fits_keyword: OTHER
    """
    assert kd._group_labels(text) == {"SUBARRAY": ["FGS", "Obsolete NIRCam"]}


def test_without_stdatamodels_the_dictionary_is_unavailable(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(kd.importlib.util, "find_spec", lambda name: None)
    kd.keyword_dictionary.cache_clear()
    try:
        with pytest.raises(Unavailable, match="stdatamodels") as raised:
            kd.keyword_dictionary()
        assert raised.value.status == 503
    finally:
        kd.keyword_dictionary.cache_clear()
