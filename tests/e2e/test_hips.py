"""The archive's HiPS: built from public images only, and served as static tiles by a real server.

The e2e demo archive (conftest.py) builds its HiPS as `skyarchive demo` does. Expectations come
from the catalogue and the FITS files themselves (WCS by astropy, cells by cdshealpix), never
from the build's own output.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time

import astropy.units as u
import httpx
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from cdshealpix import nested
from PIL import Image
from sqlalchemy import func, select

from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import observations, products
from skyarchive.ingest.hips import build_hips, public_images
from skyarchive.ingest.hips_store import (
    hips_names,
    hips_properties,
    read_hips_file,
    served_build,
)
from skyarchive.ingest.release import set_eap_months
from skyarchive.sky.hips_tiles import tile_path
from tests.e2e.callers import EXPECTED, create_callers, headers_for
from tests.e2e.conftest import LiveServer
from tests.e2e.test_security_headers import assert_page_headers

# among the slowest files: handed out first (tests/suite.py)
pytestmark = pytest.mark.slow


def _image_files(archive: Archive, kind: str) -> list[tuple[str, str, bool]]:
    """(file name, storage key, public now) of every product of ``kind`` (I2D, CAL)."""
    query = (
        select(products.c.productFilename, products.c.storage_key, observations.c.t_obs_release)
        .join(observations, observations.c.obsid == products.c.owner_obsid)
        .where(products.c.productSubGroupDescription == kind)
    )
    with archive.engine.connect() as conn:
        now = now_mjd()
        return [(r[0], r[1], r[2] is not None and r[2] <= now) for r in conn.execute(query)]


def _sky_pixel(archive: Archive, ra: float, dec: float) -> tuple[int, int] | None:
    """(grey, alpha) of the deepest HiPS tile pixel at (ra, dec), None when no tile is there."""
    properties = hips_properties(archive.engine, archive.storage)
    assert properties
    order, width = int(properties["hips_order"]), int(properties["hips_tile_width"])
    bits = width.bit_length() - 1
    cell = int(nested.lonlat_to_healpix([ra] * u.deg, [dec] * u.deg, order + bits)[0])
    npix, sub = cell >> (2 * bits), cell & ((1 << 2 * bits) - 1)
    row = sum(((sub >> (2 * b)) & 1) << b for b in range(bits))  # ix: even bits
    column = sum(((sub >> (2 * b + 1)) & 1) << b for b in range(bits))  # iy: odd bits
    tile = read_hips_file(archive.engine, archive.storage, tile_path(order, npix, "png"))
    if tile is None:
        return None
    grey, alpha = Image.open(io.BytesIO(tile)).convert("LA").getpixel((column, row))
    return grey, alpha


def _tiles(archive: Archive) -> list[str]:
    """The names of the served HiPS's tiles, in order."""
    names = hips_names(archive.engine, archive.storage)
    return sorted(n for n in names if "/Dir" in n)


def _centre(archive: Archive, key: str) -> tuple[float, float]:
    with fits.open(io.BytesIO(b"".join(archive.storage.open_range(key)))) as hdus:
        header = hdus["SCI"].header
        wcs = WCS(header).celestial
        ny, nx = header["NAXIS2"], header["NAXIS1"]
        ra, dec = wcs.pixel_to_world_values((nx - 1) / 2, (ny - 1) / 2)
    return float(ra), float(dec)


def test_only_public_images_go_into_the_sky(demo_archive) -> None:  # type: ignore[no-untyped-def]
    mosaics = _image_files(demo_archive, "I2D")
    exclusive = [name for name, _key, public in mosaics if not public]
    assert exclusive, "the demo has an exclusive-access program with mosaics"
    chosen = {image.filename for image in public_images(demo_archive.engine)}
    assert {name for name, _key, public in mosaics if public} <= chosen
    assert not chosen & set(exclusive)
    assert not chosen & {
        name for name, _key, public in _image_files(demo_archive, "CAL") if not public
    }
    public_centres = [_centre(demo_archive, key) for _n, key, public in mosaics if public]
    for name, key, public in mosaics:
        ra, dec = _centre(demo_archive, key)
        pixel = _sky_pixel(demo_archive, ra, dec)
        if public:  # each public image's centre is drawn (opaque) in the deepest tiles
            assert pixel is not None and pixel[1] == 255, name
        elif all(abs(ra - pra) + abs(dec - pdec) > 0.1 for pra, pdec in public_centres):
            assert pixel is None or pixel[1] == 0, f"{name} (exclusive access) leaked into the sky"


