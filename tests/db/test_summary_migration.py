"""An archive made before the home page's figures were stored gets them counted on upgrade."""

from __future__ import annotations

from sqlalchemy import text

from skyarchive.db.engine import make_engine, upgrade
from skyarchive.search.summary import archive_summary
from tests.search.test_summary import assert_true_figures


def test_upgrade_counts_the_figures_of_existing_rows(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0009")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO programs (proposal_id, obs_collection, title)"
                          " VALUES ('1558', 'JWST', 'Ring'), ('7', 'HST', NULL)"))  # fmt: skip
        observations = [
            ("a", "JWST", "1558", "MIRI/IMAGE"), ("b", "JWST", "1558", "MIRI/IMAGE"),
            ("c", "JWST", "1558", "NIRCAM/IMAGE"), ("d", "HST", "7", None),
            ("e", "HST", None, "ACS/WFC"), ("f", "HST", None, None),
        ]  # fmt: skip
        for obs_id, collection, proposal, instrument in observations:
            conn.execute(
                text("INSERT INTO observations (obs_id, status, obs_collection, proposal_id,"
                     " instrument_name) VALUES (:o, 'executed', :c, :p, :i)"),
                {"o": obs_id, "c": collection, "p": proposal, "i": instrument},
            )  # fmt: skip
        files = [("x.fits", "JWST", "1558", 100), ("y.fits", "JWST", "1558", 2**40),
                 ("z.fits", "HST", None, 5)]  # fmt: skip
        for name, collection, proposal, size in files:
            conn.execute(
                text('INSERT INTO products ("productFilename", "dataURI", obs_collection,'
                     ' "productType", proposal_id, size, sha256, storage_key)'
                     " VALUES (:n, :u, :c, 'SCIENCE', :p, :s, 'sha', :n)"),
                {"n": name, "u": f"mast:{collection}/product/{name}", "c": collection,
                 "p": proposal, "s": size},
            )  # fmt: skip
    upgrade(engine)
    assert_true_figures(engine)
    summary = archive_summary(engine)
    assert (summary.observations, summary.products, summary.total_bytes) == (6, 3, 2**40 + 105)
    assert ("1558", "JWST", "Ring", 3) in summary.by_program
    engine.dispose()
