"""DOIs for data sets through the real server: reserve, landing page, retrieval, search by DOI.

Without a registration agency (the demo archive's settings) DOIs are local drafts; the
DataCite tests start a second server on the same archive with ``datacite_url`` pointing at a
fake DataCite (tests/e2e/fake_datacite.py) started by the test.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import uuid
import zipfile
from html.parser import HTMLParser
from urllib.parse import quote

import httpx
import pytest
from astropy.time import Time
from sqlalchemy import func, select, text

from skyarchive.access import users
from skyarchive.archive import Archive
from skyarchive.config import Settings
from skyarchive.db.tables import dataset_observations, datasets, observations
from skyarchive.ingest.release import set_eap_months
from tests.e2e.callers import EXPECTED, PASSWORD, create_callers, headers_for
from tests.e2e.conftest import LiveServer
from tests.e2e.fake_datacite import FakeDataCite
from tests.e2e.test_access_security import form_csrf, portal_login

PUBLIC_OBS_ID = "jw01073-o001_t001_nircam_clear-f150w"
DRAFT = {
    "title": "NIRCam and MIRI views of the Ring Nebula",
    "creators": ["Lovelace, Ada", "The Ring Nebula Team"],
    "description": "Level-3 images used in Figures 1-3.\n\nThe second paragraph & <b>text</b>.",
    "related": "10.3847/1538-4357/ACE123",
}


@pytest.fixture(scope="module")
def callers(demo_archive):  # type: ignore[no-untyped-def]
    return create_callers(demo_archive.engine, "4567")


@pytest.fixture(scope="module")
def obsids(demo_archive) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    """Executed level-3 observations: public ones (program 1073) and exclusive ones (4567)."""
    with demo_archive.engine.connect() as conn:

        def of(program: str, *levels: int) -> list[int]:
            query = select(observations.c.obsid).where(
                observations.c.proposal_id == program,
                observations.c.status == "executed",
                observations.c.calib_level.in_(levels),
            )
            return sorted(int(o) for o in conn.execute(query).scalars())

        public = conn.scalar(
            select(observations.c.obsid).where(observations.c.obs_id == PUBLIC_OBS_ID)
        )
        eap = of("4567", 3)[:1] + of("4567", 2)[:1]
        assert len(eap) == 2, "the demo has exclusive-access observations of levels 2 and 3"
        return {"public": [int(public)], "eap": eap, "1073": of("1073", 3)}


def _reserve(server: LiveServer, token: str, obsids: list[int], **changes) -> httpx.Response:  # type: ignore[no-untyped-def]
    body = {**DRAFT, "obsids": obsids, **changes}
    return httpx.post(
        f"{server.url}/api/portal/dois", json=body,
        headers={"Authorization": f"token {token}"}, timeout=30,
    )  # fmt: skip


class _DataBlocks(HTMLParser):
    """The text of each ``<script type=...>`` block of a page, by type."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: dict[str, str] = {}
        self._type: str | None = None

    def handle_starttag(self, tag, attrs) -> None:  # type: ignore[no-untyped-def]
        if tag == "script":
            self._type = dict(attrs).get("type")

    def handle_endtag(self, tag) -> None:  # type: ignore[no-untyped-def]
        if tag == "script":
            self._type = None

    def handle_data(self, data) -> None:  # type: ignore[no-untyped-def]
        if self._type:
            self.blocks[self._type] = self.blocks.get(self._type, "") + data


def _blocks(html: str) -> dict[str, str]:
    parser = _DataBlocks()
    parser.feed(html)
    return parser.blocks


