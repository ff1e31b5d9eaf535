"""Name resolution: archive targets, the offline OpenNGC catalogue, and the opt-in Sesame client."""

from __future__ import annotations

import math
import time

import pytest

from skyarchive.errors import BadQuery, NotFound
from skyarchive.sky.resolver import (
    ArchiveTargetResolver,
    OpenNgcResolver,
    Resolved,
    ResolverChain,
    SesameResolver,
    StaticResolver,
    archive_lookup_from_mapping,
    default_chain,
    normalise_name,
    parse_sesame,
)

# Literature positions (ICRS), written out in sexagesimal and converted here.
M57 = (15 * (18 + 53 / 60 + 35.08 / 3600), 33 + 1 / 60 + 45.0 / 3600)  # 18h53m35.08s +33d01m45.0s
M31 = (15 * (0 + 42 / 60 + 44.33 / 3600), 41 + 16 / 60 + 7.5 / 3600)  # 00h42m44.33s +41d16m07.5s
ARCSEC = 1 / 3600


def separation(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Angular distance in degrees (haversine)."""
    ra1, dec1, ra2, dec2 = map(math.radians, (*a, *b))
    h = (
        math.sin((dec2 - dec1) / 2) ** 2
        + math.cos(dec1) * math.cos(dec2) * math.sin((ra2 - ra1) / 2) ** 2
    )
    return math.degrees(2 * math.asin(math.sqrt(h)))


@pytest.fixture(scope="module")
def chain() -> ResolverChain:
    return default_chain()


# --- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("M57", "m57"),
        ("m 57", "m57"),
        ("Messier 57", "m57"),
        ("MESSIER 057", "m57"),
        ("NGC 0224", "ngc224"),
        ("NGC224", "ngc224"),
        ("ngc_6720", "ngc6720"),
        ("IC-434", "ic434"),
        ("Ring Nebula", "ringnebula"),
        ("Bode's Galaxy", "bodesgalaxy"),
        ("ESO 056-115", "eso56-115"),
        ("NGC 6720.05", "ngc6720.05"),
        ("  Crab   Nebula ", "crabnebula"),
    ],
)
def test_normalise_name(name: str, key: str) -> None:
    assert normalise_name(name) == key
    assert normalise_name(key) == key  # idempotent


def test_numbers_either_side_of_a_hyphen_stay_apart() -> None:
    assert normalise_name("ESO 56-115") != normalise_name("ESO 561-15")


# --- OpenNGC, offline -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "M57",
        "m 57",
        "M 57",
        "m57",
        "Messier 57",
        "NGC 6720",
        "NGC6720",
        "ngc 6720",
        "NGC 06720",
        "Ring Nebula",
        "ring nebula",
    ],
)
def test_m57_spellings_resolve_to_the_ring_nebula(chain: ResolverChain, name: str) -> None:
    hit = chain.resolve(name)
    assert separation((hit.ra, hit.dec), M57) < 5 * ARCSEC
    assert hit.canonical_name == "MESSIER 057"
    assert hit.resolver == "OPENNGC"
    assert hit.object_type == "PN"
    assert hit.search_string == name


@pytest.mark.parametrize("name", ["M31", "M 31", "Andromeda Galaxy", "NGC 224", "NGC 0224"])
def test_andromeda(chain: ResolverChain, name: str) -> None:
    hit = chain.resolve(name)
    assert separation((hit.ra, hit.dec), M31) < 5 * ARCSEC
    assert hit.canonical_name == "MESSIER 031"


def test_ic_object(chain: ResolverChain) -> None:
    hit = chain.resolve("IC 434")
    assert hit.canonical_name == "IC 434"
    # An extended HII region (05h41m, -02d27m): a loose check on the catalogue centre.
    assert separation((hit.ra, hit.dec), (85.25, -2.45)) < 0.05


@pytest.mark.parametrize(
    ("name", "canonical", "ra", "dec"),
    [
        ("Crab Nebula", "MESSIER 001", 83.633, 22.014),
        ("Orion Nebula", "MESSIER 042", 83.819, -5.390),
        ("Pleiades", "MESSIER 045", 56.87, 24.11),  # not an NGC object
        ("NGC 4565", "NGC 4565", 189.087, 25.988),
        ("IC 11", "NGC 281", 13.25, 56.62),  # an OpenNGC duplicate record points at its object
    ],
)
def test_other_objects(
    chain: ResolverChain, name: str, canonical: str, ra: float, dec: float
) -> None:
    hit = chain.resolve(name)
    assert hit.canonical_name == canonical
    assert separation((hit.ra, hit.dec), (ra, dec)) < 0.05


def test_catalogue_index_is_quick_and_cached() -> None:
    resolver = OpenNgcResolver()
    start = time.perf_counter()
    resolver.resolve("M57")
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(1000):
        resolver.resolve("Ring Nebula")
    assert time.perf_counter() - start < 0.5
    assert first < 2.0  # about 0.3 s when built, ~0 when another test built it already


def test_unknown_name_is_not_in_the_catalogue() -> None:
    assert OpenNgcResolver().resolve("No Such Object 12345") is None


# --- the chain --------------------------------------------------------------------------------


def test_unknown_name_raises_not_found_with_a_way_out(chain: ResolverChain) -> None:
    with pytest.raises(NotFound) as caught:
        chain.resolve("Planet Zorgon")
    message = str(caught.value)
    assert "Could not resolve 'Planet Zorgon' to a sky position." in message
    assert "283.396 33.029" in message
    assert "Messier/NGC/IC" in message


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_name_is_a_bad_query(chain: ResolverChain, name: str) -> None:
    with pytest.raises(BadQuery):
        chain.resolve(name)
    with pytest.raises(BadQuery):
        chain.resolve_all(name)


def test_archive_target_wins_over_openngc() -> None:
    archive = ArchiveTargetResolver.from_mapping({"NGC 6720": (283.40, 33.03)})
    chain = ResolverChain([archive, OpenNgcResolver()])
    hit = chain.resolve("ngc6720")
    assert hit == Resolved("ngc6720", "NGC 6720", 283.40, 33.03, "ARCHIVE")


def test_archive_lookup_is_given_the_normalised_name() -> None:
    asked: list[str] = []

    def lookup(key: str) -> tuple[float, float, str] | None:
        asked.append(key)
        return (1.0, 2.0, "WASP-39") if key == "wasp39" else None

    chain = default_chain(archive_lookup=lookup)
    assert chain.resolve("WASP 39").resolver == "ARCHIVE"
    assert chain.resolve("M57").resolver == "OPENNGC"
    assert asked == ["wasp39", "m57"]


def test_resolve_all_reports_every_resolver_that_knows_the_name() -> None:
    archive = ArchiveTargetResolver(archive_lookup_from_mapping({"M57": (283.4, 33.0)}))
    chain = ResolverChain([archive, OpenNgcResolver()])
    hits = chain.resolve_all("Messier 57")
    assert [hit.resolver for hit in hits] == ["ARCHIVE", "OPENNGC"]
    assert chain.resolve_all("Planet Zorgon") == []


def test_static_resolver_fake() -> None:
    fake = StaticResolver({"Target A": (10.0, -5.0), "B": (1.0, 2.0, "Object B")})
    chain = ResolverChain([fake])
    assert chain.resolve("target_a") == Resolved("target_a", "Target A", 10.0, -5.0, "STATIC")
    assert chain.resolve("b").canonical_name == "Object B"
    assert fake.calls == ["target_a", "b"]
    with pytest.raises(NotFound):
        chain.resolve("C")


# --- Sesame: online, and off unless asked ------------------------------------------------------

SESAME_ANSWER = """\
# M57\t#Q12345
#=S=Simbad (via url):    1
%@ 1234567
%I.0 M  57
%C.0 PN
%J 283.39620000 +33.02913333 = 18:53:35.08 +33:01:44.8
%I NGC 6720
#=N=NED: 1
%J 283.3962 +33.0292
"""


class FakeFetch:
    def __init__(self, answer: str | Exception) -> None:
        self.answer = answer
        self.urls: list[str] = []

    def __call__(self, url: str, timeout: float) -> str:
        self.urls.append(url)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_default_chain_is_offline() -> None:
    names = [resolver.name for resolver in default_chain().resolvers]
    assert names == ["OPENNGC"]
    assert "SESAME" in [resolver.name for resolver in default_chain(online=True).resolvers]


def test_sesame_is_disabled_by_default_and_never_called() -> None:
    fetch = FakeFetch(SESAME_ANSWER)
    sesame = SesameResolver(fetch=fetch)
    assert sesame.resolve("M57") is None
    with pytest.raises(NotFound):
        ResolverChain([sesame]).resolve("M57")
    assert fetch.urls == []


def test_sesame_when_enabled_parses_the_answer() -> None:
    fetch = FakeFetch(SESAME_ANSWER)
    hit = SesameResolver(enabled=True, fetch=fetch).resolve("Ring Nebula")
    assert hit == Resolved("Ring Nebula", "M 57", 283.3962, 33.02913333, "SESAME", "PN")
    assert fetch.urls == ["https://cds.unistra.fr/cgi-bin/nph-sesame/-oI/SNV?Ring%20Nebula"]


def test_sesame_network_failure_is_not_found(caplog: pytest.LogCaptureFixture) -> None:
    sesame = SesameResolver(enabled=True, fetch=FakeFetch(TimeoutError("timed out")))
    assert sesame.resolve("M57") is None
    assert "Sesame lookup of 'M57' failed" in caplog.text


def test_sesame_answer_without_a_position() -> None:
    assert parse_sesame("# Zorgon\t#Q1\n#! *** Nothing found *** \n") is None
