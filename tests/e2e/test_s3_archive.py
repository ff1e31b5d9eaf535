"""An archive on S3 (a real SeaweedFS) through the real server: ingest, downloads, bundles,
staging.

The demo output is ingested into an archive on S3 and served beside the suite's demo archive
on local disk; downloads are compared with the demo's own files (not with anything the server
said) and the S3 archive's answers with the local one's, header by header.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from skyarchive.access.policy import Caller
from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observations, products
from skyarchive.delivery.requests import start_staging
from skyarchive.delivery.service import staging_area
from skyarchive.delivery.staging import run_staging
from skyarchive.ingest.run import ingest_paths
from tests.e2e.callers import EXPECTED, Callers, create_callers, headers_for
from tests.e2e.conftest import LiveServer
from tests.tools import needs

FILE = "/api/v0.1/Download/file"
#: Headers that differ between any two answers (time, connection), not between backends.
_VARYING = {"date", "server", "connection", "keep-alive", "transfer-encoding"}


@dataclass
class Served:
    archive: Archive
    url: str


@pytest.fixture(scope="module")
def archives(seaweed_s3, demo_output, demo_archive, live_server, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The demo on S3 served in stream and in redirect mode, and the suite's demo on local disk
    (the session's ``live_server``, ingested from the same output)."""
    out, _summary = demo_output
    on_s3 = Archive.open(
        Settings(
            home=tmp_path_factory.mktemp("s3-home"),
            storage_url=seaweed_s3.new_location(),
            s3_endpoint_url=seaweed_s3.endpoint,
        )  # fmt: skip
    )
    report = ingest_paths(
        [Path(out)], engine=on_s3.engine, storage=on_s3.storage, default_eap_months=12
    )
    assert report.ok, report.failed
    redirecting = Archive(
        on_s3.settings.model_copy(update={"download_mode": "redirect"}),
        on_s3.engine, on_s3.storage,
    )  # fmt: skip
    with LiveServer(on_s3) as stream_server, LiveServer(redirecting) as redirect_server:
        yield {
            "stream": Served(on_s3, stream_server.url),
            "redirect": Served(redirecting, redirect_server.url),
            "local": Served(demo_archive, live_server.url),
        }
    on_s3.engine.dispose()


@pytest.fixture(scope="module")
def callers(archives) -> Callers:  # type: ignore[no-untyped-def]
    """Every kind of caller of program 4567 (exclusive access) in the S3 archive."""
    return create_callers(archives["redirect"].archive.engine, "4567")


@pytest.fixture(scope="module")
def public_file(archives, demo_output) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    """The largest public FITS file: its data URI and its bytes as the demo wrote them."""
    owner = observations.alias("owner")
    with archives["stream"].archive.engine.connect() as conn:
        row = conn.execute(
            select(products.c.dataURI, products.c.productFilename)
            .join(owner, owner.c.obsid == products.c.owner_obsid)
            .where(owner.c.t_obs_release < now_mjd(), products.c.productFilename.like("%.fits"))
            .order_by(products.c.size.desc(), products.c.productFilename)
            .limit(1)
        ).one()
    (original,) = Path(demo_output[0]).rglob(row.productFilename)
    return row.dataURI, original.read_bytes()


def _comparable(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower() not in _VARYING}