def test_a_local_draft_doi_and_its_landing_page(live_server, demo_archive, callers, obsids):  # type: ignore[no-untyped-def]
    chosen = obsids["1073"]
    answer = _reserve(live_server, callers.tokens["other"], chosen)
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["state"] == "draft" and made["agency"] == "local"
    assert re.fullmatch(r"10\.5072/sky-[0-9a-z]{4}-[0-9a-z]{4}", made["doi"])
    assert made["observations"] == len(chosen)
    with demo_archive.engine.connect() as conn:  # stored as given
        stored = conn.execute(
            select(dataset_observations.c.obsid)
            .join(datasets, datasets.c.dataset_id == dataset_observations.c.dataset_id)
            .where(datasets.c.doi == made["doi"])
        ).scalars()
        assert sorted(stored) == chosen

    page = httpx.get(f"{live_server.url}/doi/{made['doi']}")
    assert page.status_code == 200
    html = page.text
    assert DRAFT["title"] in html and "Lovelace, Ada; The Ring Nebula Team" in html
    assert "&lt;b&gt;text&lt;/b&gt;" in html  # the description is text, never markup
    year = Time.now().datetime.year
    citation = (f"Lovelace, Ada; The Ring Nebula Team ({year}). {DRAFT['title']}. skyarchive. "
                f"https://doi.org/{made['doi']}")  # fmt: skip
    assert citation in html
    assert "author = {Lovelace, Ada and The Ring Nebula Team}" in html
    assert f"doi = {{{made['doi']}}}" in html
    assert "a draft of this archive" in html
    assert "are public: anyone may retrieve" in html

    blocks = _blocks(html)
    schema = json.loads(blocks["application/ld+json"])
    assert schema["@type"] == "Dataset" and schema["name"] == DRAFT["title"]
    assert schema["identifier"] == f"https://doi.org/{made['doi']}"
    assert schema["citation"] == "https://doi.org/10.3847/1538-4357/ace123"
    embedded = json.loads(blocks["application/vnd.datacite.datacite+json"])

    exported = httpx.get(f"{live_server.url}/doi/{made['doi']}/datacite.json")
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].startswith("attachment")
    document = exported.json()
    assert document == embedded
    attributes = document["data"]["attributes"]
    assert document["data"]["type"] == "dois" and "event" not in attributes
    assert attributes["doi"] == made["doi"]
    assert attributes["titles"] == [{"title": DRAFT["title"]}]
    assert attributes["creators"][0] == {
        "name": "Lovelace, Ada", "nameType": "Personal", "givenName": "Ada",
        "familyName": "Lovelace",
    }  # fmt: skip
    assert attributes["creators"][1] == {"name": "The Ring Nebula Team"}
    assert attributes["publisher"] == "skyarchive" and attributes["publicationYear"] == year
    assert attributes["types"]["resourceTypeGeneral"] == "Dataset"
    assert attributes["relatedIdentifiers"] == [{
        "relatedIdentifier": "10.3847/1538-4357/ace123", "relatedIdentifierType": "DOI",
        "relationType": "IsSupplementTo",
    }]  # fmt: skip
    assert attributes["url"] == f"{live_server.url}/doi/{made['doi']}"

    # The observations, each linked to a search; and all of them one search away.
    with demo_archive.engine.connect() as conn:
        obs_ids = conn.execute(
            select(observations.c.obs_id).where(observations.c.obsid.in_(chosen))
        ).scalars()
        for obs_id in obs_ids:
            assert f">{obs_id}</a>" in html
    assert f"/search?collection=doi&amp;q={quote(made['doi'], safe='')}" in html

    mine = httpx.get(f"{live_server.url}/api/portal/dois", headers=headers_for(callers, "other"))
    assert made["doi"] in [d["doi"] for d in mine.json()["dois"]]


def test_text_that_would_end_a_data_block_stays_data(live_server, callers, obsids):  # type: ignore[no-untyped-def]
    title = 'M57</script><script>alert("x")</script><!--'
    made = _reserve(live_server, callers.tokens["other"], obsids["public"], title=title).json()
    html = httpx.get(f"{live_server.url}/doi/{made['doi']}").text
    assert "<script>alert" not in html
    assert html.count("<script") == html.count("</script>") == 2  # the two data blocks
    blocks = _blocks(html)
    assert json.loads(blocks["application/ld+json"])["name"] == title
    datacite = json.loads(blocks["application/vnd.datacite.datacite+json"])
    assert datacite["data"]["attributes"]["titles"] == [{"title": title}]


