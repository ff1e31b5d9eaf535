"""``/vo/tap/async`` spoken as UWS 1.1 by pyvo and by hand (httpx), against the real server.

The jobs run in this process (what ``skyarchive worker`` does, :func:`run_job`) with a
stand-in executor that answers a VOTable naming the query, so these tests look at the job
protocol alone; tests/e2e/vo/test_tap_async_workers.py runs real queries in real worker
processes.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from astropy.io.votable import parse_single_table

from skyarchive.access.policy import Caller
from skyarchive.archive import Archive
from skyarchive.errors import BadQuery
from skyarchive.vo.tap import TapAnswer
from skyarchive.vo.votables import FieldSpec, results_votable
from tests.e2e.callers import Callers, create_callers, headers_for
from tests.e2e.conftest import LiveServer
from tests.e2e.vo.uws_threads import run_jobs_in_threads

NS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0", "xlink": "http://www.w3.org/1999/xlink"}
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def stand_in(archive: Archive, caller: Caller, adql: str, **options: Any) -> TapAnswer:
    """A VOTable of one row: the query, whom it ran for, and the row limit it was given."""
    if "slow" in adql:
        time.sleep(30)
    if "nonsense" in adql:
        raise BadQuery(f"Cannot parse the ADQL {adql!r}.")
    # the archive's own writer: astropy's C TABLEDATA writer can corrupt the heap of this
    # process, which also runs the server (astropy issue 20419)
    fields = [FieldSpec("adql", "char"), FieldSpec("user_id", "long"), FieldSpec("maxrec", "long")]
    row = (adql, caller.user_id or 0, options["maxrec"])
    return TapAnswer((results_votable(fields, [row]),), "application/x-votable+xml", rows=1)


@pytest.fixture(scope="module")
def server(demo_archive: Archive) -> Iterator[LiveServer]:
    """The server, its queue replaced by a thread per job that runs it as a worker would."""

    with LiveServer(demo_archive) as live:
        run_jobs_in_threads(live, demo_archive, stand_in)
        yield live


@pytest.fixture(scope="module")
def callers(demo_archive: Archive) -> Callers:
    return create_callers(demo_archive.engine, "4567")


def http(server: LiveServer, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=headers or {}, timeout=60)


def submit(client: httpx.Client, **params: str) -> str:
    answer = client.post("/vo/tap/async", data={"LANG": "ADQL", **params})
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(str(client.base_url) + "/vo/tap/async/")
    return location


def job_xml(client: httpx.Client, url: str, **params: str) -> ET.Element:
    answer = client.get(url, params=params)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(answer.content)
    assert root.tag == f"{{{NS['uws']}}}job" and root.get("version") == "1.1"
    return root


def text_of(root: ET.Element, name: str) -> str | None:
    return root.findtext(f"uws:{name}", namespaces=NS)


def test_pyvo_run_async_submits_waits_fetches_and_deletes(
    server: LiveServer, callers: Callers
) -> None:
    import pyvo
    import requests

    session = requests.Session()  # pyvo sends what the session carries: the user's token
    session.headers.update(headers_for(callers, "coi"))
    service = pyvo.dal.TAPService(f"{server.url}/vo/tap", session=session)
    query = "SELECT TOP 3 obs_id FROM ivoa.obscore"
    job = service.submit_job(query, maxrec=3)
    assert job.phase == "PENDING"
    job.run()
    job.wait(timeout=30)
    assert job.phase == "COMPLETED"
    rows = job.fetch_result().to_table()
    assert list(rows["adql"]) == [query]
    assert list(rows["user_id"]) == [callers.user_ids["coi"]]  # the submitter's rights
    assert list(rows["maxrec"]) == [3]
    url = job.url
    job.delete()
    with http(server, headers_for(callers, "coi")) as client:
        assert client.get(url).status_code == 404
    # and the one-call form
    results = service.run_async(query)
    assert list(results.to_table()["adql"]) == [query]


def test_job_resources_follow_uws_1_1(server: LiveServer, callers: Callers) -> None:
    with http(server, headers_for(callers, "pi")) as client:
        url = submit(client, QUERY="SELECT TOP 1 * FROM ivoa.obscore", RUNID="run-7",
                     EXECUTIONDURATION="30")  # fmt: skip
        root = job_xml(client, url)
        assert text_of(root, "phase") == "PENDING" and text_of(root, "runId") == "run-7"
        assert text_of(root, "ownerId") == callers.emails["pi"]
        assert text_of(root, "executionDuration") == "30"
        assert root.find("uws:startTime", NS).get(XSI_NIL) == "true"  # type: ignore[union-attr]
        assert client.get(f"{url}/phase").text == "PENDING"
        assert client.get(f"{url}/owner").text == callers.emails["pi"]
        assert client.get(f"{url}/quote").text.endswith("Z")
        params = ET.fromstring(client.get(f"{url}/parameters").content)
        given = {p.get("id"): p.text for p in params.findall("uws:parameter", NS)}
        assert given == {"lang": "ADQL", "query": "SELECT TOP 1 * FROM ivoa.obscore"}

        # changes while PENDING: each answers 303 to the job
        assert client.post(f"{url}/executionduration",
                           data={"EXECUTIONDURATION": "20"}).status_code == 303  # fmt: skip
        assert client.get(f"{url}/executionduration").text == "20"
        far = {"DESTRUCTION": "2999-01-01T00:00:00Z"}
        assert client.post(f"{url}/destruction", data=far).status_code == 303
        kept_until = client.get(f"{url}/destruction").text
        assert kept_until.startswith(("20", "21")) and not kept_until.startswith("2999")
        assert client.post(f"{url}/parameters", data={"MAXREC": "2"}).status_code == 303
        assert client.get(f"{url}/results").status_code == 200
        assert client.get(f"{url}/results/result").status_code == 404  # not yet

        # run, and block until the phase leaves QUEUED/EXECUTING (UWS 1.1 WAIT)
        assert client.post(f"{url}/phase", data={"PHASE": "RUN"}).status_code == 303
        deadline = time.monotonic() + 30
        while (phase := text_of(job_xml(client, url, WAIT="5"), "phase")) != "COMPLETED":
            assert phase in ("QUEUED", "EXECUTING") and time.monotonic() < deadline
        results = ET.fromstring(client.get(f"{url}/results").content)
        [result] = results.findall("uws:result", NS)
        href = result.get(f"{{{NS['xlink']}}}href")
        assert result.get("id") == "result" and href == f"{url}/results/result"
        table = parse_single_table(io.BytesIO(client.get(href).content)).to_table()
        assert list(table["maxrec"]) == [2]
        assert client.post(f"{url}/parameters", data={"MAXREC": "5"}).status_code == 400

        # the owner's job list holds it; PHASE and LAST filter it
        listed = ET.fromstring(client.get("/vo/tap/async").content)
        refs = {ref.get("id"): ref for ref in listed.findall("uws:jobref", NS)}
        job_id = url.rsplit("/", 1)[1]
        assert refs[job_id].get(f"{{{NS['xlink']}}}href") == url
        assert text_of(refs[job_id], "phase") == "COMPLETED"
        pending = ET.fromstring(client.get("/vo/tap/async", params={"PHASE": "PENDING"}).content)
        assert job_id not in {ref.get("id") for ref in pending.findall("uws:jobref", NS)}

        # ACTION=DELETE: 303 to the job list, then the job is gone
        gone = client.post(url, data={"ACTION": "DELETE"})
        assert gone.status_code == 303 and gone.headers["location"].endswith("/vo/tap/async")
        assert client.get(url).status_code == 404


def test_failed_and_aborted_jobs(server: LiveServer) -> None:
    with http(server) as client:
        url = submit(client, QUERY="SELECT nonsense FROM", PHASE="RUN")
        root = job_xml(client, url, WAIT="20")
        while text_of(root, "phase") in ("QUEUED", "EXECUTING"):
            root = job_xml(client, url, WAIT="20")
        assert text_of(root, "phase") == "ERROR"
        assert "Cannot parse" in (root.findtext("uws:errorSummary/uws:message", namespaces=NS)
                                  or "")  # fmt: skip
        error = client.get(f"{url}/error")
        assert error.status_code == 200
        assert b'name="QUERY_STATUS" value="ERROR"' in error.content
        assert b"Cannot parse" in error.content

        slow = submit(client, QUERY="SELECT slow FROM ivoa.obscore", PHASE="RUN")
        deadline = time.monotonic() + 20
        while client.get(f"{slow}/phase").text != "EXECUTING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.post(slow, data={"PHASE": "ABORT"}).status_code == 303
        assert client.get(f"{slow}/phase").text == "ABORTED"
        assert client.get(f"{slow}/results/result").status_code == 404
        assert client.delete(slow).status_code == 303
        assert client.get(f"{slow}/phase").status_code == 404


def test_another_users_job_is_refused(server: LiveServer, callers: Callers) -> None:
    with http(server, headers_for(callers, "pi")) as owner:
        url = submit(owner, QUERY="SELECT TOP 1 * FROM ivoa.obscore")
    expected = {"anonymous": 401, "malformed": 401, "expired": 401, "revoked": 401,
                "other": 403, "coi": 403, "pi": 200, "admin": 200}  # fmt: skip
    for who, status in expected.items():
        with http(server, headers_for(callers, who)) as client:
            for path in ("", "/phase", "/parameters", "/results", "/owner"):
                assert client.get(url + path).status_code == status, (who, path)
            if status != 200:
                assert client.post(url, data={"PHASE": "RUN"}).status_code == status
                assert client.delete(url).status_code == status
                listed = ET.fromstring(client.get("/vo/tap/async").content)
                assert url.rsplit("/", 1)[1] not in {r.get("id") for r in listed}
    # an anonymous job is anyone's who holds its URL, and listed to nobody
    with http(server) as anonymous:
        mine = submit(anonymous, QUERY="SELECT 1")
        assert ET.fromstring(anonymous.get("/vo/tap/async").content).findall("uws:jobref", NS) == []
    with http(server, headers_for(callers, "other")) as someone:
        assert someone.get(f"{mine}/phase").text == "PENDING"


@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [
        ("post", "", {"QUERY": "SELECT 1", "EXECUTIONDURATION": "soon"}, 400),
        ("post", "", {"QUERY": "SELECT 1", "PHASE": "ABORT"}, 400),
        ("post", "", {"QUERY": "SELECT 1", "DESTRUCTION": "tomorrow"}, 400),
        ("get", "/no-such-job", {}, 404),
        ("get", "/no-such-job/results/result", {}, 404),
        ("get", "", {"PHASE": "RUNNING"}, 200),  # anonymous: an empty list, nothing to filter
    ],
)
def test_bad_requests_get_a_clear_4xx(server: LiveServer, method: str, path: str,
                                      data: dict[str, str], status: int) -> None:  # fmt: skip
    with http(server) as client:
        if method == "post":
            answer = client.post(f"/vo/tap/async{path}", data=data)
        else:
            answer = client.get(f"/vo/tap/async{path}", params=data)
        assert answer.status_code == status, answer.text
        if status >= 400:
            assert answer.content.strip()


def test_bad_wait_and_actions(server: LiveServer) -> None:
    with http(server) as client:
        url = submit(client, QUERY="SELECT 1")
        assert client.get(url, params={"WAIT": "soon"}).status_code == 400
        assert client.post(url, data={"PHASE": "SUSPEND"}).status_code == 400
        assert client.post(url, data={"ACTION": "ARCHIVE"}).status_code == 400
        started = time.monotonic()
        assert text_of(job_xml(client, url, WAIT="1"), "phase") == "PENDING"
        assert time.monotonic() - started >= 0.9  # a PENDING job blocks for the whole WAIT