def test_tiles_and_properties_are_served_with_caching_and_security_headers(
    live_server, demo_archive
) -> None:  # type: ignore[no-untyped-def]
    relative = _tiles(demo_archive)[0]
    stored = read_hips_file(demo_archive.engine, demo_archive.storage, relative)
    with httpx.Client(base_url=live_server.url) as client:
        properties = client.get("/hips/properties")
        assert properties.status_code == 200
        assert properties.headers["content-type"].startswith("text/plain")
        assert "hips_tile_format" in properties.text and "hips_frame" in properties.text
        answer = client.get(f"/hips/{relative}")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/png"
        assert answer.content == stored
        assert answer.headers["cache-control"] == "public, max-age=3600"
        assert answer.headers["access-control-allow-origin"] == "*"
        assert_page_headers(answer)
        again = client.get(f"/hips/{relative}", headers={"If-None-Match": answer.headers["etag"]})
        assert again.status_code == 304
        assert client.head(f"/hips/{relative}").status_code == 200
        allsky = client.get("/hips/Norder3/Allsky.png")
        assert allsky.status_code == 200 and Image.open(io.BytesIO(allsky.content)).size == (
            27 * 64,
            29 * 64,
        )


@pytest.mark.parametrize(
    "path",
    [
        "/hips/Norder7/Dir0/Npix1.png",  # a tile with no data: not built
        "/hips/Norder7/Dir10000/Npix1.png",  # a Dir that does not hold this Npix
        "/hips/Norder3/Allsky.fits",
        "/hips/index.html",
        "/hips/..%2F..%2Farchive.db",
        "/hips/%2e%2e/%2e%2e/archive.db",
        "/hips/Norder3/..%2F..%2Farchive.db",
        "/hips/properties%00.png",
        "/hips/Norder3\\..\\archive.db",
        "/hips//etc/passwd",
        "/hips/",
    ],
)
def test_anything_else_under_hips_is_a_404_in_the_error_shape(live_server, path) -> None:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{live_server.url}{path}", headers={"Accept": "application/json"})
    assert 400 <= answer.status_code < 500, (path, answer.status_code)
    assert answer.json()["error"]["status"] == answer.status_code
    assert b"SQLite" not in answer.content