def test_search_by_doi_in_any_spelling_and_the_doiobs_permalink(live_server, callers, obsids):  # type: ignore[no-untyped-def]
    made = _reserve(live_server, callers.tokens["other"], obsids["1073"]).json()
    for spelling in (made["doi"].upper(), f"doi:{made['doi']}", f"https://doi.org/{made['doi']}"):
        found = httpx.post(f"{live_server.url}/api/portal/search",
                           json={"collection": "doi", "text": spelling}, timeout=30)  # fmt: skip
        assert found.status_code == 200, found.text
        result = found.json()
        assert sorted(row["obsid"] for row in result["rows"]) == [str(o) for o in obsids["1073"]]
        assert result["query"]["display"].startswith(f"DOI {made['doi']}: {DRAFT['title']}")
    unknown = httpx.post(f"{live_server.url}/api/portal/search",
                         json={"collection": "doi", "text": "10.5072/sky-none-none"})  # fmt: skip
    assert unknown.status_code == 404 and "No data set with DOI" in unknown.text
    not_a_doi = httpx.post(f"{live_server.url}/api/portal/search",
                           json={"collection": "doi", "text": "M57"})  # fmt: skip
    assert not_a_doi.status_code == 400 and "is not a DOI" in not_a_doi.text

    query = json.dumps({"service": "DOIOBS", "inputText": made["doi"]})
    moved = httpx.get(f"{live_server.url}/portal/Mashup/Clients/Mast/Portal.html",
                      params={"searchQuery": query})  # fmt: skip
    assert moved.status_code == 303
    assert moved.headers["location"].startswith("/search?searchQuery=")


def test_a_data_set_from_the_basket(live_server, demo_archive, obsids):  # type: ignore[no-untyped-def]
    email = f"basket-doi-{uuid.uuid4().hex[:6]}@example.org"
    with demo_archive.engine.begin() as conn:
        users.create_user(conn, email=email, display_name="Basket User", password=PASSWORD)
    with httpx.Client(base_url=live_server.url, timeout=30) as browser:
        assert portal_login(browser, email).status_code in (200, 303)
        header = {"X-CSRF-Token": form_csrf(browser.get("/account").text)}
        added = browser.post("/api/portal/basket/observations", headers=header,
                             json={"obsids": [str(o) for o in obsids["1073"][:2]]})  # fmt: skip
        assert added.status_code == 200, added.text
        without_csrf = browser.post("/api/portal/dois", json={**DRAFT, "source": "basket"})
        assert without_csrf.status_code == 403
        made = browser.post("/api/portal/dois", headers=header,
                            json={**DRAFT, "source": "basket"})  # fmt: skip
        assert made.status_code == 201, made.text
        assert made.json()["observations"] == 2
        assert "Create a DOI" in browser.get("/doi/new?source=basket").text


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"title": " "}, 400, "Give the data set a title"),
        ({"creators": []}, 400, "at least one creator"),
        ({"description": ""}, 400, "Describe the data set"),
        ({"related": "my paper"}, 400, "give its DOI"),
        ({"obsids": []}, 400, "at least one observation"),
        ({"obsids": ["jw01073-o001"]}, 400, "not a Product Group ID"),
        ({"obsids": [987654321987]}, 404, "not in this archive"),
        ({"obsids": list(range(1, 10_002))}, 400, "At most 10000 obsids"),
    ],
)
def test_bad_data_sets_get_a_clear_4xx(live_server, callers, changes, status, message):  # type: ignore[no-untyped-def]
    body = {"obsids": [1], **changes}
    answer = _reserve(live_server, callers.tokens["other"], **body)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]["message"]


