"""The Next.js example in headless Chromium: Better Auth sign-in, JWTs, and taskql's tasks."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Route, expect

from tests.support.example_app import (
    ACCESS_DENIED,
    SESSION_ENDED,
    Call,
    Sockets,
    TaskList,
    Traffic,
    sign_in,
    sign_in_url,
    sign_up,
    wait_until,
)
from tests.support.example_stack import (
    JWT_EXPIRATION_SECONDS,
    JWT_LEEWAY_SECONDS,
    NewContext,
    Shoot,
    Stack,
)

pytestmark = pytest.mark.e2e
OPERATIONS = {"Me", "ListTasks", "CreateTask", "GetTask", "UpdateTask", "ToggleTaskComplete"}


def _operation(route: Route) -> str | None:
    body = route.request.post_data_json if route.request.method == "POST" else None
    return body.get("operationName") if isinstance(body, dict) else None


def _only(calls: list[Call], operation: str) -> list[Call]:
    return [call for call in calls if call.operation == operation]


def test_a_user_manages_tasks_page_by_page_and_finds_them_after_a_reload(
    page: Page, stack: Stack, shoot: Shoot
) -> None:
    traffic = Traffic(stack.api_url).watch(page)
    page.goto("/sign-up")
    shoot(page, "sign-up")
    ada = sign_up(page, "Ada")
    tasks = TaskList(page)
    expect(page.get_by_text(f"taskql verified your token for {ada.email}")).to_be_visible()

    for number in range(1, 8):
        tasks.add(f"Task {number}", f"Step {number} of the plan")
        expect(tasks.item(f"Task {number}")).to_be_visible()
    tasks.expect_page(1, of=2, total=7)
    assert tasks.titles() == ["Task 7", "Task 6", "Task 5", "Task 4", "Task 3"]
    page.get_by_role("button", name="Next page").click()
    tasks.expect_page(2, of=2, total=7)
    assert tasks.titles() == ["Task 2", "Task 1"]
    shoot(page, "tasks-page-2")
    page.get_by_role("button", name="Previous page").click()
    tasks.expect_page(1, of=2, total=7)

    editor = tasks.open_editor("Task 7")
    shoot(page, "task-edit")
    tasks.save(editor, "Write the report", "Due on Friday")
    expect(tasks.item("Write the report")).to_contain_text("Due on Friday")
    tasks.toggle("Task 6")
    expect(tasks.checkbox("Task 6")).to_be_checked()
    tasks.delete("Task 5")
    expect(tasks.item("Task 5")).to_have_count(0)
    tasks.expect_page(1, of=2, total=6)
    shoot(page, "tasks")

    page.reload()
    tasks.expect_page(1, of=2, total=6)
    assert tasks.titles() == ["Write the report", "Task 6", "Task 4", "Task 3", "Task 2"]
    expect(tasks.item("Write the report")).to_contain_text("Due on Friday")
    expect(tasks.checkbox("Task 6")).to_be_checked()
    expect(tasks.alert).to_have_count(0)

    traffic.wait_for(page, len(traffic.calls))
    assert {call.operation for call in traffic.calls} >= OPERATIONS | {"DeleteTask"}
    # The live page refetches in the background; the reload may have cancelled such a refetch.
    cancelled = [call for call in traffic.calls if call.failure is not None]
    assert [call.operation for call in cancelled] == ["ListTasks"] * len(cancelled)
    assert [call for call in traffic.calls if call.status != 200 and call not in cancelled] == []
    for call in traffic.calls:
        header, claims = call.header, call.claims
        assert header["alg"] == "EdDSA"
        assert header["kid"]
        assert claims["sub"] == ada.id == call.variables.get("userId", ada.id)
        assert claims["iss"] == claims["aud"] == stack.app_url
        assert claims["email"] == ada.email
        assert claims["exp"] - claims["iat"] == JWT_EXPIRATION_SECONDS
    tokens = {call.token for call in traffic.calls}
    assert len(traffic.token_fetches) < len(traffic.calls), "a token serves many requests"
    stored = page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
    cookies = json.dumps(page.context.cookies())
    assert not any(token in stored or token in cookies for token in tokens if token)


def test_a_request_forged_for_another_users_id_shows_access_denied(
    new_context: NewContext, stack: Stack, shoot: Shoot
) -> None:
    page_a, page_b = new_context().new_page(), new_context().new_page()
    sign_up(page_a, "Ada")
    bob = sign_up(page_b, "Bob")
    TaskList(page_b).add("Bob's plan")
    expect(TaskList(page_b).item("Bob's plan")).to_be_visible()

    forged: list[str] = []

    def for_bob(route: Route) -> None:
        # Only the user's own action: the live page also refetches ListTasks in the background.
        if forged or _operation(route) != "CreateTask":
            route.continue_()
            return
        body = route.request.post_data_json
        forged.append(body["operationName"])
        body["variables"]["userId"] = bob.id
        route.continue_(post_data=json.dumps(body))

    traffic = Traffic(stack.api_url).watch(page_a)
    page_a.route(stack.api_url, for_bob)
    tasks = TaskList(page_a)
    tasks.add("Sneaky task")
    expect(tasks.alert).to_have_text(ACCESS_DENIED)
    shoot(page_a, "access-denied")
    traffic.wait_for(page_a, 1)
    assert forged == ["CreateTask"]
    assert [
        (call.operation, call.status) for call in traffic.calls if call.operation != "ListTasks"
    ] == [("CreateTask", 403)]

    expect(page_a).to_have_url(re.compile(r"/tasks$"))
    tasks.add("Honest task")
    expect(tasks.item("Honest task")).to_be_visible()
    expect(tasks.alert).to_have_count(0)
    page_b.reload()
    TaskList(page_b).expect_page(1, of=1, total=1)
    expect(page_b.get_by_text("Sneaky task")).to_have_count(0)


def test_saving_a_task_changed_elsewhere_shows_the_newer_task_and_says_so(
    new_context: NewContext, stack: Stack, shoot: Shoot
) -> None:
    browser = new_context()
    page = browser.new_page()
    sign_up(page, "Ada")
    tasks = TaskList(page)
    tasks.add("Buy milk")
    expect(tasks.item("Buy milk")).to_be_visible()
    traffic = Traffic(stack.api_url).watch(page)
    editor = tasks.open_editor("Buy milk")  # read at version 1

    other = browser.new_page()  # another tab changes it meanwhile
    other.goto("/tasks")
    elsewhere = TaskList(other)
    elsewhere.save(elsewhere.open_editor("Buy milk"), "Buy oat milk", "From the other tab")
    expect(elsewhere.item("Buy oat milk")).to_be_visible()

    tasks.save(editor, "Buy bread", "")
    expect(tasks.alert).to_contain_text("This task was changed elsewhere.")
    expect(tasks.item("Buy oat milk")).to_contain_text("From the other tab")
    expect(tasks.item("Buy bread")).to_have_count(0)
    shoot(page, "changed-elsewhere")
    traffic.wait_for(page, len(traffic.calls))
    updates = _only(traffic.calls, "UpdateTask")
    assert [(call.status, call.variables["expectedVersion"]) for call in updates] == [(409, 1)]
    other.reload()
    expect(TaskList(other).item("Buy oat milk")).to_be_visible()  # nothing of ours was stored


def test_expired_tokens_are_renewed_without_the_user_noticing(
    page: Page, stack: Stack, shoot: Shoot
) -> None:
    traffic = Traffic(stack.api_url).watch(page)
    sign_up(page, "Cleo")
    tasks = TaskList(page)
    tasks.add("Before expiry")
    expect(tasks.item("Before expiry")).to_be_visible()
    first = traffic.calls[0]
    assert first.token is not None

    # Renewed before use: once the first token has expired, calls carry a newer one.
    wait_until(page, first.claims["exp"] + JWT_LEEWAY_SECONDS + 1)
    mark = len(traffic.calls)
    tasks.toggle("Before expiry")
    expect(tasks.checkbox("Before expiry")).to_be_checked()
    traffic.wait_for(page, mark + 1)
    renewed = _only(traffic.since(mark), "ToggleTaskComplete")[0]
    assert renewed.status == 200
    assert renewed.claims["iat"] > first.claims["iat"]

    # A token taskql refuses (the expired first one, replayed) is replaced once, quietly.
    def replay_expired(operation: str, once: bool) -> Callable[[Route], None]:
        replayed: list[bool] = []

        def handle(route: Route) -> None:
            request = route.request
            if _operation(route) != operation or (once and replayed):
                route.continue_()
                return
            replayed.append(True)
            headers = {**request.headers, "authorization": f"Bearer {first.token}"}
            route.fulfill(response=route.fetch(headers=headers))

        return handle

    handler = replay_expired("CreateTask", once=True)
    page.route(stack.api_url, handler)
    mark = len(traffic.calls)
    tasks.add("After expiry")
    expect(tasks.item("After expiry")).to_be_visible()
    expect(tasks.alert).to_have_count(0)
    traffic.wait_for(page, mark + 2)
    calls = _only(traffic.since(mark), "CreateTask")
    assert [(call.operation, call.status, call.reasons) for call in calls] == [
        ("CreateTask", 401, ["expired"]),
        ("CreateTask", 200, []),
    ]
    assert calls[1].token != first.token
    page.unroute(stack.api_url, handler)

    # When a fresh token is refused too, the user is sent to sign in.
    page.route(stack.api_url, replay_expired("ToggleTaskComplete", once=False))
    mark = len(traffic.calls)
    tasks.toggle("After expiry")
    expect(page).to_have_url(sign_in_url("session-ended"))
    expect(page.get_by_role("status")).to_have_text(SESSION_ENDED)
    shoot(page, "session-ended")
    assert [call.status for call in _only(traffic.since(mark), "ToggleTaskComplete")] == [401, 401]


def test_signing_out_in_one_tab_ends_api_access_in_every_tab(
    new_context: NewContext, stack: Stack, shoot: Shoot
) -> None:
    context = new_context()
    first_tab = context.new_page()
    sockets = Sockets(stack.api_url.replace("http://", "ws://", 1)).watch(first_tab)
    dana = sign_up(first_tab, "Dana")
    TaskList(first_tab).add("Keep me")
    expect(TaskList(first_tab).item("Keep me")).to_be_visible()
    second_tab = context.new_page()
    second_tab.goto("/tasks")
    expect(TaskList(second_tab).item("Keep me")).to_be_visible()

    second_tab.get_by_role("button", name="Sign out").click()
    expect(second_tab).to_have_url(sign_in_url("signed-out"))
    expect(second_tab.get_by_role("status")).to_have_text("You have signed out.")
    shoot(second_tab, "sign-in")

    # The first tab closed its live socket at once (its JWT would have stayed valid at taskql). It
    # still shows the list, but its next call finds no session: sign in again.
    expect(TaskList(first_tab).live).to_have_text("Offline")
    shoot(first_tab, "live-offline")
    assert sockets.opened
    sockets.wait_closed(first_tab)
    TaskList(first_tab).add("After sign-out")
    expect(first_tab).to_have_url(sign_in_url("session-ended"))
    first_tab.goto("/tasks")
    expect(first_tab).to_have_url(re.compile(r"/sign-in$"))

    sign_in(first_tab, dana)
    expect(TaskList(first_tab).item("Keep me")).to_be_visible()
    expect(first_tab.get_by_text("After sign-out")).to_have_count(0)
