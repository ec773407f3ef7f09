"""How a person drives the example app, and what the browser sends to taskql meanwhile."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import BrowserContext, Locator, Page, Request, Response, WebSocket, expect
from playwright.sync_api import Error as PlaywrightError

from tests.support.tokens import decode_unverified

PASSWORD = "correct-horse-battery-staple"
ACCESS_DENIED = "Access denied. You can only access your own resources."
SESSION_ENDED = "Your session has ended. Please sign in again."


@dataclass(frozen=True)
class User:
    name: str
    email: str
    id: str


def _submit(page: Page, button: str, path: str) -> None:
    """Click ``button``; if Better Auth's rate limit (3 sign-ins or sign-ups per 10 s from one
    address, and every test browser is 127.0.0.1) refuses it, wait as told and click again."""
    for _ in range(3):
        with page.expect_response(f"**/api/auth/{path}") as answer:
            page.get_by_role("button", name=button).click()
        if answer.value.status != 429:
            return
        page.wait_for_timeout(float(answer.value.headers.get("x-retry-after", "10")) * 1000 + 250)
    raise AssertionError(f"POST /api/auth/{path} stayed rate-limited")


def sign_up(page: Page, name: str) -> User:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/sign-up")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    _submit(page, "Sign up", "sign-up/email")
    expect(page.get_by_text("No tasks yet.")).to_be_visible()
    expect(page.get_by_text(f"taskql verified your token for {email}")).to_be_visible()
    session = page.context.request.get("/api/auth/get-session").json()
    return User(name, email, session["user"]["id"])


def sign_in(page: Page, user: User) -> None:
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    _submit(page, "Sign in", "sign-in/email")
    expect(page.get_by_role("heading", name="Your tasks")).to_be_visible()


class TaskList:
    """The /tasks page, in the words its user would use."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.alert = page.get_by_role("main").get_by_role("alert")  # not Next.js's announcer
        self.pager = page.get_by_role("navigation", name="Pages").get_by_role("status")
        self.live = page.get_by_role("status", name="Live updates")  # "Live", "Reconnecting…"

    def item(self, title: str) -> Locator:
        return self.page.get_by_role("listitem").filter(
            has=self.page.get_by_text(title, exact=True)
        )

    def titles(self) -> list[str]:
        return self.page.locator(".task .title").all_inner_texts()

    def add(self, title: str, description: str | None = None) -> None:
        form = self.page.get_by_role("form", name="New task")
        form.get_by_label("Title").fill(title)
        form.get_by_label("Description (optional)").fill(description or "")
        form.get_by_role("button", name="Add task").click()

    def checkbox(self, title: str) -> Locator:
        return self.page.get_by_role("checkbox", name=f"Completed: {title}", exact=True)

    def toggle(self, title: str) -> None:
        self.checkbox(title).click()

    def open_editor(self, title: str) -> Locator:
        self.item(title).get_by_role("button", name="Edit").click()
        form = self.page.get_by_role("form", name=f"Edit {title}", exact=True)
        expect(form.get_by_label("Title")).to_have_value(title)
        return form

    def save(self, form: Locator, new_title: str, new_description: str) -> None:
        form.get_by_label("Title").fill(new_title)
        form.get_by_label("Description").fill(new_description)
        form.get_by_role("button", name="Save").click()

    def delete(self, title: str) -> None:
        self.item(title).get_by_role("button", name="Delete").click()

    def expect_page(self, number: int, of: int, total: int) -> None:
        noun = "task" if total == 1 else "tasks"
        expect(self.pager).to_have_text(f"Page {number} of {of} · {total} {noun}")


@dataclass
class Call:
    """One POST to taskql as the browser sent it (token included), and taskql's answer."""

    operation: str
    variables: dict[str, Any]
    token: str | None
    status: int | None = None  # None until answered
    reasons: list[str] = field(default_factory=list)  # each error's extensions.reason
    failure: str | None = None  # never answered: e.g. cancelled by a reload

    @property
    def header(self) -> dict[str, Any]:
        assert self.token is not None
        return decode_unverified(self.token)[0]

    @property
    def claims(self) -> dict[str, Any]:
        assert self.token is not None
        return decode_unverified(self.token)[1]


