"""A real Better Auth server goes away: cached keys keep working, nothing becomes a 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.apps import AppFactory
from tests.support.better_auth import BetterAuthIssuer
from tests.support.graphql import unauthenticated
from tests.support.timing import FakeClock
from tests.support.tokens import LocalKey, claims_for

pytestmark = pytest.mark.interop

COOLDOWN, REFRESH = 30.0, 300.0  # seconds on the jwks_clock, which moves only when told
UNKNOWN_KEY = ("unknown_key", "Invalid token: unknown signing key")


async def test_cached_keys_keep_working_after_the_issuer_stops(
    better_auth_install: Path, build_app: AppFactory, jwks_clock: FakeClock
) -> None:
    with BetterAuthIssuer() as issuer:
        alice, bob = issuer.sign_up(), issuer.sign_up()
        alice_token, bob_token = alice.token(), bob.token()
        taskql = await build_app(
            better_auth_secret=None,
            better_auth_url=issuer.url,
            jwks_cooldown_seconds=COOLDOWN,
            jwks_refresh_seconds=REFRESH,
        )
        assert (await taskql.me(alice_token)).status_code == 200
    assert not issuer.running
    # Past the cooldown and the refresh interval before each request below: each tries the
    # dead issuer again.
    jwks_clock.advance(REFRESH)
    fetches_before = taskql.jwks.fetch_count

    response = await taskql.me(bob_token)  # not in the verifier's cache: the JWKS cache serves
    assert response.status_code == 200, response.text
    assert response.json()["data"]["me"]["id"] == bob.user_id

    jwks_clock.advance(REFRESH)
    stranger = LocalKey().sign(claims_for(iss=issuer.url, aud=issuer.url))
    assert unauthenticated(await taskql.me(stranger)) == UNKNOWN_KEY
    assert taskql.jwks.fetch_count > fetches_before
    assert (await taskql.me(alice_token)).status_code == 200


async def test_a_stopped_issuer_and_no_cache_is_401_not_500(
    better_auth_install: Path, build_app: AppFactory
) -> None:
    with BetterAuthIssuer() as issuer:
        token = issuer.sign_up().token()
    taskql = await build_app(better_auth_secret=None, better_auth_url=issuer.url)

    assert unauthenticated(await taskql.me(token)) == UNKNOWN_KEY
    assert not taskql.jwks.loaded
    ready = await taskql.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["jwks"] == "unavailable"
