"""The example's task page is live: taskEvents over graphql-ws, a fresh token per connection."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error, expect

from tests.support.example_app import (
    Sockets,
    TaskList,
    Traffic,
    record_close_codes,
    sign_up,
    wait_for_close_code,
)
from tests.support.example_stack import JWT_EXPIRATION_SECONDS, NewContext, Shoot, Stack

pytestmark = pytest.mark.e2e
SOON = 5_000  # ms: how long an event may take from one page to another
TOKEN_EXPIRED = 4001


def test_two_pages_of_one_user_stay_in_step_and_another_user_hears_nothing(
    new_context: NewContext, stack: Stack, shoot: Shoot
) -> None:
    ws_url = stack.api_url.replace("http://", "ws://", 1)
    context = new_context()
    record_close_codes(context)
    first = context.new_page()
    crashes: list[Error] = []
    first.on("pageerror", lambda error: crashes.append(error))
    ada = sign_up(first, "Ada")
    second = context.new_page()  # same context: the same Better Auth session
    second.on("pageerror", lambda error: crashes.append(error))
    sockets = Sockets(ws_url).watch(second)
    second.goto("/tasks")
    mine, theirs = TaskList(first), TaskList(second)
    expect(mine.live).to_have_text("Live")
    expect(theirs.live).to_have_text("Live")

    bob_page = new_context().new_page()
    bob_sockets = Sockets(ws_url).watch(bob_page)
    sign_up(bob_page, "Bob")
    bob = TaskList(bob_page)
    expect(bob.live).to_have_text("Live")
    bob_traffic = Traffic(stack.api_url).watch(bob_page)

    second.evaluate("window.__notReloaded = true")
    mine.add("Buy milk", "Semi-skimmed")
    expect(theirs.item("Buy milk")).to_contain_text("Semi-skimmed", timeout=SOON)
    theirs.expect_page(1, of=1, total=1)

    theirs.toggle("Buy milk")
    expect(mine.checkbox("Buy milk")).to_be_checked(timeout=SOON)
    expect(mine.item("Buy milk")).to_have_class("task done")
    shoot(first, "live-tasks")

    mine.delete("Buy milk")
    expect(theirs.item("Buy milk")).to_have_count(0, timeout=SOON)
    expect(second.get_by_text("No tasks yet.")).to_be_visible()
    assert second.evaluate("window.__notReloaded") is True, "the second page was reloaded"
    # Each change travelled as an event (the first socket may have been replaced meanwhile: a
    # socket lives as long as its 10 s token, and a reconnection refetches instead).
    assert {kind for kind, _ in sockets.events()} <= {"CREATED", "UPDATED", "DELETED"}
    assert sockets.events(), "the second page received no event"

    # Bob's page heard none of it, and shows what it showed.
    expect(bob_page.get_by_text("No tasks yet.")).to_be_visible()
    bob.expect_page(1, of=1, total=0)
    assert bob_sockets.opened and bob_sockets.events() == []
    assert {call.operation for call in bob_traffic.calls} <= {"ListTasks"}  # reconnection refetches
    assert all(call.variables["userId"] != ada.id for call in bob_traffic.calls)

    # taskql closes a socket with 4001 when its token expires; it comes back with a fresh token,
    # resuming after the last event's cursor (so without refetching), and events flow again.
    second_traffic = Traffic(stack.api_url).watch(second)
    wait_for_close_code(second, TOKEN_EXPIRED, timeout=JWT_EXPIRATION_SECONDS + 5)
    expect(theirs.live).to_have_text("Live", timeout=SOON)
    second.wait_for_timeout(1000)  # a reconnection that refetched would have done so by now
    assert "ListTasks" not in {call.operation for call in second_traffic.calls}
    assert sockets.opened[-1].subscribed_after, "the reconnection did not resume after a cursor"
    mine.add("After the token expired")
    expect(theirs.item("After the token expired")).to_be_visible(timeout=SOON)
    first_socket, latest = sockets.opened[0], sockets.opened[-1]
    assert first_socket.closed and not latest.closed
    assert latest.claims["iat"] > first_socket.claims["iat"]
    assert latest.claims["sub"] == ada.id
    assert [kind for kind, _ in latest.events()][-1:] == ["CREATED"]
    assert bob_sockets.events() == []
    assert crashes == []