def test_reserving_needs_a_signed_in_user(live_server, callers, obsids):  # type: ignore[no-untyped-def]
    for who in ("anonymous", "malformed", "expired", "revoked"):
        answer = httpx.post(f"{live_server.url}/api/portal/dois",
                            json={**DRAFT, "obsids": obsids["public"]},
                            headers=headers_for(callers, who))  # fmt: skip
        assert answer.status_code == 401, (who, answer.text)


def test_unknown_and_malformed_dois_are_4xx_pages(live_server):  # type: ignore[no-untyped-def]
    html = {"Accept": "text/html"}
    missing = httpx.get(f"{live_server.url}/doi/10.5072/sky-zzzz-zzzz", headers=html)
    assert missing.status_code == 404 and "No data set with DOI" in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    bad = httpx.get(f"{live_server.url}/doi/not-a-doi/x", headers=html)
    assert bad.status_code == 400
    for path in ("bundle.zip", "download.sh", "datacite.json"):
        assert httpx.get(f"{live_server.url}/doi/10.5072/sky-zzzz-zzzz/{path}").status_code == 404
    creating = httpx.get(f"{live_server.url}/doi/new?source=search")  # anonymous: log in first
    assert creating.status_code == 303
    assert creating.headers["location"] == "/login?next=%2Fdoi%2Fnew%3Fsource%3Dsearch"


def _zip_names(content: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(content)).namelist()


def test_exclusive_data_in_a_doi_follow_the_access_rule(live_server, callers, obsids):  # type: ignore[no-untyped-def]
    made = _reserve(live_server, callers.tokens["pi"], obsids["eap"]).json()
    base = f"{live_server.url}/doi/{made['doi']}"
    for who, expected in EXPECTED.items():
        answer = httpx.get(f"{base}/bundle.zip?mrp=true", headers=headers_for(callers, who),
                           timeout=60)  # fmt: skip
        assert answer.status_code == expected, (who, answer.text[:200])
        if expected == 200:
            names = _zip_names(answer.content)
            assert any("jw04567" in name for name in names), names
        # The script lists every file; those the caller may not have now ask for a token.
        script = httpx.get(f"{base}/download.sh", headers=headers_for(callers, who))
        assert script.status_code == 200
        flags = {line.split()[-1] for line in script.text.splitlines()
                 if line.startswith("fetch ") and "jw04567" in line}  # fmt: skip
        assert flags == ({"0"} if expected == 200 else {"1"}), who

    page = httpx.get(base).text  # anonymous
    assert "2 of 2 observations are in their exclusive-access period" in page
    assert "Log in with an account the PI authorised" in page
    assert "Nothing in this data set is retrievable by you yet" in page
    assert "bundle.zip" not in page
    pi_page = httpx.get(base, headers=headers_for(callers, "pi")).text
    assert "You may retrieve them now" in pi_page
    assert "bundle.zip?mrp=true" in pi_page and "retrievable by you yet" not in pi_page


