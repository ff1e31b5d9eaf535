"""The interactive API documentation (Swagger UI) at ``/api/docs``, served whole from our origin.

The Swagger UI files come from the ``swagger-ui-py`` package (Swagger UI 5, which reads the
OpenAPI 3.1 that FastAPI writes) and are served under ``/api/docs/assets``; the page's own
start-up script is a static file of the portal, so the page works offline and needs no
inline script.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/api/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"


def swagger_ui_dir() -> Path:
    """Where the installed Swagger UI files are (found without importing the package)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed: pip install 'swagger-ui-py>=25.7,<26'")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def install(app: FastAPI) -> None:
    """Serve the documentation page and its assets; ``app`` must not use FastAPI's docs."""
    page = _PAGE.format(title=app.title, assets=ASSETS_PATH, openapi=app.openapi_url)

    def api_docs() -> HTMLResponse:
        return HTMLResponse(page)

    app.add_api_route(DOCS_PATH, api_docs, include_in_schema=False, response_class=HTMLResponse)
    app.mount(ASSETS_PATH, StaticFiles(directory=swagger_ui_dir()), name="api-docs-assets")


_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} API</title>
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{openapi}"></div>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script src="/static/api-docs.js"></script>
</body>
</html>
"""
