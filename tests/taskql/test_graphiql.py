"""GraphiQL from taskql's own origin: strict CSP, vendored assets, a token that is never stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from taskql.http.graphiql import MANIFEST, STATIC_DIR, graphiql_csp, graphiql_html, sri
from tests.support.apps import make_settings, running_app
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.live import serve
from tests.support.paths import OUTPUT, REPO
from tests.support.tokens import hs256_token

BROWSER_HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SCREENSHOT = OUTPUT / "graphiql.png"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


class PageAssets(HTMLParser):
    """The (url, integrity) of each script and stylesheet a page references, and its JSON config."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.assets: list[tuple[str, str]] = []
        self.config_text = ""
        self._in_config = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        url = found.get("src") if tag == "script" else found.get("href")
        if tag == "script" and found.get("type") == "application/json":
            self._in_config = True
        elif url and (tag == "script" or found.get("rel") == "stylesheet"):
            self.assets.append((url, found.get("integrity") or ""))

    def handle_endtag(self, tag: str) -> None:
        self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config_text += data

    @property
    def config(self) -> dict[str, object]:
        return dict(json.loads(self.config_text))


def recorded_integrity() -> dict[str, str]:
    manifest = json.loads(MANIFEST.read_text())
    return {
        name: entry["integrity"]
        for package in manifest["packages"]
        for name, entry in package["files"].items()
    }


@pytest.fixture
async def ide_client(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(make_settings(sqlite_url)) as taskql:
        yield taskql.client


async def test_browser_get_serves_graphiql_with_a_strict_csp(
    ide_client: httpx.AsyncClient,
) -> None:
    response = await ide_client.get("/graphql", headers={"accept": BROWSER_HTML})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert policy == graphiql_csp("taskql.test")
    assert "unsafe" not in policy
    directives = dict(part.split(" ", 1) for part in policy.split("; "))
    assert directives["script-src"] == "'self'"
    # Subscriptions: the WebSocket twin of this origin, which not every browser counts as 'self'.
    assert directives["connect-src"] == "'self' ws://taskql.test wss://taskql.test"
    assert directives["style-src"].startswith("'self' 'sha256-")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "http://" not in response.text
    assert "https://" not in response.text


@pytest.mark.parametrize(
    ("host", "sockets"),
    [
        ("127.0.0.1:8000", "ws://127.0.0.1:8000 wss://127.0.0.1:8000"),
        ("Tasks.Example.com", "ws://tasks.example.com wss://tasks.example.com"),
    ],
)
async def test_the_policy_admits_websockets_to_the_host_the_page_was_asked_of(
    ide_client: httpx.AsyncClient, host: str, sockets: str
) -> None:
    response = await ide_client.get("/graphql", headers={"accept": BROWSER_HTML, "host": host})
    assert f"connect-src 'self' {sockets};" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    "host",
    [
        "evil.example; script-src *",  # a directive smuggled in through the Host header
        "tasks.example.com wss://evil.example",
        "[::1]:8000",  # IPv6 literals are no CSP host-source
        "",
    ],
)
async def test_a_host_the_policy_cannot_name_gets_no_websocket_source(
    ide_client: httpx.AsyncClient, host: str
) -> None:
    response = await ide_client.get("/graphql", headers={"accept": BROWSER_HTML, "host": host})
    policy = response.headers["content-security-policy"]
    assert policy == graphiql_csp()
    assert "connect-src 'self';" in policy
    assert "evil" not in policy


async def test_every_asset_is_served_from_taskql_with_its_recorded_integrity(
    ide_client: httpx.AsyncClient,
) -> None:
    page = PageAssets((await ide_client.get("/graphql", headers={"accept": BROWSER_HTML})).text)
    recorded = recorded_integrity()
    names = []
    for url, integrity in page.assets:
        assert url.startswith("/graphql/static/"), url
        response = await ide_client.get(url)
        name = Path(urlsplit(url).path).name
        names.append(name)
        assert response.status_code == 200, url
        assert response.headers["content-type"] == MEDIA_TYPES[Path(name).suffix]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "immutable" in response.headers["cache-control"]
        assert sri(response.content) == integrity
        assert integrity == recorded.get(name, integrity)
    assert {
        "react.production.min.js",
        "graphiql.min.js",
        "graphiql.min.css",
        "graphql-ws.min.js",
    } <= set(names)