def test_the_page_says_when_exclusive_data_turn_public(live_server, demo_archive, callers, obsids):  # type: ignore[no-untyped-def]
    made = _reserve(live_server, callers.tokens["pi"], obsids["eap"] + obsids["public"]).json()
    with demo_archive.engine.connect() as conn:
        release = conn.scalar(
            select(func.max(observations.c.t_obs_release)).where(
                observations.c.obsid.in_(obsids["eap"])
            )
        )
    day = Time(release, format="mjd").to_datetime().strftime("%Y-%m-%d")
    base = f"{live_server.url}/doi/{made['doi']}"
    page = httpx.get(base).text
    assert "2 of 3 observations are in their exclusive-access period" in page
    assert re.search(rf"retrievable by everyone (on|between [0-9-]+ and) {day}", page)

    # An outsider's zip holds the public observation only; the manifest names the others.
    other = headers_for(callers, "other")
    answer = httpx.get(f"{base}/bundle.zip?mrp=true", headers=other, timeout=60)
    assert answer.status_code == 200
    names = _zip_names(answer.content)
    assert any(PUBLIC_OBS_ID in name for name in names)
    assert not any("jw04567" in name for name in names)
    manifest = zipfile.ZipFile(io.BytesIO(answer.content)).read("MANIFEST.HTML").decode()
    assert "jw04567" in manifest and "not authorised" in manifest

    # Once the program turns public, everyone gets its files through the same DOI.
    with demo_archive.engine.begin() as conn:
        set_eap_months(conn, "4567", 0, default_months=12)
    try:
        answer = httpx.get(f"{base}/bundle.zip?mrp=true", timeout=60)
        assert answer.status_code == 200
        assert any("jw04567" in name for name in _zip_names(answer.content))
        assert "All 3 observations are public" in httpx.get(base).text
    finally:
        with demo_archive.engine.begin() as conn:
            set_eap_months(conn, "4567", None, default_months=12)
    assert httpx.get(f"{base}/bundle.zip?mrp=true", headers=other).status_code == 200
    assert "jw04567" not in " ".join(
        _zip_names(httpx.get(f"{base}/bundle.zip?mrp=true", headers=other, timeout=60).content)
    )


# --- with DataCite configured: a fake DataCite server, started here ---------------------------

DATACITE_PASSWORD = "s3cret-datacite-password"


@pytest.fixture(scope="module")
def datacite():  # type: ignore[no-untyped-def]
    with FakeDataCite(user="SKY.ARCHIVE", password=DATACITE_PASSWORD) as fake:
        yield fake


@pytest.fixture(scope="module")
def agency_server(demo_archive, datacite):  # type: ignore[no-untyped-def]
    """A second server on the demo archive, with DataCite configured."""
    settings = Settings(
        home=demo_archive.settings.home, datacite_url=datacite.url,
        datacite_user="SKY.ARCHIVE", datacite_password=DATACITE_PASSWORD, doi_prefix="10.99999",
        doi_publisher="Sky Archive Test",
    )  # fmt: skip
    archive = Archive.open(settings)
    with LiveServer(archive) as server:
        yield server
    archive.engine.dispose()


def test_with_datacite_a_doi_is_reserved_there_as_a_draft_and_published(  # type: ignore[no-untyped-def]
    agency_server, datacite, callers, obsids, caplog
):
    made = _reserve(agency_server, callers.tokens["pi"], obsids["1073"])
    assert made.status_code == 201, made.text
    doi = made.json()["doi"]
    assert doi.startswith("10.99999/") and made.json()["agency"] == "datacite"
    assert made.json()["state"] == "draft"

    request = datacite.requests[-1]
    assert (request.method, request.path) == ("POST", "/dois")
    assert request.auth == ("SKY.ARCHIVE", DATACITE_PASSWORD)
    assert request.content_type == "application/vnd.api+json"
    sent = request.body["data"]
    assert sent["type"] == "dois" and "event" not in sent["attributes"]
    assert sent["attributes"]["doi"] == doi
    assert sent["attributes"]["publisher"] == "Sky Archive Test"
    assert sent["attributes"]["url"] == f"{agency_server.url}/doi/{doi}"
    assert datacite.states[doi] == "draft"

    page = httpx.get(f"{agency_server.url}/doi/{doi}", headers=headers_for(callers, "pi")).text
    assert "reserved at DataCite as a draft" in page
    assert "Publish the DOI" in page
    outsider = httpx.get(f"{agency_server.url}/doi/{doi}", headers=headers_for(callers, "other"))
    assert "Publish the DOI" not in outsider.text

    refused = httpx.post(f"{agency_server.url}/doi/{doi}/publish",
                         headers=headers_for(callers, "other"))  # fmt: skip
    assert refused.status_code == 403
    published = httpx.post(f"{agency_server.url}/doi/{doi}/publish",
                           headers=headers_for(callers, "pi"))  # fmt: skip
    assert published.status_code == 303, published.text
    request = datacite.requests[-1]
    assert (request.method, request.path) == ("PUT", f"/dois/{doi}")
    assert request.body["data"]["attributes"]["event"] == "publish"
    assert datacite.states[doi] == "findable"
    assert 'id="doi-state">findable' in httpx.get(f"{agency_server.url}/doi/{doi}").text
    assert DATACITE_PASSWORD not in caplog.text


