"""taskql trusts a real Better Auth server's tokens: every algorithm, rotation, audience lists."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.apps import AppFactory, RunningApp
from tests.support.better_auth import ALGORITHMS, BetterAuthIssuer, Session
from tests.support.graphql import codes, unauthenticated
from tests.support.operations import CREATE_TASK, LIST_TASKS
from tests.support.tokens import decode_unverified

pytestmark = pytest.mark.interop

FORBIDDEN = "Access denied. You can only access your own resources."


def kid(token: str) -> str:
    return str(decode_unverified(token)[0]["kid"])


async def jwks_mode(
    build_app: AppFactory, issuer: BetterAuthIssuer, **overrides: object
) -> RunningApp:
    """taskql configured as the README says: BETTER_AUTH_URL only; issuer and audience derived."""
    return await build_app(better_auth_secret=None, better_auth_url=issuer.url, **overrides)


async def create_task(taskql: RunningApp, token: str, user_id: str, title: str) -> dict[str, str]:
    variables = {"userId": user_id, "input": {"title": title}}
    response = await taskql.query(CREATE_TASK, variables, token=token)
    assert response.status_code == 200, response.text
    task: dict[str, str] = response.json()["data"]["createTask"]
    return task


async def task_titles(taskql: RunningApp, token: str, user_id: str) -> list[str]:
    response = await taskql.query(LIST_TASKS, {"userId": user_id}, token=token)
    assert response.status_code == 200, response.text
    items = response.json()["data"]["tasks"]["items"]
    assert {item["userId"] for item in items} <= {user_id}
    return sorted(item["title"] for item in items)


@pytest.mark.parametrize("alg", ALGORITHMS)
async def test_a_better_auth_user_is_who_its_token_says(
    issuer_for: Callable[[str], BetterAuthIssuer], build_app: AppFactory, alg: str
) -> None:
    issuer = issuer_for(alg)
    alice = issuer.sign_up(name="Alice Liddell")
    token = alice.token()
    assert decode_unverified(token)[0]["alg"] == alg
    taskql = await jwks_mode(build_app, issuer)

    response = await taskql.me(token)

    assert response.status_code == 200, response.text
    assert response.json()["data"]["me"] == {
        "id": alice.user_id,
        "email": alice.email,
        "name": "Alice Liddell",
    }


@pytest.mark.parametrize("alg", ALGORITHMS)
async def test_each_better_auth_user_sees_only_their_own_tasks(
    issuer_for: Callable[[str], BetterAuthIssuer], build_app: AppFactory, alg: str
) -> None:
    issuer = issuer_for(alg)
    taskql = await jwks_mode(build_app, issuer)
    await check_two_users_are_isolated(taskql, issuer.sign_up(), issuer.sign_up())
    assert taskql.jwks.fetch_count == 1  # many requests, two tokens: one JWKS download


async def check_two_users_are_isolated(taskql: RunningApp, alice: Session, bob: Session) -> None:
    alice_token, bob_token = alice.token(), bob.token()

    created = await create_task(taskql, alice_token, alice.user_id, "alice: write report")
    assert created["userId"] == alice.user_id
    await create_task(taskql, bob_token, bob.user_id, "bob: buy milk")
    await create_task(taskql, bob_token, bob.user_id, "bob: call mum")

    assert await task_titles(taskql, alice_token, alice.user_id) == ["alice: write report"]
    assert await task_titles(taskql, bob_token, bob.user_id) == ["bob: buy milk", "bob: call mum"]

    for query, variables in (
        (LIST_TASKS, {"userId": bob.user_id}),
        (CREATE_TASK, {"userId": bob.user_id, "input": {"title": "planted by alice"}}),
    ):
        response = await taskql.query(query, variables, token=alice_token)
        assert response.status_code == 403, response.text
        assert codes(response) == ["FORBIDDEN"]
        assert response.json()["errors"][0]["message"] == FORBIDDEN
        assert response.json()["data"] is None
    assert await task_titles(taskql, bob_token, bob.user_id) == ["bob: buy milk", "bob: call mum"]


async def test_better_auth_users_are_isolated_on_postgresql(
    better_auth_issuer: BetterAuthIssuer, build_app: AppFactory, clean_postgres: str
) -> None:
    taskql = await jwks_mode(build_app, better_auth_issuer, database_url=clean_postgres)
    await check_two_users_are_isolated(
        taskql, better_auth_issuer.sign_up(), better_auth_issuer.sign_up()
    )


async def test_a_token_from_get_session_header_works_like_one_from_token_endpoint(
    better_auth_issuer: BetterAuthIssuer, build_app: AppFactory
) -> None:
    session = better_auth_issuer.sign_up()
    _, header_jwt = session.get_session()
    assert header_jwt is not None
    taskql = await jwks_mode(build_app, better_auth_issuer)

    response = await taskql.me(header_jwt)

    assert response.status_code == 200, response.text
    assert response.json()["data"]["me"]["id"] == session.user_id


async def test_the_session_token_is_not_a_jwt_and_is_refused(
    better_auth_issuer: BetterAuthIssuer, build_app: AppFactory
) -> None:
    """The classic integration mistake: sending Better Auth's opaque session token."""
    session = better_auth_issuer.sign_up()
    assert session.session_token is not None
    taskql = await jwks_mode(build_app, better_auth_issuer)

    response = await taskql.me(session.session_token)

    assert unauthenticated(response) == ("malformed", "Invalid token: not a JSON Web Token")
    assert session.session_token not in response.text