def test_vendored_files_match_the_manifest() -> None:
    manifest = json.loads(MANIFEST.read_text())
    versions = {package["name"]: package["version"] for package in manifest["packages"]}
    assert set(versions) == {"react", "react-dom", "graphiql", "graphql-ws"}
    example = json.loads((REPO / "examples" / "nextjs" / "package.json").read_text())
    assert versions["graphql-ws"] == example["dependencies"]["graphql-ws"]  # one client version
    for package in manifest["packages"]:
        assert package["tarball_integrity"].startswith("sha512-")
        for name, entry in package["files"].items():
            assert sri((STATIC_DIR / name).read_bytes()) == entry["integrity"], name


def test_development_page_says_how_to_get_a_token_and_production_does_not() -> None:
    development = PageAssets(graphiql_html(development=True, persist_headers=False)).config
    production = PageAssets(graphiql_html(development=False, persist_headers=False)).config
    assert development["tokenHint"] == "taskql token --sub <id>"
    assert production["tokenHint"] is None
    assert "taskql token" not in str(production["query"])
    assert json.loads(str(development["headers"])) == {"Authorization": "Bearer <token>"}


def test_headers_persist_only_when_the_operator_turns_it_on() -> None:
    assert PageAssets(graphiql_html(development=True, persist_headers=False)).config == {
        **PageAssets(graphiql_html(development=True, persist_headers=True)).config,
        "persistHeaders": False,
    }


async def test_graphiql_off_serves_no_ide(sqlite_url: str) -> None:
    async with running_app(make_settings(sqlite_url, graphiql=False)) as taskql:
        client = taskql.client
        page = await client.get("/graphql", headers={"accept": BROWSER_HTML})
        asset = await client.get("/graphql/static/graphiql.min.js")
    assert page.status_code == 404
    assert not page.headers["content-type"].startswith("text/html")
    assert asset.status_code == 404


@pytest.fixture
async def live_server(sqlite_url: str) -> AsyncIterator[str]:
    """taskql under uvicorn on a free local port, in this event loop."""
    async with serve(make_settings(sqlite_url)) as server:
        yield server.http_url


CSP_LISTENER = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) =>
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}`));
"""


async def replace_headers(page: Page, text: str) -> None:
    await page.click(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text(text)


@pytest.fixture
def chromium() -> str:
    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM} (set CHROMIUM)"
    return CHROMIUM


async def test_graphiql_runs_a_query_with_a_pasted_token_in_a_real_browser(
    live_server: str, chromium: str
) -> None:
    token = hs256_token("user-a")
    requests: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(10_000)
        page.on("request", lambda request: requests.append(request.url))
        await page.add_init_script(CSP_LISTENER)
        await page.goto(f"{live_server}/graphql")
        headers_editor = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden)")
        await headers_editor.get_by_text("Bearer <token>").wait_for()
        assert "taskql token --sub <id>" in await page.inner_text(".graphiql-footer")

        await replace_headers(page, json.dumps({"Authorization": f"Bearer {token}"}))
        await page.click(".graphiql-execute-button")
        await page.locator(".result-window").get_by_text('"user-a"').wait_for()
        await page.screenshot(path=str(SCREENSHOT))
        # A dialog makes GraphiQL insert its one inline <style>, which the CSP admits by hash.
        await page.click("button[aria-label='Open settings dialog']")
        await page.get_by_role("dialog").wait_for()
        await page.keyboard.press("Escape")

        stored = await page.evaluate("JSON.stringify(window.localStorage)")
        violations = await page.evaluate("window.cspViolations")
        await page.reload()
        await headers_editor.get_by_text("Bearer <token>").wait_for()
        violations += await page.evaluate("window.cspViolations")
        await browser.close()

    assert "graphiql:" in stored
    assert "Bearer" not in stored
    assert violations == []
    assert {urlsplit(url).netloc for url in requests} == {urlsplit(live_server).netloc}