def test_datacite_failures_reserve_nothing(agency_server, demo_archive, datacite, callers, obsids):  # type: ignore[no-untyped-def]
    def count() -> int:
        with demo_archive.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(datasets)) or 0)

    before = count()
    datacite.fail_with = 500
    try:
        answer = _reserve(agency_server, callers.tokens["pi"], obsids["public"])
    finally:
        datacite.fail_with = None
    assert answer.status_code == 503 and "DataCite answered HTTP 500" in answer.text
    datacite.refuse_metadata = True
    try:
        answer = _reserve(agency_server, callers.tokens["pi"], obsids["public"])
    finally:
        datacite.refuse_metadata = False
    assert answer.status_code == 400 and "DataCite refused the metadata" in answer.text
    assert count() == before
    assert DATACITE_PASSWORD not in answer.text


def test_a_failed_local_reservation_leaves_no_draft_at_datacite(  # type: ignore[no-untyped-def]
    agency_server, demo_archive, datacite, callers, obsids
):
    # the catalogue refuses the data set's row, as a full disk or a broken database would
    with demo_archive.engine.begin() as conn:
        conn.execute(text(
            "CREATE TRIGGER refuse_data_sets BEFORE INSERT ON datasets "
            "BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
        ))  # fmt: skip
    sent = len(datacite.requests)
    try:
        answer = _reserve(agency_server, callers.tokens["pi"], obsids["public"])
    finally:
        with demo_archive.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_data_sets"))
    assert answer.status_code == 500, answer.text
    assert answer.json()["error"]["status"] == 500  # the one error shape
    assert len(datacite.requests) == sent  # DataCite never heard of it: no orphan draft there
    again = _reserve(agency_server, callers.tokens["pi"], obsids["public"])
    assert again.status_code == 201, again.text
    assert datacite.states[again.json()["doi"]] == "draft"


def test_local_drafts_cannot_be_published(live_server, callers, obsids):  # type: ignore[no-untyped-def]
    made = _reserve(live_server, callers.tokens["pi"], obsids["public"]).json()
    answer = httpx.post(f"{live_server.url}/doi/{made['doi']}/publish",
                        headers=headers_for(callers, "pi"))  # fmt: skip
    assert answer.status_code == 400 and "no registration agency is configured" in answer.text


def test_the_operator_exports_and_records_a_manual_registration(
    live_server, demo_archive, callers, obsids
):  # type: ignore[no-untyped-def]
    made = _reserve(live_server, callers.tokens["other"], obsids["public"]).json()
    home = str(demo_archive.settings.home)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "skyarchive", "--home", home, "doi", *args],
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    listed = cli("list")
    assert listed.returncode == 0 and f"{made['doi']}\tdraft\tlocal\t1\t" in listed.stdout
    exported = json.loads(cli("export", made["doi"].upper()).stdout)
    assert exported["data"]["attributes"]["doi"] == made["doi"]
    assert exported["data"]["attributes"]["titles"] == [{"title": DRAFT["title"]}]
    recorded = cli("set-state", made["doi"], "findable")
    assert recorded.returncode == 0 and recorded.stdout.strip() == f"{made['doi']} is findable."
    page = httpx.get(f"{live_server.url}/doi/{made['doi']}").text
    assert 'id="doi-state">findable' in page and "draft of this archive" not in page
    wrong = cli("set-state", made["doi"], "published")
    assert wrong.returncode == 1 and "give one of draft, registered, findable" in wrong.stderr
