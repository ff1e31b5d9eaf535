"""The demo generator writes what its summary says, deterministically, named like JWST."""

from __future__ import annotations

import csv
import json
import math
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from PIL import Image

from skyarchive.demo import DemoSummary, generate
from skyarchive.demo.programs import base_programs, jwst_cycle

EXPOSURE = re.compile(
    r"^jw(\d{5})(\d{3})(\d{3})_(\d{2})(\d)([0-9a-z]{2})_(\d{5})(?:-seg(\d{3}))?_([a-z0-9]+)"
    r"_(.+)\.(fits|jpg)$"
)
LEVEL3 = re.compile(
    r"^jw(\d{5})-o(\d{3})_t(\d{3})_(nircam|miri|nirspec|niriss)_([a-z0-9-]+)"
    r"_(i2d|segm|cat|s3d|x1d|x1dints|whtlt)(_thumb)?\.(fits|jpg|ecsv)$"
)
ASN = re.compile(
    r"^jw(\d{5})-o(\d{3})_(\d{8}t\d{6})_(image2|image3|spec2|spec3|tso-spec2|tso3)_(\d{5})"
    r"_asn\.json$"
)
POOL = re.compile(r"^jw(\d{5})_(\d{8}t\d{6})_pool\.csv$")
GUIDE_STAR = re.compile(
    r"^jw(\d{5})(\d{3})(\d{3})_gs-(id_1_image-uncal|(acq1|track|fg)_\d{13}_(uncal|cal))\.fits$"
)
SUFFIX = re.compile(
    r"^(o\d{3}_)?(uncal|rate|rateints|trapsfilled|cal|calints|crf|crfints|s3d|x1d|x1dints)(_thumb)?$"
)

SCIENCE_KEYWORDS = (
    "TELESCOP", "INSTRUME", "DETECTOR", "EXP_TYPE", "SUBARRAY", "READPATT", "NINTS", "NGROUPS",
    "NFRAMES", "TARGNAME", "TARGPROP", "TARGTYPE", "TARG_RA", "TARG_DEC", "PROGRAM", "OBSERVTN",
    "VISIT", "VISITGRP", "SEQ_ID", "ACT_ID", "EXPOSURE", "VISIT_ID", "OBS_ID", "TEMPLATE",
    "OBSLABEL", "CATEGORY", "SUBCAT", "SCICAT", "TITLE", "PI_NAME", "TSOVISIT", "VISITYPE",
    "EXPRIPAR", "DATE-OBS", "TIME-OBS", "DATE-BEG", "DATE-END", "EXPSTART", "EXPMID", "EXPEND",
    "EFFEXPTM", "EFFINTTM", "DURATION", "PATTTYPE", "NUMDTHPT", "PATT_NUM", "APERNAME",
    "DATAMODL", "FILENAME", "DATE",
)  # fmt: skip
GUIDE_STAR_KEYWORDS = ("TELESCOP", "INSTRUME", "DETECTOR", "EXP_TYPE", "PROGRAM", "OBSERVTN",
                       "VISIT", "VISIT_ID", "EXPSTART", "EXPEND", "FILENAME", "DATE")  # fmt: skip
M57 = (283.396, 33.029)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    return generate(tmp_path_factory.mktemp("demo") / "archive", seed=1)


@pytest.fixture(scope="module")
def fits_headers(demo: DemoSummary) -> dict[str, tuple[fits.Header, list[fits.Header]]]:
    headers = {}
    for relative in demo.files:
        if relative.suffix == ".fits" and relative.parts[0] == "jwst":
            with fits.open(demo.out_dir / relative) as hdul:
                headers[relative.name] = (
                    hdul[0].header.copy(),
                    [h.header.copy() for h in hdul[1:]],
                )
    return headers


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _polygon(s_region: str) -> list[tuple[float, float]]:
    numbers = [float(v) for v in s_region.split()[2:]]
    return list(zip(numbers[::2], numbers[1::2], strict=True))


def _tangent(ra0: float, dec0: float, ra: float, dec: float) -> tuple[float, float]:
    """Offsets in arcsec east/north (small-angle), enough for footprints of a few arcmin."""
    east = (ra - ra0 + 180.0) % 360.0 - 180.0
    return east * math.cos(math.radians(dec0)) * 3600.0, (dec - dec0) * 3600.0


def _inside(polygon: list[tuple[float, float]], ra: float, dec: float) -> bool:
    points = [_tangent(ra, dec, *corner) for corner in polygon]
    crosses = [
        x1 * y2 - x2 * y1
        for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True)
    ]
    return all(c > 0 for c in crosses) or all(c < 0 for c in crosses)


