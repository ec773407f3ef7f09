"""RFC 9864's `Ed25519` algorithm name is accepted as well as `EdDSA` (SPEC §4), and no more."""

from __future__ import annotations

import json

import pytest

from tests.support.apps import AppFactory, RunningApp
from tests.support.graphql import unauthenticated
from tests.support.jwks import JwksServer
from tests.support.tokens import LocalKey, claims_for

from .test_jwks import ed25519_jwk


async def jwks_app(build_app: AppFactory, server: JwksServer, **settings: object) -> RunningApp:
    return await build_app(better_auth_secret=None, jwt_jwks_url=server.url, **settings)


@pytest.mark.parametrize("token_alg", ["EdDSA", "Ed25519"])
@pytest.mark.parametrize("key_alg", ["EdDSA", "Ed25519", None])
async def test_either_name_verifies_against_a_key_published_under_either(
    build_app: AppFactory, jwks_server: JwksServer, token_alg: str, key_alg: str | None
) -> None:
    key = LocalKey()
    published = {name: value for name, value in key.public_jwk.items() if name != "alg"}
    if key_alg is not None:
        published["alg"] = key_alg
    jwks_server.serve(json.dumps({"keys": [published]}).encode())
    taskql = await jwks_app(build_app, jwks_server)

    response = await taskql.me(key.sign(claims_for("alice"), alg=token_alg))

    assert response.status_code == 200, response.text
    assert response.json()["data"]["me"]["id"] == "alice"


@pytest.mark.parametrize("allowed", ["EdDSA", "Ed25519"])
async def test_allowing_one_name_allows_the_other(
    build_app: AppFactory, jwks_server: JwksServer, allowed: str
) -> None:
    key = LocalKey()
    jwks_server.serve_keys(key)
    taskql = await jwks_app(build_app, jwks_server, jwt_algorithms=[allowed])
    for alg in ("EdDSA", "Ed25519"):
        assert (await taskql.me(key.sign(claims_for("alice"), alg=alg))).status_code == 200


async def test_an_ed25519_token_is_not_verified_with_an_ed448_key(
    build_app: AppFactory, jwks_server: JwksServer
) -> None:
    """`EdDSA` names both curves; `Ed25519` names one, so an Ed448 key never fits it."""
    ed448 = {**ed25519_jwk("k-448"), "crv": "Ed448", "alg": "EdDSA"}
    jwks_server.serve(json.dumps({"keys": [ed448]}).encode())
    taskql = await jwks_app(build_app, jwks_server)
    token = LocalKey(kid="k-448").sign(claims_for("alice"), alg="Ed25519")

    reason, message = unauthenticated(await taskql.me(token))

    assert (reason, message) == (
        "bad_signature",
        "Invalid token: algorithm does not match the signing key",
    )


async def test_an_ed25519_token_with_the_shared_secret_only_is_refused(
    build_app: AppFactory,
) -> None:
    taskql = await build_app()  # HS256 only: no key set, so no asymmetric algorithm
    token = LocalKey().sign(claims_for("alice"), alg="Ed25519")
    reason, _ = unauthenticated(await taskql.me(token))
    assert reason == "bad_signature"