def test_raw_dot_dot_segments_never_leave_the_hips(live_server) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.create_connection(("127.0.0.1", live_server.port)) as conn:
        conn.sendall(b"GET /hips/../../archive.db HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    assert 400 <= status < 500 and b"SQLite format" not in reply


def test_before_a_build_the_hips_is_absent_and_says_how_to_build_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    archive = Archive.open(Settings(home=tmp_path / "home"))
    with LiveServer(archive) as server:
        answer = httpx.get(f"{server.url}/hips/properties")
        page = httpx.get(f"{server.url}/search")
    assert (
        answer.status_code == 404 and "skyarchive hips build" in answer.json()["error"]["message"]
    )
    assert '"hips": []' in page.text
    archive.engine.dispose()


def test_the_cli_builds_the_hips_and_replaces_it_whole(demo_archive) -> None:  # type: ignore[no-untyped-def]
    home = demo_archive.settings.home
    before = hips_properties(demo_archive.engine, demo_archive.storage)
    former = served_build(demo_archive.engine)
    assert before and former
    command = [sys.executable, "-m", "skyarchive", "--home", str(home), "hips", "build"]
    done = subprocess.run(
        [*command, "--max-order", before["hips_order"]],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    images = len(public_images(demo_archive.engine))
    assert f"HiPS of {images} images" in done.stdout
    after = hips_properties(demo_archive.engine, demo_archive.storage)
    assert after and after["hips_order"] == before["hips_order"]
    assert after["skyarchive_images"] == str(images)
    assert served_build(demo_archive.engine) != former
    # the former build's files are gone from the storage, the new one's are all there
    assert not demo_archive.storage.exists(f"hips/{former}/properties")
    assert not demo_archive.storage.exists(f"hips/{former}/files")
    names = hips_names(demo_archive.engine, demo_archive.storage)
    assert not demo_archive.storage.missing(f"hips/{served_build(demo_archive.engine)}/{n}"
                                           for n in names)  # fmt: skip
    tiles = [read_hips_file(demo_archive.engine, demo_archive.storage, t)
             for t in _tiles(demo_archive)[:5]]  # fmt: skip
    assert tiles and all(
        t and np.asarray(Image.open(io.BytesIO(t))).shape[:2] == (512, 512) for t in tiles
    )


def test_every_caller_gets_the_same_public_tiles(live_server, demo_archive) -> None:  # type: ignore[no-untyped-def]
    """The sky holds public data only, so no caller, good or bad credentials, changes it."""
    callers = create_callers(demo_archive.engine, "4567")
    first = _tiles(demo_archive)[0]
    tile = "/hips/" + first
    expected = read_hips_file(demo_archive.engine, demo_archive.storage, first)
    for who in EXPECTED:
        answer = httpx.get(f"{live_server.url}{tile}", headers=headers_for(callers, who))
        assert answer.status_code == 200, who
        assert answer.content == expected, who
        assert answer.headers["cache-control"] == "public, max-age=3600", who
        assert "set-cookie" not in answer.headers, who


def test_ingest_can_build_the_hips_after_it(tmp_path, demo_output) -> None:  # type: ignore[no-untyped-def]
    out, _summary = demo_output
    home = tmp_path / "home"
    command = [sys.executable, "-m", "skyarchive", "--home", str(home), "ingest", str(out)]
    done = subprocess.run(
        [*command, "--hips"], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    archive = Archive.open(Settings(home=home))
    properties = hips_properties(archive.engine, archive.storage)
    assert properties and "HiPS of" in done.stdout
    assert properties["skyarchive_images"] == str(len(public_images(archive.engine)))
    archive.engine.dispose()


def test_a_lengthened_period_withholds_the_sky_until_it_is_built_again(  # type: ignore[no-untyped-def]
    demo_archive_copy,
) -> None:
    """Images of a public program go into the sky; when its period is lengthened so that they
    are exclusive again, no tile is served until the HiPS is built without them."""
    archive = demo_archive_copy
    build_hips(engine=archive.engine, storage=archive.storage, max_order=3)
    before = {image.filename for image in public_images(archive.engine)}
    program = "1073"
    theirs = {name for name in before if name.startswith(f"jw0{program}")}
    assert theirs, "the demo's public NIRCam program has images in the sky"
    with archive.engine.connect() as conn:
        first_end = conn.scalar(
            select(func.min(observations.c.t_max)).where(observations.c.proposal_id == program)
        )
    # a period that ends about a year from now for all of the program's observations
    months = str(int((now_mjd() - first_end) / 30) + 13)
    with LiveServer(archive) as server:
        assert httpx.get(f"{server.url}/hips/properties").status_code == 200
        with archive.engine.begin() as conn:
            set_eap_months(conn, program, int(months), default_months=12)
        refused = httpx.get(f"{server.url}/hips/properties")
        tile = httpx.get(f"{server.url}/hips/Norder3/Allsky.png")
        page = httpx.get(f"{server.url}/search")
    assert refused.status_code == 404 and tile.status_code == 404
    message = refused.json()["error"]["message"]
    assert "skyarchive hips build" in message and program in message
    assert '"hips": []' in page.text
    command = [sys.executable, "-m", "skyarchive", "--home", str(archive.settings.home)]
    environment = dict(os.environ)
    if archive.settings.database_url:  # a PostgreSQL copy: the CLI must open the same database
        environment["SKYARCHIVE_DATABASE_URL"] = archive.settings.database_url
    done = subprocess.run([*command, "program", "set-eap", program, months], env=environment,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "built again" in done.stdout
    properties = hips_properties(archive.engine, archive.storage)
    now_public = {image.filename for image in public_images(archive.engine)}
    assert not now_public & theirs
    assert properties and properties["skyarchive_images"] == str(len(now_public))


def test_a_program_public_only_for_a_while_after_the_build_leaves_the_sky_served(  # type: ignore[no-untyped-def]
    demo_archive_copy,
) -> None:
    """The exclusive program's images were not in the sky when it was built: opening the
    program and closing it again takes nothing out of the sky, so nothing is withheld."""
    archive = demo_archive_copy
    build_hips(engine=archive.engine, storage=archive.storage, max_order=3)
    program = "4567"
    assert not any(
        image.filename.startswith(f"jw0{program}") for image in public_images(archive.engine)
    ), "the demo's exclusive program has no image in the sky"
    with archive.engine.begin() as conn:
        set_eap_months(conn, program, 0, default_months=12)
    with archive.engine.begin() as conn:
        set_eap_months(conn, program, None, default_months=12)
    with LiveServer(archive) as server:
        assert httpx.get(f"{server.url}/hips/properties").status_code == 200
        assert httpx.get(f"{server.url}/hips/Norder3/Allsky.png").status_code == 200
    assert served_build(archive.engine) is not None


def _a_year_more(archive: Archive, program: str) -> int:
    """Exclusive-access months that end about a year from now for all of ``program``."""
    with archive.engine.connect() as conn:
        first_end = conn.scalar(
            select(func.min(observations.c.t_max)).where(observations.c.proposal_id == program)
        )
    return int((now_mjd() - first_end) / 30) + 13


def _assert_withheld_for(archive: Archive, program: str) -> None:
    with LiveServer(archive) as server:
        refused = httpx.get(f"{server.url}/hips/properties")
        tile = httpx.get(f"{server.url}/hips/Norder3/Allsky.png")
    assert refused.status_code == 404 and tile.status_code == 404, refused.text
    message = refused.json()["error"]["message"]
    assert "skyarchive hips build" in message and program in message


@pytest.mark.parametrize("built_before", [False, True])
def test_a_period_change_while_a_build_runs_withholds_what_it_publishes(  # type: ignore[no-untyped-def]
    demo_archive_copy, built_before: bool
) -> None:
    """The build chose the program's images while they were public; before it publishes, the
    program's period is lengthened. Whether an older sky held the program or there was none,
    the new build must not serve those images."""
    archive = demo_archive_copy
    if built_before:
        build_hips(engine=archive.engine, storage=archive.storage, max_order=3)
    program = "1073"
    months = _a_year_more(archive, program)
    changed: list[bool] = []

    def change_the_period_once(_done: int, _total: int) -> None:
        if not changed:  # while the build reads its images: it chose them already
            with archive.engine.begin() as conn:
                set_eap_months(conn, program, months, default_months=12)
            changed.append(True)

    build_hips(engine=archive.engine, storage=archive.storage, max_order=3,
               progress=change_the_period_once)  # fmt: skip
    assert changed
    assert served_build(archive.engine) is None
    _assert_withheld_for(archive, program)
    build_hips(engine=archive.engine, storage=archive.storage, max_order=3)  # built again
    assert served_build(archive.engine) is not None
    assert not any(i.filename.startswith(f"jw0{program}") for i in public_images(archive.engine))


def test_a_build_publishing_while_a_period_change_commits_waits_for_it(  # type: ignore[no-untyped-def]
    demo_archive_copy,
) -> None:
    """A period change not yet committed when the build publishes: the build waits for it and
    then sees it (it does not publish from the release dates of before)."""
    archive = demo_archive_copy
    program = "1073"
    months = _a_year_more(archive, program)
    failures: list[BaseException] = []

    def build() -> None:
        try:
            build_hips(engine=archive.engine, storage=archive.storage, max_order=3)
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)

    builder = threading.Thread(target=build)
    with archive.engine.begin() as conn:
        set_eap_months(conn, program, months, default_months=12)
        builder.start()
        time.sleep(3)  # the build chooses the public images of before, and gets to publish
    builder.join(timeout=300)
    assert not builder.is_alive() and not failures, failures
    assert served_build(archive.engine) is None
    _assert_withheld_for(archive, program)
