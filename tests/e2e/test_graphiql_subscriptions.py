"""GraphiQL runs subscriptions: a vendored graphql-ws client under the page's strict CSP, with the
headers editor's token in connection_init."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.support.example_app import Sockets
from tests.support.processes import ServerProcess
from tests.support.tokens import hs256_token

pytestmark = pytest.mark.e2e
SOON = 5_000  # ms: from a write over HTTP to its event in the result pane
# A refused token is not retried: graphql-ws's default would retry 4403 for half a minute.
AT_ONCE = 3_000
SUBSCRIPTION = 'subscription {\n  taskEvents(userId: "%s") {\n    type\n    taskId\n  }\n}'
CREATE_TASK = """
mutation Create($userId: ID!, $title: String!) {
  createTask(userId: $userId, input: {title: $title}) { id }
}"""
CSP_LISTENER = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) =>
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`));
"""


@dataclass
class GraphiQL:
    """GraphiQL in a page of its own, with what the page reported about itself."""

    page: Page
    origin: str
    sockets: Sockets
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL fetched or opened as a socket

    @property
    def result(self) -> Locator:
        return self.page.locator(".result-window")

    def replace(self, editor: str, text: str) -> None:
        self.page.click(f"{editor} .CodeMirror")
        self.page.keyboard.press("Control+A")
        self.page.keyboard.insert_text(text)

    def set_token(self, token: str) -> None:
        headers = json.dumps({"Authorization": f"Bearer {token}"})
        self.replace(".graphiql-editor-tool .graphiql-editor:not(.hidden)", headers)

    def run(self, query: str) -> None:
        self.replace(".graphiql-query-editor", query)
        self.page.click(".graphiql-execute-button")

    def wait_connected(self, count: int = 1, timeout: float = 10.0) -> None:
        """Until the `count`th socket has its connection_ack; the client then subscribes at once."""
        deadline = time.monotonic() + timeout
        while not self._acknowledged(count):
            assert time.monotonic() < deadline, f"socket {count} was never acknowledged"
            self.page.wait_for_timeout(50)  # Playwright delivers frames while it waits

    def _acknowledged(self, count: int) -> bool:
        opened = self.sockets.opened
        return len(opened) >= count and {"type": "connection_ack"} in opened[count - 1].received

    def csp_violations(self) -> list[str]:
        reported: list[str] = self.page.evaluate("window.cspViolations")
        return reported + [text for text in self.console if "Content Security Policy" in text]


@pytest.fixture
def graphiql(browser: Browser, graphiql_server: ServerProcess) -> Iterator[GraphiQL]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    ws_url = graphiql_server.url.replace("http://", "ws://", 1) + "/graphql"
    ide = GraphiQL(page, graphiql_server.url, Sockets(ws_url).watch(page))
    page.on("console", lambda message: ide.console.append(f"{message.type}: {message.text}"))
    page.on("request", lambda request: ide.requests.append(request.url))
    page.on("websocket", lambda socket: ide.requests.append(socket.url))
    page.add_init_script(CSP_LISTENER)
    page.goto(f"{graphiql_server.url}/graphql")
    page.locator(".graphiql-editor-tool").get_by_text("Bearer <token>").wait_for()
    yield ide
    context.close()


def create_task(server: ServerProcess, token: str, user_id: str, title: str) -> str:
    response = httpx.post(
        f"{server.url}/graphql",
        json={"query": CREATE_TASK, "variables": {"userId": user_id, "title": title}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    task_id: str = response.json()["data"]["createTask"]["id"]
    return task_id


def test_a_subscription_in_graphiql_shows_the_event_of_a_task_created_over_http(
    graphiql: GraphiQL, graphiql_server: ServerProcess, e2e_output: Path
) -> None:
    token = hs256_token("graphiql-ada")
    graphiql.set_token(token)
    graphiql.run(SUBSCRIPTION % "graphiql-ada")
    graphiql.wait_connected()

    task_id = create_task(graphiql_server, token, "graphiql-ada", "Heard in GraphiQL")
    expect(graphiql.result).to_contain_text(f'"taskId": "{task_id}"', timeout=SOON)
    expect(graphiql.result).to_contain_text('"type": "CREATED"')
    graphiql.page.screenshot(path=e2e_output / "graphiql-subscription.png")

    (socket,) = graphiql.sockets.opened
    assert socket.token == token  # from the headers editor, in connection_init
    assert socket.events() == [("CREATED", task_id)]
    assert graphiql.csp_violations() == []
    origins = {urlsplit(url).netloc for url in graphiql.requests}
    assert origins == {urlsplit(graphiql.origin).netloc}  # http and ws alike


def test_a_refused_token_shows_its_close_in_the_result_pane_and_a_new_token_reconnects(
    graphiql: GraphiQL, graphiql_server: ServerProcess
) -> None:
    graphiql.set_token("not-a-jwt")
    graphiql.run(SUBSCRIPTION % "graphiql-bob")
    expect(graphiql.result).to_contain_text("4403", timeout=AT_ONCE)
    expect(graphiql.result).to_contain_text("Forbidden")

    token = hs256_token("graphiql-bob")
    graphiql.set_token(token)
    graphiql.run(SUBSCRIPTION % "graphiql-bob")
    graphiql.wait_connected(2)
    task_id = create_task(graphiql_server, token, "graphiql-bob", "After a new token")
    expect(graphiql.result).to_contain_text(f'"taskId": "{task_id}"', timeout=SOON)

    refused, accepted = graphiql.sockets.opened  # and no retry of the refused one
    assert (refused.token, accepted.token) == ("not-a-jwt", token)
    assert graphiql.csp_violations() == []
