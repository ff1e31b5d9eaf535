"""JWST file-name rules, checked on names seen in the real archive."""

from __future__ import annotations

import pytest

from skyarchive.errors import IngestError
from skyarchive.products.naming import Kind, exposure_obs_id_of, parse_filename
from skyarchive.products.rules import MRP, product_rule


@pytest.mark.parametrize(
    ("filename", "kind", "program", "obs_id", "suffix"),
    [
        ("jw02733002001_02101_00001_mirimage_cal.fits", Kind.EXPOSURE, "2733",
         "jw02733002001_02101_00001_mirimage", "cal"),
        ("jw01366001001_04101_00001-seg001_nis_rateints.fits", Kind.EXPOSURE, "1366",
         "jw01366001001_04101_00001-seg001_nis", "rateints"),
        ("jw01541005001_0210l_00001_nis_rateints.fits", Kind.EXPOSURE, "1541",
         "jw01541005001_0210l_00001_nis", "rateints"),
        ("jw02733002001_02103_00001_mirimage_o002_crf.fits", Kind.EXPOSURE, "2733",
         "jw02733002001_02103_00001_mirimage", "crf"),
        ("jw01063107001_02101_00013_nrca3_cal_thumb.jpg", Kind.EXPOSURE, "1063",
         "jw01063107001_02101_00013_nrca3", "cal"),
        ("jw02733-o001_t001_nircam_clear-f090w_i2d.fits", Kind.LEVEL3, "2733",
         "jw02733-o001_t001_nircam_clear-f090w", "i2d"),
        ("jw01366-o001_t001_niriss_clear-gr700xd-substrip256_whtlt.ecsv", Kind.LEVEL3, "1366",
         "jw01366-o001_t001_niriss_clear-gr700xd-substrip256", "whtlt"),
        ("jw01386-c1023_t001_niriss_f380m-nrm-sub80_aminorm-oi.fits", Kind.LEVEL3, "1386",
         "jw01386-c1023_t001_niriss_f380m-nrm-sub80", "aminorm-oi"),
        ("jw01538-o161_s000000001_nirspec_f290lp-g395h-s1600a1_s2d.fits", Kind.LEVEL3, "1538",
         "jw01538-o161_s000000001_nirspec_f290lp-g395h-s1600a1", "s2d"),
        ("jw02733-o002_20260726t151748_image2_00064_asn.json", Kind.ASN, "2733", None, "asn"),
        ("jw01063-o107_20220328t013707_image2_144_asn.json", Kind.ASN, "1063", None, "asn"),
        ("jw02733_20260726t151748_pool.csv", Kind.POOL, "2733", None, "pool"),
        ("jw02734002001_gs-track_2022172034940_uncal.fits", Kind.GUIDESTAR, "2734", None,
         "gs-track"),
        ("jw01029001001_gs-id_1_image-uncal.fits", Kind.GUIDESTAR, "1029", None, "gs-id"),
        ("jw01180025001_01_msa.fits", Kind.MSA, "1180", None, "msa"),
    ],
)  # fmt: skip
def test_real_names_are_classified(filename, kind, program, obs_id, suffix) -> None:
    parsed = parse_filename(filename)
    assert (parsed.kind, parsed.program, parsed.obs_id, parsed.suffix) == (
        kind,
        program,
        obs_id,
        suffix,
    )


@pytest.mark.parametrize(
    "filename",
    ["notes.txt", "jw1073_cal.fits", "jw02733-o001_t001_nircam_clear-f090w_bogus.fits",
     "../jw02733002001_02101_00001_mirimage_cal.fits", "README"],
)  # fmt: skip
def test_names_outside_the_rules_are_refused_with_a_reason(filename: str) -> None:
    with pytest.raises(IngestError, match="name|suffix|extension|bare"):
        parse_filename(filename)


def test_association_members_name_their_exposure() -> None:
    assert exposure_obs_id_of("jw01558001001_02101_00001_mirimage_rate.fits") == (
        "jw01558001001_02101_00001_mirimage"
    )
    assert exposure_obs_id_of("something.fits") is None


def test_product_rules() -> None:
    cal = product_rule(parse_filename("jw02733002001_02101_00001_mirimage_cal.fits"))
    assert (cal.productType, cal.productSubGroupDescription, cal.calib_level, cal.mrp) == (
        "SCIENCE", "CAL", 2, True,
    )  # fmt: skip
    uncal = product_rule(parse_filename("jw02733002001_02101_00001_mirimage_uncal.fits"))
    assert (uncal.calib_level, uncal.mrp) == (1, False)
    i2d = product_rule(parse_filename("jw02733-o001_t001_nircam_clear-f090w_i2d.fits"))
    assert (i2d.calib_level, i2d.mrp) == (3, True)
    thumb = product_rule(parse_filename("jw02733-o001_t001_nircam_clear-f090w_i2d_thumb.jpg"))
    assert (thumb.productType, thumb.mrp) == ("PREVIEW", False)
    asn3 = product_rule(parse_filename("jw02733-o001_20260726t151748_image3_00002_asn.json"))
    asn2 = product_rule(parse_filename("jw02733-o002_20260726t151748_image2_00064_asn.json"))
    assert (asn3.productType, asn3.calib_level, asn3.mrp, asn3.type) == ("INFO", 3, True, "D")
    assert (asn2.calib_level, asn2.mrp) == (2, False)
    track = product_rule(parse_filename("jw02734002001_gs-track_2022172034940_cal.fits"))
    assert (track.productType, track.calib_level, track.mrp) == ("AUXILIARY", 2, False)
    assert MRP == "Minimum Recommended Products"