def test_same_seed_gives_identical_bytes(demo: DemoSummary, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", seed=1, built=demo.built)
    assert _tree(demo.out_dir) == _tree(again.out_dir)
    assert again.files == demo.files


def test_different_seed_gives_different_data(demo: DemoSummary, tmp_path: Path) -> None:
    other = generate(tmp_path / "other", seed=2)
    assert set(other.exposure_obs) == set(demo.exposure_obs)
    name = next(iter(demo.exposure_obs)) + "_cal.fits"
    program = f"jw{name[2:7]}"
    first = (demo.out_dir / "jwst" / program / name).read_bytes()
    assert first != (other.out_dir / "jwst" / program / name).read_bytes()


def test_summary_lists_exactly_the_files_on_disk(demo: DemoSummary) -> None:
    on_disk = {p.relative_to(demo.out_dir) for p in demo.out_dir.rglob("*") if p.is_file()}
    assert set(demo.files) == on_disk
    assert len(demo.files) == len(on_disk)
    assert 300 <= len(demo.files) <= 950
    assert demo.bad_files == []
    names = {p.name for p in demo.files}
    for obs_id, files in demo.exposure_obs.items():
        assert f"{obs_id}_uncal.fits" in files
        assert all(f.startswith(f"{obs_id}_") and f in names for f in files)
    for obs_id, info in demo.level3_obs.items():
        assert info.files and all(f.startswith(f"{obs_id}_") and f in names for f in info.files)
        assert set(info.members) <= set(demo.exposure_obs)
    owned = {f for files in demo.exposure_obs.values() for f in files}
    owned |= {f for info in demo.level3_obs.values() for f in info.files}
    shared = {p.name for p in [*demo.associations, *demo.pools, *demo.guide_star_files]}
    assert not owned & shared
    jwst_files = {p.name for p in demo.files if p.parts[0] == "jwst"}
    assert owned | shared == jwst_files


def test_names_follow_jwst_rules(demo: DemoSummary) -> None:
    for relative in demo.files:
        if relative.parts[0] != "jwst":
            continue
        name = relative.name
        assert relative.parent.name == f"jw{name[2:7]}", name
        exposure = EXPOSURE.match(name)
        if exposure and not name.startswith(relative.parent.name + "-"):
            suffix = exposure.group(10)
            assert SUFFIX.match(suffix), name
            obs_id = name[: -len(f"_{suffix}.{exposure.group(11)}")]
            if suffix.startswith("o0"):
                assert suffix[1:4] == exposure.group(2), name  # association id = observation
            assert name in demo.exposure_obs[obs_id], name
            continue
        level3 = LEVEL3.match(name)
        if level3:
            obs_id = name[: name.rindex("_" + level3.group(6))]
            assert name in demo.level3_obs[obs_id].files
            continue
        assert ASN.match(name) or POOL.match(name) or GUIDE_STAR.match(name), name
    expected = {
        "jw01073-o001_t001_nircam_clear-f277w", "jw01073-o002_t001_nircam_clear-f444w",
        "jw01558-o001_t001_miri_f1000w", "jw01558-o002_t001_miri_ch1-shortmediumlong",
        "jw01558-o002_t001_miri_ch3-shortmediumlong", "jw01558-o005_t001_nircam_clear-f212n",
        "jw01539-o003_t001_nirspec_g395m-f290lp", "jw04567-o001_t001_miri_f770w",
        "jw01366-o001_t001_niriss_clear-gr700xd-substrip256",
    }  # fmt: skip
    assert expected <= set(demo.level3_obs)
    assert "jw01366001001_04101_00001-seg002_nis" in demo.exposure_obs
    assert (
        "jw01558001001_02101_00001_mirimage_o001_crf.fits"
        in (demo.exposure_obs["jw01558001001_02101_00001_mirimage"])
    )
    tso = demo.level3_obs["jw01366-o001_t001_niriss_clear-gr700xd-substrip256"].files
    assert "jw01366-o001_t001_niriss_clear-gr700xd-substrip256_whtlt.ecsv" in tso


def test_every_fits_has_the_keywords_ingest_reads(demo: DemoSummary, fits_headers) -> None:
    assert len(fits_headers) > 200
    dates: dict[str, set[str]] = {}
    for name, (primary, extensions) in fits_headers.items():
        assert primary["FILENAME"] == name
        assert primary["TELESCOP"] == "JWST"
        assert re.fullmatch(r"\d{5}", primary["PROGRAM"]) and len(primary["OBSERVTN"]) == 3
        if "_gs-" in name:
            assert all(k in primary for k in GUIDE_STAR_KEYWORDS), name
            assert primary["INSTRUME"] == "FGS" and primary["EXP_TYPE"].startswith("FGS_")
        else:
            per_exposure = ("EXPOSURE", "PATT_NUM") if LEVEL3.match(name) else ()
            missing = [k for k in SCIENCE_KEYWORDS if k not in primary and k not in per_exposure]
            assert not missing, (name, missing)
            assert isinstance(primary["TSOVISIT"], bool)
            assert primary["EXPSTART"] < primary["EXPMID"] < primary["EXPEND"]
            assert re.fullmatch(r"V\d{11}P\d{13}", primary["OBS_ID"])
            assert re.fullmatch(r"[^,]+, [^,]+", primary["PI_NAME"])
        assert ("CAL_VER" in primary) == (not name.endswith("uncal.fits")), name
        assert any("S_REGION" in h for h in extensions), name
        dates.setdefault(primary["PROGRAM"], set()).add(primary["DATE"])
    assert all(len(values) == 1 for values in dates.values())  # one processing date per program


def test_level3_headers_span_their_members(demo: DemoSummary, fits_headers) -> None:
    for obs_id, info in demo.level3_obs.items():
        product = next(f for f in info.files if f.endswith(".fits"))
        header = fits_headers[product][0]
        assert header["DETECTOR"] == "MULTIPLE"
        members = [fits_headers[f"{m}_uncal.fits"][0] for m in info.members]
        assert header["EXPSTART"] == min(m["EXPSTART"] for m in members)
        assert header["EXPEND"] == max(m["EXPEND"] for m in members)
        assert header["EFFEXPTM"] == pytest.approx(sum(m["EFFEXPTM"] for m in members))
        assert header["ASNTABLE"].startswith(obs_id[:12])


def test_footprints_hold_their_pointing_and_match_the_wcs(demo: DemoSummary, fits_headers) -> None:
    for name, (primary, extensions) in fits_headers.items():
        header = next(h for h in extensions if "S_REGION" in h)
        assert header["S_REGION"].startswith("POLYGON ICRS  ")
        polygon = _polygon(header["S_REGION"])
        assert len(polygon) == 4
        if header.get("EXTNAME") == "SCI":
            assert _inside(polygon, header["RA_REF"], header["DEC_REF"]), name
        if "TARG_RA" in primary:
            centre = np.mean(polygon, axis=0)
            east, north = _tangent(primary["TARG_RA"], primary["TARG_DEC"], *centre)
            assert math.hypot(east, north) < 400.0, name  # within a few arcmin of the target
    for name in ("jw01558-o002_t001_miri_ch1-shortmediumlong_s3d.fits",
                 "jw01073001001_02101_00002_nrcb1_cal.fits"):  # fmt: skip
        sci = fits_headers[name][1][0]
        size = sci["NAXIS1"]
        edges = [[0.5, 0.5], [size + 0.5, 0.5], [size + 0.5, size + 0.5], [0.5, size + 0.5]]
        corners = WCS(sci).celestial.all_pix2world(edges, 1)
        polygon = np.array(_polygon(sci["S_REGION"]))
        for corner in corners:
            assert np.min(np.hypot(*(polygon - corner).T)) < 1e-6


def test_a_one_arcminute_cone_on_m57_finds_miri_nircam_and_mrs(fits_headers) -> None:
    found = set()
    for primary, extensions in fits_headers.values():
        if primary["PROGRAM"] == "01558" and extensions and "RA_REF" in extensions[0]:
            east, north = _tangent(*M57, extensions[0]["RA_REF"], extensions[0]["DEC_REF"])
            if math.hypot(east, north) < 60.0:
                found.add(primary["EXP_TYPE"])
    assert {"MIR_IMAGE", "MIR_MRS", "NRC_IMAGE"} <= found


def test_associations_name_files_that_exist(demo: DemoSummary) -> None:
    types = set()
    for relative in demo.associations:
        path = demo.out_dir / relative
        content = json.loads(path.read_text())
        types.add(content["asn_type"])
        assert content["program"] == path.name[2:7]
        assert (path.parent / f"{content['asn_pool']}.csv").exists()
        for product in content["products"]:
            if content["asn_type"] in ("image3", "spec3", "tso3"):
                assert product["name"] in demo.level3_obs
                members = {m["expname"].rsplit("_", 1)[0] for m in product["members"]}
                assert members == set(demo.level3_obs[product["name"]].members)
            else:
                assert product["name"] in demo.exposure_obs
            for member in product["members"]:
                assert member["exptype"] == "science"
                assert (path.parent / member["expname"]).exists(), member["expname"]
    assert types == {"image2", "image3", "spec2", "spec3", "tso-spec2", "tso3"}


def test_pools_have_one_row_per_uncal(demo: DemoSummary) -> None:
    for relative in demo.pools:
        path = demo.out_dir / relative
        with path.open() as handle:
            rows = list(csv.DictReader(handle, delimiter="|"))
        uncal = {p.name for p in path.parent.glob("jw*_uncal.fits") if "_gs-" not in p.name}
        assert {row["FILENAME"] for row in rows} == uncal
        assert len(rows) == len(uncal)
        assert all(row["PROGRAM"] == path.name[2:7] and "" not in row.values() for row in rows)
        assert "TSOVISIT" in rows[0] and "ASN_CANDIDATE" in rows[0]


def test_previews_are_small_jpegs(demo: DemoSummary) -> None:
    previews = [p for p in demo.files if p.suffix == ".jpg"]
    assert previews
    for relative in previews[:40]:
        with Image.open(demo.out_dir / relative) as image:
            assert image.format == "JPEG"
            assert image.size == ((16, 16) if relative.stem.endswith("_thumb") else (64, 64))
    for obs_id, files in demo.exposure_obs.items():
        assert f"{obs_id}_uncal.jpg" in files and f"{obs_id}_uncal_thumb.jpg" in files


def test_manifests_describe_planned_and_other_missions(demo: DemoSummary) -> None:
    manifests = {p.name: json.loads((demo.out_dir / p).read_text()) for p in demo.manifests}
    assert set(manifests) == {"planned.skyarchive.json", "hst.skyarchive.json",
                              "spitzer.skyarchive.json"}  # fmt: skip
    planned = manifests["planned.skyarchive.json"]
    assert planned["skyarchive_manifest"] == 1
    obs_ids = [o["obs_id"] for o in planned["observations"]]
    assert obs_ids == demo.planned_obs
    assert "jw01558003001_xx101_00001_miri" in obs_ids
    assert {o["proposal_id"] for o in planned["observations"]} == {"1558", "4567"}
    for obs in planned["observations"]:
        assert obs["status"] == "planned" and obs["calib_level"] == -1 and obs["products"] == []
        assert obs["t_min"] is None and obs["provenance_name"] == "APT"
    others = manifests["hst.skyarchive.json"]["observations"]
    others += manifests["spitzer.skyarchive.json"]["observations"]
    assert [o["obs_id"] for o in others] == demo.other_mission_obs
    for obs in others:
        assert obs["status"] == "executed" and obs["products"]
        assert obs["s_region"].startswith("POLYGON ") and "t_obs_release" in obs
        for product in obs["products"]:
            with fits.open(demo.out_dir / product["file"]) as hdul:
                assert any("S_REGION" in h.header for h in hdul)


def test_program_facts(demo: DemoSummary) -> None:
    jwst = {k: v for k, v in demo.programs.items() if v.obs_collection == "JWST"}
    assert set(jwst) == {"1073", "1558", "1539", "1366", "4567"}
    assert [k for k, v in demo.programs.items() if v.exclusive] == ["4567"]
    # its exclusive access ends about a year after the build, whenever the demo is built
    release = demo.programs["4567"].release_date
    assert release is not None
    after_build = release - datetime.combine(demo.built, time())
    assert timedelta(days=300) < after_build < timedelta(days=366)
    assert demo.programs["1558"].pi_name == "Wesson, Roger"
    assert demo.programs["1073"].category == "COM"


def test_scale_adds_programs_with_new_ids(demo: DemoSummary, tmp_path: Path) -> None:
    summary = generate(tmp_path / "scaled", seed=3, scale=2)
    jwst = [k for k, v in summary.programs.items() if v.obs_collection == "JWST"]
    assert len(jwst) == 10 and len(set(jwst)) == 10
    copies = [k for k in jwst if k.startswith("9")]
    assert len(copies) == 5 and all(len(k) == 5 for k in copies)
    assert len(summary.exposure_obs) == 2 * len(demo.exposure_obs)
    directories = {p.parts[1] for p in summary.files if p.parts[0] == "jwst"}
    assert directories == {f"jw{int(k):05d}" for k in jwst}
    with pytest.raises(ValueError):
        generate(tmp_path / "bad", scale=0)


@pytest.mark.parametrize("built", [date(2026, 12, 3), date(2027, 11, 1), date(2031, 3, 15)])
def test_the_exclusive_program_is_recent_whenever_the_demo_is_built(built: date) -> None:
    """No time bomb: a demo built in any year has a program still in its exclusive access."""
    recipes = {recipe.proposal_id: recipe for recipe in base_programs(built)}
    (observed,) = (obs.start for obs in recipes[4567].observations)
    assert built - timedelta(days=31) < observed.date() < built
    assert recipes[4567].eap_months == 12
    assert recipes[4567].cycle == jwst_cycle(observed.date())
    others = [obs.start for pid, r in recipes.items() if pid != 4567 for obs in r.observations]
    assert max(others) < datetime(2024, 1, 1)  # the imitated public programs keep their dates


def test_jwst_cycles_begin_in_july() -> None:
    days = (date(2022, 7, 1), date(2023, 6, 30), date(2026, 10, 20))
    assert [jwst_cycle(day) for day in days] == [1, 1, 5]
