"""A fake DataCite REST API on a free local port (no network in tests).

It keeps what DataCite's ``/dois`` endpoints do that the archive relies on: HTTP basic
authentication, JSON:API documents, ``POST /dois`` creating a DOI (a draft without an
``event``, findable with ``event: publish``), ``PUT /dois/<doi>`` moving it on, 422 with
``errors`` for refused metadata. Every request is recorded for the test to read.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_EVENTS = {None: "draft", "register": "registered", "publish": "findable", "hide": "registered"}
_REQUIRED = ("doi", "creators", "titles", "publisher", "publicationYear", "types")


@dataclass
class Recorded:
    method: str
    path: str
    auth: tuple[str, str] | None
    content_type: str
    body: Any


class FakeDataCite:
    def __init__(self, *, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.requests: list[Recorded] = []
        self.states: dict[str, str] = {}
        self.fail_with: int | None = None
        self.refuse_metadata = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                fake.answer(self)

            def do_PUT(self) -> None:  # noqa: N802
                fake.answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeDataCite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        auth = None
        scheme, _, encoded = (handler.headers.get("Authorization") or "").partition(" ")
        if scheme == "Basic":
            user, _, password = base64.b64decode(encoded).decode().partition(":")
            auth = (user, password)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        self.requests.append(Recorded(handler.command, handler.path, auth,
                                      handler.headers.get("Content-Type", ""), body))  # fmt: skip
        if auth != (self.user, self.password):
            refusal = {"errors": [{"status": "401", "title": "Bad credentials."}]}
            return self._send(handler, 401, refusal)
        if self.fail_with:
            return self._send(handler, self.fail_with, {"errors": [{"title": "Broken."}]})
        attributes = ((body or {}).get("data") or {}).get("attributes") or {}
        missing = [name for name in _REQUIRED if not attributes.get(name)]
        if self.refuse_metadata or missing or (body or {}).get("data", {}).get("type") != "dois":
            errors = [{"source": name, "title": "can't be blank"} for name in missing or ["titles"]]
            return self._send(handler, 422, {"errors": errors})
        doi = attributes["doi"]
        if handler.command == "POST" and handler.path == "/dois":
            status = 201
        elif handler.command == "PUT" and handler.path == f"/dois/{doi}" and doi in self.states:
            status = 200
        else:
            return self._send(handler, 404, {"errors": [{"title": "Not found."}]})
        self.states[doi] = _EVENTS.get(attributes.get("event"), "draft")
        answer = {"data": {"id": doi, "type": "dois",
                           "attributes": {**attributes, "state": self.states[doi]}}}  # fmt: skip
        return self._send(handler, status, answer)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, document: dict) -> None:  # type: ignore[type-arg]
        data = json.dumps(document).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/vnd.api+json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
