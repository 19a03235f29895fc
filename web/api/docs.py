"""Browsable API docs (Swagger UI, from the swagger-ui-py package: no CDN, nothing inline, so the page
runs under the desk's Content-Security-Policy), and problem answers for any other /api/v1 address.

The OpenAPI description itself (``/api/v1/openapi.json``) is served by flask-smorest from the code.
"""

from __future__ import annotations

from importlib.resources import files

from flask import Blueprint, current_app, render_template_string, request, send_from_directory, url_for
from werkzeug.exceptions import HTTPException

from . import problems
from .base import PREFIX
from .problems import Problem

blueprint = Blueprint("api_docs", __name__, url_prefix=PREFIX)
problems.install(blueprint)

SWAGGER_UI = files("swagger_ui") / "static"
# What the page loads from the package; nothing else there is served. The desk's own look around it (the
# top bar, the type, the favicon) comes from web/static, like every page's.
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js")

PAGE = """<!doctype html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>REST API · Support desk</title>
  <link rel="icon" href="{{ url_for('static', filename='favicon.svg') }}" type="image/svg+xml">
  <link rel="icon" href="{{ url_for('static', filename='favicon.ico') }}" sizes="32x32">
  <link rel="stylesheet" href="{{ url_for('api_docs.asset', filename='swagger-ui.css') }}">
  <link rel="stylesheet" href="{{ url_for('static', filename='api-docs.css') }}">
</head>
<body class="api-docs">
  <header class="docs-top">
    <a class="brand" href="{{ url_for('home') }}">Support desk</a>
    <span>REST API</span>
  </header>
  <main>
    <p class="docs-intro">The OpenAPI 3.1 description of this API: <a href="{{ spec_url }}">{{ spec_url }}</a>.
       Authorize with a personal API token (<code>supportdesk users token create USERNAME --name ...</code>).</p>
    <div id="swagger-ui" data-spec-url="{{ spec_url }}"></div>
  </main>
  <script src="{{ url_for('api_docs.asset', filename='swagger-ui-bundle.js') }}"></script>
  <script src="{{ url_for('api_docs.start_script') }}"></script>
</body>
</html>
"""

START_SCRIPT = """"use strict";
// Starts Swagger UI on the page's #swagger-ui, reading the description's address from the element.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: root.dataset.specUrl, dom_id: "#swagger-ui", deepLinking: true });
});
"""


@blueprint.route("/docs")
def page():
    return render_template_string(PAGE, spec_url=url_for("api-docs.openapi_json"))


@blueprint.route("/docs/assets/<filename>")
def asset(filename: str):
    if filename not in ASSETS:
        raise Problem("not-found", f"There is no docs asset {filename!r}.")
    return send_from_directory(str(SWAGGER_UI), filename, max_age=3600)


@blueprint.route("/docs/start.js")
def start_script():
    return current_app.response_class(START_SCRIPT, mimetype="text/javascript")


CATCH_ALL = "api_docs.unknown"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@blueprint.route("/<path:rest>", methods=[*METHODS])
def unknown(rest: str):
    """No API endpoint here (404), or not with this method (405): a problem either way, not a web page."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in METHODS:
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != CATCH_ALL:
            allowed.append(method)
    if allowed:
        raise Problem(
            "method-not-allowed",
            f"{request.method} is not allowed here; use {', '.join(allowed)}.",
            headers={"Allow": ", ".join(allowed)},
        )
    raise Problem("not-found", f"There is no API endpoint {request.path}.")
