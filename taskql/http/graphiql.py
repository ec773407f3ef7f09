"""GraphiQL served from taskql's own origin: the page, its Content-Security-Policy, its assets."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

STATIC_DIR = Path(__file__).parents[1] / "static" / "graphiql"
MANIFEST = STATIC_DIR / "VERSIONS.json"
GRAPHQL_PATH = "/graphql"
STATIC_PATH = "/graphql/static"
PLACEHOLDER = "Bearer <token>"
TOKEN_HINT = "taskql token --sub <id>"  # noqa: S105 - a command to run, not a credential

# Order matters: GraphiQL's UMD bundle reads the React globals, our bootstrap reads GraphiQL and
# graphqlWs (the graphql-ws client, for subscriptions).
SCRIPTS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphql-ws.min.js",
)
STYLES = ("graphiql.min.css",)
OWN_SCRIPT, OWN_STYLE = "taskql-graphiql.js", "taskql-graphiql.css"

# GraphiQL's dialogs (Radix, through react-remove-scroll-bar) insert one <style> while open. Its
# text varies only with the scrollbar width and body margins, which taskql-graphiql.css pins to
# zero, so the policy admits exactly that text by hash; the browser test opens a dialog to check.
SCROLL_LOCK_STYLE_HASH = "'sha256-nzTgYzXYDNe6BAHiiI7NNlfK8n/auuOAhh2t92YvuXo='"
# A Host header that is a CSP host-source as it stands: a DNS name or IPv4 address and a port.
# Anything else (an IPv6 literal, which CSP cannot name, or an injected ";") names no socket.
_CSP_HOST = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?")


def graphiql_csp(host: str | None = None) -> str:
    """The page's policy. Fonts and icons in graphiql.min.css are data: URIs; everything else
    comes from this origin, subscriptions from its WebSocket twin on `host` (the request's Host).

    CSP Level 3 lets 'self' match ws: and wss: on the same host, but older browsers do not
    (Safari before 16), so the socket's origin is named. Both schemes: behind a proxy that ends
    TLS the app sees http, and a browser never opens ws: from an https page (mixed content).
    """
    host = (host or "").strip().lower()
    sockets = f" ws://{host} wss://{host}" if _CSP_HOST.fullmatch(host) else ""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            f"style-src 'self' {SCROLL_LOCK_STYLE_HASH}",
            f"connect-src 'self'{sockets}",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


GRAPHIQL_CSP = graphiql_csp()  # the policy for a request without a usable Host
PAGE_HEADERS = {
    "Content-Security-Policy": GRAPHIQL_CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
# Asset URLs carry a content hash, so a browser may keep them for a year.
ASSET_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
}


@dataclass(frozen=True)
class Asset:
    url: str
    integrity: str


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@cache
def assets() -> dict[str, Asset]:
    """Every file the page loads. Vendored files use the integrity recorded when they were fetched
    from npm, so a file changed on disk is refused by the browser instead of run."""
    recorded = {
        name: str(entry["integrity"])
        for package in json.loads(MANIFEST.read_text())["packages"]
        for name, entry in package["files"].items()
    }
    found: dict[str, Asset] = {}
    for name in (*SCRIPTS, *STYLES, OWN_SCRIPT, OWN_STYLE):
        data = (STATIC_DIR / name).read_bytes()
        version = hashlib.sha256(data).hexdigest()[:16]
        found[name] = Asset(f"{STATIC_PATH}/{name}?v={version}", recorded.get(name, sri(data)))
    return found


def _config(*, development: bool, persist_headers: bool) -> str:
    hint = f"# Get a development token with:  {TOKEN_HINT}\n" if development else ""
    config = {
        "url": GRAPHQL_PATH,
        "placeholder": PLACEHOLDER,
        "headers": json.dumps({"Authorization": PLACEHOLDER}, indent=2),
        "query": (
            "# Put a JWT in place of <token> in the Headers tab below.\n"
            f"{hint}\n{{\n  me {{\n    id\n  }}\n}}\n"
        ),
        "persistHeaders": persist_headers,
        "tokenHint": TOKEN_HINT if development else None,
    }
    # A JSON data block is never executed; escaping "<" keeps "</script>" from ending it early.
    return json.dumps(config).replace("<", "\\u003c")


def _tag(name: str) -> str:
    asset = assets()[name]
    url, integrity = html.escape(asset.url), html.escape(asset.integrity)
    if name.endswith(".css"):
        return f'<link rel="stylesheet" href="{url}" integrity="{integrity}">'
    return f'<script src="{url}" integrity="{integrity}"></script>'


@cache
def graphiql_html(*, development: bool, persist_headers: bool) -> str:
    styles = "\n    ".join(_tag(name) for name in (*STYLES, OWN_STYLE))
    scripts = "\n    ".join(_tag(name) for name in (*SCRIPTS, OWN_SCRIPT))
    config = _config(development=development, persist_headers=persist_headers)
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>taskql · GraphiQL</title>
    <link rel="icon" href="data:,">
    {styles}
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script type="application/json" id="taskql-graphiql-config">{config}</script>
    {scripts}
  </body>
</html>
"""


class GraphiQLPage(HTMLResponse):
    """The page, its policy naming the WebSocket origin of the host the request was sent to."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Set as it is sent: the router builds the response without handing over the request.
        self.headers["Content-Security-Policy"] = graphiql_csp(Headers(scope=scope).get("host"))
        await super().__call__(scope, receive, send)


def graphiql_response(*, development: bool, persist_headers: bool) -> HTMLResponse:
    page = graphiql_html(development=development, persist_headers=persist_headers)
    return GraphiQLPage(page, headers=PAGE_HEADERS)


class GraphiQLStaticFiles(StaticFiles):
    """The vendored files, with exact media types (never sniffed) and long-lived caching."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(ASSET_HEADERS)
        media_type = MEDIA_TYPES.get(Path(path).suffix)
        if media_type is not None and response.status_code == 200:
            response.headers["Content-Type"] = media_type
        return response


def mount_graphiql_static(app: FastAPI) -> None:
    app.mount(STATIC_PATH, GraphiQLStaticFiles(directory=STATIC_DIR), name="graphiql-static")