async def test_rotation_keeps_old_tokens_and_fetches_a_new_kid_on_demand(
    better_auth_install: object, build_app: AppFactory
) -> None:
    with BetterAuthIssuer(rotation_interval=1) as issuer:
        alice, bob = issuer.sign_up(), issuer.sign_up()
        alice_old, bob_old = alice.token(), bob.token()
        assert kid(alice_old) == kid(bob_old)
        # The cooldown must be shorter than the rotation for the new kid to be fetched at once.
        taskql = await jwks_mode(build_app, issuer, jwks_cooldown_seconds=0.5)

        assert (await taskql.me(alice_old)).status_code == 200
        assert taskql.jwks.fetch_count == 1

        alice_new = issuer.force_rotation(alice)
        assert kid(alice_new) != kid(alice_old)
        response = await taskql.me(alice_new)
        assert response.status_code == 200, response.text
        assert taskql.jwks.fetch_count == 2  # the unknown kid was fetched on demand

        # Bob's token is not in the verifier's cache: its old key comes from the refreshed set.
        response = await taskql.me(bob_old)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["me"]["id"] == bob.user_id
        bob_new = bob.token()
        assert kid(bob_new) == kid(alice_new)
        assert (await taskql.me(bob_new)).status_code == 200
        assert taskql.jwks.fetch_count == 2


async def test_an_audience_list_issuer_is_accepted_by_one_of_its_audiences(
    better_auth_install: object, build_app: AppFactory
) -> None:
    with BetterAuthIssuer(
        alg="ES256", issuer="https://auth.example.test", audience=["taskql-api", "mobile-app"]
    ) as issuer:
        session = issuer.sign_up(name="Aud Ience")
        token = session.token()
        assert decode_unverified(token)[1]["aud"] == ["taskql-api", "mobile-app"]

        ours = await jwks_mode(
            build_app, issuer, jwt_issuer="https://auth.example.test", jwt_audience="taskql-api,x"
        )
        response = await ours.me(token)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["me"]["id"] == session.user_id

        for overrides, detail in (
            (
                {"jwt_issuer": "https://auth.example.test", "jwt_audience": ["someone-else"]},
                "wrong audience",
            ),
            ({"jwt_issuer": "https://auth.example.test"}, "wrong audience"),  # aud = URL
            ({"jwt_audience": ["taskql-api"]}, "wrong issuer"),  # iss = URL
        ):
            other = await jwks_mode(build_app, issuer, **overrides)
            assert unauthenticated(await other.me(token)) == (
                "bad_claims",
                f"Invalid token: {detail}",
            )
