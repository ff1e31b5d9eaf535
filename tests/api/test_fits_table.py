"""The FITS table writer of exports, in process: types, nulls, widths, units, a changed source."""

from __future__ import annotations

import io

import pytest
from astropy.io import fits
from astropy.table import Table

from skyarchive.api.fits_table import fits_table_pieces
from skyarchive.search.columns import observation_column

COLUMNS = [observation_column(n) for n in ("obs_id", "s_ra", "calib_level", "mtFlag")]
ROWS = [
    {"obs_id": "jw01558-o001_t001_miri_f1000w", "s_ra": 283.396, "calib_level": 3, "mtFlag": False},
    {"obs_id": "ngc6720·ring", "s_ra": None, "calib_level": None, "mtFlag": True},
    {"obs_id": None, "s_ra": 0.5, "calib_level": -1, "mtFlag": None},
]


def test_rows_come_back_with_their_types_nulls_and_units() -> None:
    data = b"".join(fits_table_pieces(COLUMNS, lambda: iter(ROWS)))
    assert len(data) % 2880 == 0
    with fits.open(io.BytesIO(data)) as hdus:
        header = hdus[1].header
        assert header["TUNIT2"] == "deg" and header["TUCD2"] == "pos.eq.ra;meta.main"
    table = Table.read(io.BytesIO(data), format="fits", hdu=1)  # applies TNULL as a mask
    assert list(table["obs_id"][:2]) == ["jw01558-o001_t001_miri_f1000w", "ngc6720?ring"]
    assert bool(table["obs_id"].mask[2])  # null text: empty, read back as masked
    assert table["s_ra"][0] == 283.396 and bool(table["s_ra"].mask[1])  # NaN: masked
    assert table["calib_level"][0] == 3 and table["calib_level"][2] == -1
    assert bool(table["calib_level"].mask[1])  # TNULL read back as masked
    assert list(table["mtFlag"][:2]) == [False, True]


def test_an_empty_table_is_a_valid_file() -> None:
    with fits.open(io.BytesIO(b"".join(fits_table_pieces(COLUMNS, lambda: iter(()))))) as hdus:
        assert hdus[1].header["NAXIS2"] == 0


def test_rows_that_change_between_readings_are_refused() -> None:
    readings = iter([ROWS, ROWS[:2]])
    with pytest.raises(RuntimeError, match="3 rows when measured and 2"):
        b"".join(fits_table_pieces(COLUMNS, lambda: iter(next(readings))))
