"""The jwst pipeline's EDB client contract, through the real server.

``EngdbMastClient`` below does what ``jwst.lib.engdb_mast.EngdbMast`` does (read from its
source; the jwst package itself pulls in the whole pipeline, too heavy for a dev install):
``GET {base}api/`` must answer 200; then a ``requests`` GET of
``{base}api/v0.1/Download/file?uri=mast:jwstedb/<MNEMONIC>-<start>-<end>.csv`` (upper-cased
mnemonic, times ``%Y%m%dT%H%M%S`` of astropy ``Time``) with ``Authorization: token <token>``,
``raise_for_status``, the body split on CRLF and read by astropy as ``ascii.csv``, and the
bracketing samples dropped by MJD unless asked for.

Expected samples come from the demo's source files, read here with the csv module.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import requests
from astropy.table import Table
from astropy.time import Time

from skyarchive.access.tokens import create_token
from skyarchive.access.users import create_user
from skyarchive.archive import Archive
from skyarchive.demo.telemetry import write_demo_telemetry
from skyarchive.ingest.edb import ingest_edb_files
from tests.e2e.callers import EXPECTED, Callers, create_callers, headers_for
from tests.e2e.conftest import LiveServer


class EngdbMastClient:
    """The requests ``jwst.lib.engdb_mast.EngdbMast`` sends, and its reading of the answers."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        response = requests.get(self.base_url + "api/", timeout=600)
        if response.status_code != 200:
            raise RuntimeError(f"MAST url: {self.base_url} is not available.")
        self._request = requests.Request(
            method="GET", url=self.base_url + "api/v0.1/Download/file",
            headers={"Authorization": f"token {token}"},
        )  # fmt: skip
        self._session = requests.Session()
        self.response: requests.Response | None = None

    def get_records(self, mnemonic: str, starttime: Time, endtime: Time) -> Table:
        mnemonic = mnemonic.strip().upper()
        uri = (
            f"{mnemonic}-{starttime.strftime('%Y%m%dT%H%M%S')}-"
            f"{endtime.strftime('%Y%m%dT%H%M%S')}.csv"
        )
        self._request.params = {"uri": "mast:jwstedb/" + uri}
        prepared = self._session.prepare_request(self._request)
        self.response = self._session.send(prepared, timeout=600)
        self.response.raise_for_status()
        return Table.read(self.response.text.split("\r\n"), format="ascii.csv")

    def get_values(self, mnemonic: str, starttime: Time, endtime: Time) -> Table:
        records = self.get_records(mnemonic, starttime, endtime)
        inside = (records["MJD"] >= starttime.mjd) & (records["MJD"] <= endtime.mjd)
        return records[inside]


