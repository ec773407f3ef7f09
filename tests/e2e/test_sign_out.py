"""Signed out means signed out: a token copied from the page stops working at taskql (SPEC §4)."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.example_app import TaskList, Traffic, sign_in_url, sign_up
from tests.support.example_stack import SESSION_CHECK_SECONDS, Shoot, Stack
from tests.support.operations import trusted_ids

pytestmark = pytest.mark.e2e

MARGIN = 1.5  # a loaded CI machine's scheduling, on top of the bound


def list_tasks(stack: Stack, token: str, user_id: str) -> httpx.Response:
    """What someone holding the copied token would send, from outside the browser."""
    # By id, as the example sends it: this taskql runs trusted documents only.
    body = {"documentId": trusted_ids()["ListTasks"], "variables": {"userId": user_id}}
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.post(stack.api_url, json=body, headers=headers, timeout=10, trust_env=False)


def test_after_sign_out_a_token_copied_from_the_page_is_refused(
    page: Page, stack: Stack, shoot: Shoot
) -> None:
    traffic = Traffic(stack.api_url).watch(page)
    sign_up(page, "Erin")
    tasks = TaskList(page)
    tasks.add("Before sign-out")
    expect(tasks.item("Before sign-out")).to_be_visible()
    traffic.wait_for(page, 1)
    copied = traffic.calls[-1]
    assert copied.token is not None
    user_id = copied.claims["sub"]
    assert copied.claims["sid"]  # the example's definePayload names the session
    assert list_tasks(stack, copied.token, user_id).status_code == 200

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(sign_in_url("signed-out"))
    signed_out = time.monotonic()

    while True:
        response = list_tasks(stack, copied.token, user_id)
        if response.status_code != 200:
            break
        assert time.monotonic() - signed_out < SESSION_CHECK_SECONDS + MARGIN, "still accepted"
        page.wait_for_timeout(100)
    assert response.status_code == 401, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["reason"] == "revoked"  # not "expired": its exp is still ahead
    assert error["message"] == "Session has ended. Please log in again."
    assert copied.claims["exp"] > time.time()
    shoot(page, "signed-out")