@dataclass
class Traffic:
    """Every call from one page to taskql, in the order sent, and its Better Auth token fetches."""

    api_url: str
    calls: list[Call] = field(default_factory=list)
    token_fetches: list[int] = field(default_factory=list)  # HTTP statuses of GET /api/auth/token
    _open: dict[Request, Call] = field(default_factory=dict)

    def watch(self, page: Page) -> Traffic:
        page.on("request", self._sent)
        page.on("response", self._answered)
        page.on("requestfailed", self._failed)
        return self

    def _is_call(self, request: Request) -> bool:
        return request.url == self.api_url and request.method == "POST"

    def _sent(self, request: Request) -> None:
        if not self._is_call(request):
            return
        body = request.post_data_json or {}
        authorization = request.headers.get("authorization", "")
        token = authorization.removeprefix("Bearer ") if authorization else None
        call = Call(body.get("operationName", ""), body.get("variables") or {}, token)
        self.calls.append(call)
        self._open[request] = call

    def _answered(self, response: Response) -> None:
        # Responses may arrive out of order (a routed one is reported late): match by request.
        if response.url.endswith("/api/auth/token"):
            self.token_fetches.append(response.status)
        call = self._open.pop(response.request, None)
        if call is None:
            return
        call.status = response.status
        if response.status != 200:
            try:
                errors = response.json().get("errors") or []
            except PlaywrightError as exc:  # the body may already be gone
                call.reasons = [f"<body unavailable: {exc.message}>"]
                return
            call.reasons = [error.get("extensions", {}).get("reason", "") for error in errors]

    def _failed(self, request: Request) -> None:
        call = self._open.pop(request, None)
        if call is not None:
            call.failure = request.failure or "failed"

    def since(self, mark: int) -> list[Call]:
        return self.calls[mark:]

    def wait_for(self, page: Page, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` calls were sent and every call sent so far was answered (or failed)."""
        deadline = time.monotonic() + timeout
        while len(self.calls) < count or self._open:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.calls)} calls, {len(self._open)} unanswered")
            page.wait_for_timeout(50)


def wait_until(page: Page, epoch_seconds: float) -> None:
    page.wait_for_timeout(max(0.0, epoch_seconds - time.time()) * 1000)


def sign_in_url(reason: str) -> re.Pattern[str]:
    return re.compile(rf"/sign-in\?reason={reason}$")


@dataclass
class Socket:
    """One WebSocket from a page to taskql: its connection_init token, and what came back."""

    token: str | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False
    subscribed_after: str | None = None  # the cursor its subscribe resumed after, if any

    @property
    def claims(self) -> dict[str, Any]:
        assert self.token is not None
        return decode_unverified(self.token)[1]

    def events(self) -> list[tuple[str, str]]:
        """``(type, taskId)`` of every taskEvents result received, in order."""
        return [
            (event["type"], event["taskId"])
            for message in self.received
            if message.get("type") == "next"
            for event in [message["payload"]["data"]["taskEvents"]]
        ]


@dataclass
class Sockets:
    """Every WebSocket one page opened to taskql's ``ws_url``, in the order opened."""

    ws_url: str
    opened: list[Socket] = field(default_factory=list)

    def watch(self, page: Page) -> Sockets:
        page.on("websocket", self._opened)
        return self

    def _opened(self, ws: WebSocket) -> None:
        if ws.url != self.ws_url:
            return
        socket = Socket()
        self.opened.append(socket)

        def sent(payload: str | bytes) -> None:
            message = json.loads(payload)
            if message.get("type") == "connection_init":
                authorization = (message.get("payload") or {}).get("Authorization", "")
                socket.token = authorization.removeprefix("Bearer ")
            if message.get("type") == "subscribe":
                variables = (message.get("payload") or {}).get("variables") or {}
                socket.subscribed_after = variables.get("after")

        ws.on("framesent", sent)
        ws.on("framereceived", lambda payload: socket.received.append(json.loads(payload)))
        ws.on("close", lambda _: setattr(socket, "closed", True))

    def events(self) -> list[tuple[str, str]]:
        return [event for socket in self.opened for event in socket.events()]

    def wait_closed(self, page: Page, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(socket.closed for socket in self.opened):
            if time.monotonic() > deadline:
                raise AssertionError("a live socket is still open")
            page.wait_for_timeout(50)


# Playwright reports a WebSocket's closing but not its close code: the page records them itself.
_RECORD_CLOSE_CODES = """
(() => {
  const Native = window.WebSocket;
  window.__closeCodes = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("close", (event) => window.__closeCodes.push(event.code));
    }
  };
})();
"""


def record_close_codes(context: BrowserContext) -> None:
    """Every page of ``context`` opened from now on keeps ``window.__closeCodes``."""
    context.add_init_script(_RECORD_CLOSE_CODES)


def wait_for_close_code(page: Page, code: int, timeout: float = 15.0) -> None:
    page.wait_for_function(
        "(code) => window.__closeCodes.includes(code)", arg=code, timeout=timeout * 1000
    )