@pytest.fixture(scope="module")
def telemetry_dir(demo_archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo telemetry, written and ingested into the session's demo archive."""
    out = tmp_path_factory.mktemp("edb-demo")
    ingest_edb_files(demo_archive.engine, write_demo_telemetry(out))
    return out


@pytest.fixture(scope="module")
def people(demo_archive: Archive) -> Callers:
    return create_callers(demo_archive.engine, "4567")


def _source_rows(folder: Path, mnemonic: str) -> list[tuple[datetime, str, str]]:
    """(time, value text, type) of every sample of ``mnemonic`` in the demo's source files."""
    rows = []
    for path in sorted(folder.glob(f"{mnemonic}-*.csv")):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                moment = datetime.strptime(row["theTime"], "%Y-%m-%d %H:%M:%S.%f")
                rows.append((moment, row["euvalue"], row["sqldataType"]))
    return sorted(rows)


def test_three_hours_of_a_4hz_mnemonic_as_the_pipeline_reads_them(
    live_server, people: Callers, telemetry_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    start, end = datetime(2022, 7, 4, 9, 0, 0), datetime(2022, 7, 4, 12, 0, 0)
    source = _source_rows(telemetry_dir, "SA_ZATTEST1")
    inside = [r for r in source if start <= r[0] <= end]
    before = [r for r in source if r[0] < start][-1]
    after = [r for r in source if r[0] > end][0]
    assert len(inside) == 3 * 3600 * 4  # the demo's 4 Hz

    client = EngdbMastClient(live_server.url, people.tokens["other"])
    records = client.get_records("sa_zattest1", Time(start), Time(end))
    assert client.response is not None
    body = client.response.content
    assert body.count(b"\r\n") == len(inside) + 3 and b"\n" not in body.replace(b"\r\n", b"")
    assert body.startswith(b"theTime,MJD,euvalue,sqldataType\r\n")
    assert client.response.headers["content-type"].startswith("text/csv")
    assert records.colnames == ["theTime", "MJD", "euvalue", "sqldataType"]
    expected = [before, *inside, after]
    assert list(records["theTime"]) == [f"{t:%Y-%m-%d %H:%M:%S.%f}" for t, _, _ in expected]
    assert list(records["euvalue"]) == [float(v) for _, v, _ in expected]
    assert set(records["sqldataType"]) == {"float"}
    mjd_expected = Time([t for t, _, _ in expected], scale="utc").mjd
    assert abs(records["MJD"] - mjd_expected).max() < 1e-9  # days: well under a millisecond

    values = client.get_values("SA_ZATTEST1", Time(start), Time(end))
    assert len(values) == len(inside)


def test_integer_mnemonics_and_empty_windows(
    live_server, people: Callers, telemetry_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    client = EngdbMastClient(live_server.url, people.tokens["admin"])
    start, end = datetime(2022, 5, 11, 14, 0, 0), datetime(2022, 5, 11, 16, 0, 0)
    source = _source_rows(telemetry_dir, "INIS_FWA_POS")
    records = client.get_records("INIS_FWA_POS", Time(start), Time(end))
    expected = [r for r in source if start <= r[0] <= end]
    assert list(records["euvalue"])[1:-1] == [int(v) for _, v, _ in expected]
    assert set(records["sqldataType"]) == {"tinyint"}
    # a window between samples still brings the two samples around it
    gap = client.get_records("INIS_FWA_POS", Time("2022-06-01T00:00:00"),
                             Time("2022-06-01T01:00:00"))  # fmt: skip
    assert len(gap) == 2 and gap["theTime"][0].startswith("2022-05-11")
    assert gap["theTime"][1].startswith("2022-07-04")


def test_liveness_unknown_mnemonic_and_bad_uris(
    live_server, people: Callers, telemetry_dir
) -> None:  # type: ignore[no-untyped-def]
    assert requests.get(live_server.url + "/api/", timeout=30).status_code == 200
    client = EngdbMastClient(live_server.url, people.tokens["pi"])
    with pytest.raises(requests.HTTPError) as raised:
        client.get_records("NO_SUCH_MNEMONIC", Time("2022-07-04T09:00:00"),
                           Time("2022-07-04T10:00:00"))  # fmt: skip
    assert raised.value.response.status_code == 404
    assert "NO_SUCH_MNEMONIC" in raised.value.response.json()["error"]["message"]
    headers = headers_for(people, "pi")
    for uri in (
        "mast:jwstedb/SA_ZATTEST1.csv",
        "mast:jwstedb/SA_ZATTEST1-20220704T090000-20220704T0800.csv",
        "mast:jwstedb/SA_ZATTEST1-20220704T100000-20220704T090000.csv",
        "mast:jwstedb/SA ZATTEST1-20220704T090000-20220704T100000.csv",
        "mast:jwstedb/SA_ZATTEST1-20221304T090000-20221304T100000.csv",
    ):
        answer = httpx.get(f"{live_server.url}/api/v0.1/Download/file", params={"uri": uri},
                           headers=headers)  # fmt: skip
        assert answer.status_code == 400, uri
        message = answer.json()["error"]["message"]
        assert any(word in message for word in ("mast:jwstedb/", "time", "mnemonic")), message


@pytest.mark.parametrize("who", list(EXPECTED))
def test_a_token_is_required(live_server, people: Callers, telemetry_dir, who: str) -> None:  # type: ignore[no-untyped-def]
    """Any signed-in user reads telemetry (no program rights); nobody else."""
    uri = "mast:jwstedb/SA_ZATTEST1-20220704T090000-20220704T090010.csv"
    answer = httpx.get(f"{live_server.url}/api/v0.1/Download/file", params={"uri": uri},
                       headers=headers_for(people, who))  # fmt: skip
    expected = 401 if EXPECTED[who] == 401 else 200
    assert answer.status_code == expected
    if expected == 401:
        assert "theTime" not in answer.text and "token" in answer.json()["error"]["message"]
    else:
        assert answer.text.count("\r\n") == 1 + 40 + 2


def test_invoke_services_as_jwql_calls_them(mast, people: Callers, telemetry_dir: Path) -> None:  # type: ignore[no-untyped-def]
    Mast = mast.Mast
    inventory = Mast.service_request_async("Mast.JwstEdb.Mnemonics", {})[0].json()
    assert inventory["status"] == "COMPLETE"
    names = {row["tlmMnemonic"] for row in inventory["data"]}
    assert names == {"SA_ZATTEST1", "SA_ZADUCMDX", "IMIR_HK_FPA_TEMP", "INIS_FWA_POS"}
    assert all(isinstance(row["tlmIdentifier"], int) for row in inventory["data"])

    described = Mast.service_request_async("Mast.JwstEdb.Dictionary",
                                           {"mnemonic": "imir_hk_fpa_temp"})[0].json()  # fmt: skip
    (entry,) = described["data"]
    assert (entry["unit"], entry["description"]) == ("K", "MIRI focal plane array temperature")

    window = {"mnemonic": "IMIR_HK_FPA_TEMP", "start": Time("2022-07-04T09:00:00").iso,
              "end": Time("2022-07-04T10:00:00").iso}  # fmt: skip
    refused = Mast.service_request_async("Mast.JwstEdb.GetTimeseries.All", window)[0].json()
    assert refused["status"] == "ERROR" and "signed-in" in refused["msg"]
    source = [r for r in _source_rows(telemetry_dir, "IMIR_HK_FPA_TEMP")
              if datetime(2022, 7, 4, 9) <= r[0] <= datetime(2022, 7, 4, 10)]  # fmt: skip
    try:
        Mast.login(token=people.tokens["other"])
        series = Mast.service_request_async("Mast.JwstEdb.GetTimeseries.All", window)[0].json()
    finally:
        Mast.logout()
    assert series["status"] == "COMPLETE"
    assert [row["euvalue"] for row in series["data"]] == [float(v) for _, v, _ in source]
    assert len(source) == 60  # one a minute


# Samples at the edges of the CSV's formatting: the first and last microsecond of a day (the
# MJD's ten decimals carry into the next day), integral (negative too), tiny and huge floats.
EDGE_SAMPLES = """theTime,euvalue,sqldataType
2022-07-05 00:00:00.000000,0.0,float
2022-07-05 00:00:00.000001,-7.0,float
2022-07-05 03:46:46.000000,123456789.0,float
2022-07-05 12:00:00.500000,1e-05,float
2022-07-05 23:59:59.999999,1e+22,float
2022-07-06 00:00:00.000000,0.1,float
2022-07-06 00:00:00.000005,3.0,float
2022-07-06 06:00:00.250000,-2.5e-300,float
2022-07-06 06:00:00.250001,0.15723997065022710,float
"""


def test_the_csv_keeps_every_time_and_value_exactly(archive: Archive, tmp_path: Path) -> None:
    """On SQLite and PostgreSQL (the server reads windows through the driver's cursor, a
    server-side one on PostgreSQL, and formats them with Arrow)."""
    source = tmp_path / "SA_ZEDGETEST.csv"
    source.write_text(EDGE_SAMPLES)
    ingest_edb_files(archive.engine, [source])
    with archive.engine.begin() as conn:
        user = create_user(conn, email="engineer@example.org", display_name="Engineer",
                           password="a long enough password")  # fmt: skip
        token, _info = create_token(conn, user_id=user.user_id, name="edb", days=1, max_days=60)
    expected = list(csv.DictReader(EDGE_SAMPLES.splitlines()))
    with LiveServer(archive) as server:
        client = EngdbMastClient(server.url, token)
        records = client.get_records("SA_ZEDGETEST", Time("2022-07-05T00:00:00"),
                                     Time("2022-07-06T12:00:00"))  # fmt: skip
        assert client.response is not None
        lines = client.response.text.split("\r\n")[1:-1]
    assert list(records["theTime"]) == [row["theTime"] for row in expected]
    written = [line.split(",") for line in lines]
    for (_, mjd, value, kind), row in zip(written, expected, strict=True):
        assert float(value) == float(row["euvalue"]) and kind == "float"
        assert "." in value or "e" in value  # reads back as a float, not an integer
        exact = Time(row["theTime"], scale="utc").mjd
        assert len(mjd.split(".")[1]) == 10 and abs(float(mjd) - exact) < 0.5e-10 + 1e-11
    assert [line[1] for line in written][4:6] == ["59766.0000000000", "59766.0000000000"]