def test_ingest_put_every_file_in_the_bucket_and_none_on_disk(archives) -> None:  # type: ignore[no-untyped-def]
    archive = archives["stream"].archive
    with archive.engine.connect() as conn:
        rows = conn.execute(select(products.c.storage_key, products.c.sha256)).all()
    stored = set(archive.storage.list_keys())
    assert {row.storage_key for row in rows} <= stored
    local_dir = archive.settings.resolved_storage_path
    assert not local_dir.exists() or not any(local_dir.rglob("*"))
    sample = rows[:: max(1, len(rows) // 10)]
    for row in sample:  # the store itself recorded (and holds) the bytes' checksum
        assert archive.storage.recorded_checksum(row.storage_key) == row.sha256
        assert archive.storage.checksum(row.storage_key) == row.sha256


@pytest.mark.parametrize("mode", ["stream", "redirect"])
def test_get_gives_the_original_bytes(archives, public_file, mode: str) -> None:  # type: ignore[no-untyped-def]
    uri, data = public_file
    with httpx.Client(base_url=archives[mode].url, timeout=30, follow_redirects=True) as client:
        got = client.get(FILE, params={"uri": uri})
    assert got.status_code == 200
    assert got.content == data
    assert len(got.history) == (1 if mode == "redirect" else 0)
    assert "attachment" in got.headers["content-disposition"]


def test_streamed_answers_match_local_storage_header_for_header(archives, public_file) -> None:  # type: ignore[no-untyped-def]
    uri, data = public_file
    asks = [
        ("HEAD", {}), ("GET", {}), ("GET", {"Range": "bytes=100-199"}),
        ("GET", {"Range": "bytes=-300"}), ("HEAD", {"Range": "bytes=5-"}),
        ("GET", {"Range": f"bytes={len(data)}-"}), ("GET", {"Range": "bytes=0-1,5-9"}),
    ]  # fmt: skip
    for method, headers in asks:
        answers = {}
        for name in ("stream", "local"):
            with httpx.Client(base_url=archives[name].url, timeout=30) as client:
                answers[name] = client.request(method, FILE, params={"uri": uri}, headers=headers)
        s3, local = answers["stream"], answers["local"]
        assert (s3.status_code, _comparable(s3), s3.content) == (
            local.status_code, _comparable(local), local.content,
        ), (method, headers)  # fmt: skip
    part = answers["stream"]
    assert part.status_code == 200 and part.content == data  # several ranges: the whole file


def test_range_and_head_behave_the_same_in_redirect_mode(archives, public_file) -> None:  # type: ignore[no-untyped-def]
    uri, data = public_file
    with httpx.Client(base_url=archives["redirect"].url, timeout=30) as client:
        head = client.head(FILE, params={"uri": uri})
        assert head.status_code == 200  # answered here: a presigned URL is for GET only
        assert int(head.headers["content-length"]) == len(data)
        assert head.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
        moved = client.get(FILE, params={"uri": uri}, headers={"Range": "bytes=100-199"})
        assert moved.status_code == 307
        assert moved.headers["cache-control"] == "private, no-store"
        location = moved.headers["location"]
        assert location.startswith(archives["redirect"].archive.settings.s3_endpoint_url or "-")
        assert "X-Amz-Expires=300" in location  # the operator's presigned_url_seconds
        part = client.get(FILE, params={"uri": uri}, headers={"Range": "bytes=100-199"},
                          follow_redirects=True)  # fmt: skip
        assert part.status_code == 206 and part.content == data[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
        beyond = client.get(FILE, params={"uri": uri}, headers={"Range": f"bytes={len(data)}-"})
        assert beyond.status_code == 416 and "location" not in beyond.headers
        # If-Range names this archive's ETag, which the store cannot judge: streamed from here
        kept = client.get(FILE, params={"uri": uri}, headers={
            "Range": "bytes=0-9", "If-Range": head.headers["etag"]})  # fmt: skip
        assert kept.status_code == 206 and kept.content == data[:10]


def test_exclusive_access_files_get_no_presigned_url(archives) -> None:  # type: ignore[no-untyped-def]
    with archives["redirect"].archive.engine.connect() as conn:
        uri = conn.scalar(
            select(products.c.dataURI).where(products.c.proposal_id == "4567").limit(1)
        )
    with httpx.Client(base_url=archives["redirect"].url, timeout=30) as client:
        refused = client.get(FILE, params={"uri": uri})
    assert refused.status_code in (401, 403)
    assert "location" not in refused.headers
    assert "X-Amz-Signature" not in refused.text


@needs("curl")
def test_curl_follows_the_redirect_and_resumes(archives, public_file, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    uri, data = public_file
    target = tmp_path / "file.fits"
    target.write_bytes(data[:1000])  # an interrupted download, to be resumed
    curl = shutil.which("curl")
    assert curl is not None
    url = f"{archives['redirect'].url}{FILE}?uri={uri}"
    subprocess.run(
        [curl, "--silent", "--show-error", "--fail", "--location", "--continue-at", "-",
         "--output", str(target), url],
        check=True, timeout=60,
    )  # fmt: skip
    assert target.read_bytes() == data


@pytest.mark.parametrize("mode", ["stream", "redirect"])
def test_a_zip_bundle_streams_from_the_bucket(archives, demo_output, mode: str) -> None:  # type: ignore[no-untyped-def]
    served = archives[mode]
    with served.archive.engine.connect() as conn:
        obsid = conn.scalar(
            select(observations.c.obsid).where(
                observations.c.obs_id == "jw01073-o001_t001_nircam_clear-f150w"
            )
        )
    response = httpx.post(f"{served.url}/api/v0.1/Download/bundle.zip",
                          data={"obsid": str(obsid)}, timeout=60)  # fmt: skip
    assert response.status_code == 200, response.text
    assert int(response.headers["content-length"]) == len(response.content)
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    assert bundle.testzip() is None
    names = [name for name in bundle.namelist() if name != "MANIFEST.HTML"]
    assert names and "Every requested file is included" in bundle.read("MANIFEST.HTML").decode()
    originals = {path.name: path for path in Path(demo_output[0]).rglob("*") if path.is_file()}
    for name in names:
        assert bundle.read(name) == originals[name.rsplit("/", 1)[-1]].read_bytes(), name


def test_the_presigned_url_points_at_the_store_not_the_archive(archives, public_file) -> None:  # type: ignore[no-untyped-def]
    uri, _data = public_file
    with httpx.Client(base_url=archives["redirect"].url, timeout=30) as client:
        location = client.get(FILE, params={"uri": uri}).headers["location"]
    assert urlsplit(location).netloc != urlsplit(archives["redirect"].url).netloc


def test_staging_copies_from_the_bucket(archives, demo_output) -> None:  # type: ignore[no-untyped-def]
    served = archives["stream"]
    archive = served.archive
    with archive.engine.connect() as conn:
        obsid = conn.scalar(
            select(observations.c.obsid).where(
                observations.c.obs_id == "jw01073-o001_t001_nircam_clear-f150w"
            )
        )
    info = start_staging(archive, Caller(), base_url=served.url, enqueue=lambda _id: None,
                         email="staging-s3@example.org", obsids=[obsid])  # fmt: skip
    assert run_staging(archive, request_id=info["request_id"]) == "done"
    area = staging_area(archive.settings, info["request_id"])
    staged = [path for path in area.rglob("*") if path.is_file() and path.parent != area]
    assert len(staged) == info["files_total"] > 0
    originals = {path.name: path for path in Path(demo_output[0]).rglob("*") if path.is_file()}
    for path in staged:
        assert path.read_bytes() == originals[path.name].read_bytes(), path.name


@needs("curl")
@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_every_caller_gets_an_exclusive_file_by_the_rule_in_redirect_mode(
    archives,
    callers,
    demo_output,
    who: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """The archive judges the caller's token before any URL is made (the status each kind of
    caller gets is the download rule's); an allowed caller's curl follows the redirect to the
    store and gets the file intact."""
    served = archives["redirect"]
    with served.archive.engine.connect() as conn:
        uri, name = conn.execute(
            select(products.c.dataURI, products.c.productFilename)
            .where(products.c.proposal_id == "4567", products.c.productFilename.like("%.fits"))
            .order_by(products.c.productFilename)
            .limit(1)
        ).one()
    (original,) = Path(demo_output[0]).rglob(name)
    target = tmp_path / name
    header = [f"-H@{_header_file(tmp_path, headers_for(callers, who))}"]
    curl = shutil.which("curl")
    assert curl is not None
    done = subprocess.run(
        [curl, "--silent", "--location", "--output", str(target), "--write-out", "%{http_code}",
         *header, f"{served.url}{FILE}?uri={uri}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert int(done.stdout) == EXPECTED[who], done.stdout
    if EXPECTED[who] == 200:
        assert target.read_bytes() == original.read_bytes()


def _header_file(folder: Path, headers: dict[str, str]) -> Path:
    path = folder / "headers.txt"
    path.write_text("".join(f"{name}: {value}\n" for name, value in headers.items()))
    return path


def test_an_archive_on_s3_serves_its_sky_from_the_bucket(archives) -> None:  # type: ignore[no-untyped-def]
    """The HiPS is built into the bucket, not the home, and `/hips/` reads it from there."""
    from PIL import Image

    from skyarchive.ingest.hips import build_hips
    from skyarchive.ingest.hips_store import hips_names, served_build
    from skyarchive.sky.hips_tiles import parse_properties

    archive = archives["stream"].archive
    report = build_hips(engine=archive.engine, storage=archive.storage, max_order=4)
    assert report.images > 0 and report.tiles > 0
    build = served_build(archive.engine)
    names = hips_names(archive.engine, archive.storage)
    keys = set(archive.storage.list_keys())
    assert {f"hips/{build}/{name}" for name in names} <= keys
    assert not list(archive.settings.home.rglob("Npix*.png")), "no tile on the local disk"
    tile = sorted(n for n in names if "/Dir" in n)[0]
    with httpx.Client(base_url=archives["stream"].url, timeout=30) as client:
        properties = client.get("/hips/properties")
        answer = client.get(f"/hips/{tile}")
    assert properties.status_code == 200
    assert parse_properties(properties.text)["hips_order"] == "4"
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.content == b"".join(archive.storage.open_range(f"hips/{build}/{tile}"))
    assert Image.open(io.BytesIO(answer.content)).size == (512, 512)
