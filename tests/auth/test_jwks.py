"""JWKSClient against an in-process JWKS endpoint (httpx.MockTransport) and a fake clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jose import jwt
from jose.utils import base64url_encode, long_to_base64

from auth import keys
from auth.errors import AuthError
from auth.jwks import JWKSClient
from tests.support.timing import FakeClock

URL = "https://auth.example.com/api/auth/jwks"
COOLDOWN = 30.0
REFRESH = 300.0


def ed25519_jwk(kid: str, **extra: str) -> dict[str, str]:
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    x = base64url_encode(raw).decode()
    return {"alg": "EdDSA", "crv": "Ed25519", "x": x, "kty": "OKP", "kid": kid, **extra}


def rsa_jwk(kid: str, alg: str = "PS256") -> dict[str, str]:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    n = long_to_base64(numbers.public_numbers().n).decode()
    return {"alg": alg, "kty": "RSA", "n": n, "e": "AQAB", "kid": kid}


class RefreshLog:
    """The on_refresh hook: records each fetch's outcome and lets a test await background ones."""

    def __init__(self) -> None:
        self.results: list[bool] = []
        self._changed = asyncio.Event()

    def __call__(self, ok: bool) -> None:
        self.results.append(ok)
        self._changed.set()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(1):
            while len(self.results) < count:
                self._changed.clear()
                await self._changed.wait()


@dataclass
class Issuer:
    """What the JWKS endpoint answers; counts every request it gets."""

    keys: list[dict[str, str]] = field(default_factory=list)
    status: int = 200
    body: bytes | None = None
    error: Exception | None = None
    requests: int = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        for _ in range(5):  # yield to the loop so that concurrent callers pile up meanwhile
            await asyncio.sleep(0)
        if self.error is not None:
            raise self.error
        if self.body is not None:
            return httpx.Response(self.status, content=self.body)
        return httpx.Response(self.status, json={"keys": self.keys})

    def go_down(self, how: str) -> None:
        outages: dict[str, Callable[[], None]] = {
            "connection refused": lambda: setattr(
                self, "error", httpx.ConnectError("connection refused")
            ),
            "timeout": lambda: setattr(self, "error", httpx.ReadTimeout("timed out")),
            "HTTP 503": lambda: setattr(self, "status", 503),
            "HTTP 404": lambda: setattr(self, "status", 404),
            "redirect": lambda: setattr(self, "status", 302),
            "garbage JSON": lambda: setattr(self, "body", b"<html>oops"),
            "not a key set": lambda: setattr(self, "body", b'{"keys": "k1-secret-material"}'),
            "a JSON list": lambda: setattr(self, "body", b"[]"),
        }
        outages[how]()


OUTAGES = [
    "connection refused",
    "timeout",
    "HTTP 503",
    "HTTP 404",
    "redirect",
    "garbage JSON",
    "not a key set",
    "a JSON list",
]


@pytest.fixture
def issuer() -> Issuer:
    return Issuer(keys=[ed25519_jwk("k1")])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def http(issuer: Issuer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(issuer.handle)) as client:
        yield client


@pytest.fixture
def refreshes() -> RefreshLog:
    return RefreshLog()


@pytest.fixture
async def jwks(
    http: httpx.AsyncClient, clock: FakeClock, refreshes: RefreshLog
) -> AsyncIterator[JWKSClient]:
    client = JWKSClient(
        URL,
        http=http,
        cooldown=COOLDOWN,
        refresh_interval=REFRESH,
        clock=clock,
        on_refresh=refreshes,
    )
    yield client
    await client.aclose()


async def warm(jwks: JWKSClient) -> None:
    """The first request, for k1: it fetches the key set."""
    await jwks.get_key("k1", "EdDSA")


async def warm_and_past_the_cooldown(jwks: JWKSClient, clock: FakeClock) -> None:
    """The key set fetched once, and the unknown-kid cooldown over since then."""
    await warm(jwks)
    clock.advance(COOLDOWN)


async def assert_unknown_key(jwks: JWKSClient, kid: str | None, alg: str = "EdDSA") -> None:
    with pytest.raises(AuthError) as caught:
        await jwks.get_key(kid, alg)
    assert caught.value.reason == "unknown_key"
    assert caught.value.message == "Invalid token: unknown signing key"


async def test_nothing_is_fetched_until_a_key_is_needed(jwks: JWKSClient, issuer: Issuer) -> None:
    assert issuer.requests == 0
    assert not jwks.loaded
    assert (await jwks.get_key("k1", "EdDSA"))["x"] == issuer.keys[0]["x"]
    assert issuer.requests == 1
    assert jwks.fetch_count == 1
    assert jwks.loaded


async def test_a_cached_kid_makes_no_request(jwks: JWKSClient, issuer: Issuer) -> None:
    await warm(jwks)
    for _ in range(5):
        await jwks.get_key("k1", "EdDSA")
    assert issuer.requests == 1


async def test_a_fetched_key_verifies_a_token_of_its_private_key(
    jwks: JWKSClient, issuer: Issuer
) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    issuer.keys = [{**ed25519_jwk("k9"), "x": base64url_encode(raw).decode()}]
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    keys.register()  # python-jose signs EdDSA only once taught to
    token = jwt.encode({"sub": "u1"}, private_pem, algorithm="EdDSA", headers={"kid": "k9"})
    key = await jwks.get_key(jwt.get_unverified_header(token)["kid"], "EdDSA")
    assert jwt.decode(token, key, algorithms=["EdDSA"]) == {"sub": "u1"}


async def test_the_returned_key_is_a_copy(jwks: JWKSClient) -> None:
    (await jwks.get_key("k1", "EdDSA"))["x"] = "tampered"
    assert (await jwks.get_key("k1", "EdDSA"))["x"] != "tampered"


async def test_an_unknown_kid_on_a_cold_cache_costs_one_request(
    jwks: JWKSClient, issuer: Issuer
) -> None:
    await assert_unknown_key(jwks, "nope")
    assert issuer.requests == jwks.fetch_count == 1


async def test_an_unknown_kid_refetches_once_then_the_cooldown_holds(
    jwks: JWKSClient, issuer: Issuer, clock: FakeClock
) -> None:
    await warm_and_past_the_cooldown(jwks, clock)
    await assert_unknown_key(jwks, "nope")
    assert issuer.requests == 2
    clock.advance(COOLDOWN - 1)
    await assert_unknown_key(jwks, "nope")
    await assert_unknown_key(jwks, "other")
    assert issuer.requests == 2
    clock.advance(1)
    await assert_unknown_key(jwks, "nope")
    assert issuer.requests == 3


async def test_twenty_concurrent_unknown_kids_share_one_request(
    jwks: JWKSClient, issuer: Issuer, clock: FakeClock
) -> None:
    await warm_and_past_the_cooldown(jwks, clock)
    results = await asyncio.gather(
        *(jwks.get_key(f"forged-{i}", "EdDSA") for i in range(20)), return_exceptions=True
    )
    assert issuer.requests == 2
    assert all(isinstance(r, AuthError) and r.reason == "unknown_key" for r in results)


async def test_twenty_concurrent_first_requests_share_one_fetch(
    jwks: JWKSClient, issuer: Issuer
) -> None:
    keys = await asyncio.gather(*(jwks.get_key("k1", "EdDSA") for _ in range(20)))
    assert issuer.requests == 1
    assert {key["kid"] for key in keys} == {"k1"}


async def test_a_new_kid_is_fetched_on_demand_after_the_cooldown_and_the_old_one_still_works(
    jwks: JWKSClient, issuer: Issuer, clock: FakeClock
) -> None:
    await warm(jwks)
    issuer.keys = [*issuer.keys, ed25519_jwk("k2")]
    clock.advance(COOLDOWN / 2)
    await assert_unknown_key(jwks, "k2")  # within the cooldown of the first fetch
    clock.advance(COOLDOWN / 2)
    assert (await jwks.get_key("k2", "EdDSA"))["kid"] == "k2"
    assert (await jwks.get_key("k1", "EdDSA"))["kid"] == "k1"
    assert issuer.requests == 2


async def test_a_stale_cache_is_refreshed_behind_the_request(
    jwks: JWKSClient, issuer: Issuer, clock: FakeClock, refreshes: RefreshLog
) -> None:
    await warm(jwks)
    issuer.keys = [ed25519_jwk("k2")]  # the issuer dropped k1 after its grace period
    clock.advance(REFRESH)
    assert (await jwks.get_key("k1", "EdDSA"))["kid"] == "k1"  # served from cache, no wait
    await refreshes.wait_for(2)
    assert issuer.requests == 2
    assert (await jwks.get_key("k2", "EdDSA"))["kid"] == "k2"
    # A periodic refresh does not spend the unknown-kid budget: one look, then the cooldown.
    await assert_unknown_key(jwks, "k1")
    assert issuer.requests == 3
    await assert_unknown_key(jwks, "k1")
    assert issuer.requests == 3


async def test_a_key_rotated_in_right_after_a_periodic_refresh_is_fetched_on_first_sight(
    jwks: JWKSClient, issuer: Issuer, clock: FakeClock, refreshes: RefreshLog
) -> None:
    await warm(jwks)
    clock.advance(REFRESH)
    await jwks.get_key("k1", "EdDSA")
    await refreshes.wait_for(2)
    issuer.keys = [ed25519_jwk("k1"), ed25519_jwk("k2")]  # Better Auth rotates a moment later
    assert (await jwks.get_key("k2", "EdDSA"))["kid"] == "k2"
    assert issuer.requests == 3
    assert refreshes.results == [True, True, True]


async def test_a_failed_refresh_keeps_the_old_keys(
    jwks: JWKSClient, issuer: Issuer, clock: FakeClock, refreshes: RefreshLog
) -> None:
    await warm(jwks)
    issuer.go_down("HTTP 503")
    clock.advance(REFRESH)
    await jwks.get_key("k1", "EdDSA")
    await refreshes.wait_for(2)
    assert refreshes.results == [True, False]
    assert (await jwks.get_key("k1", "EdDSA"))["kid"] == "k1"
    assert issuer.requests == 2  # still stale, but the cooldown spaces out retries
    clock.advance(COOLDOWN)
    await jwks.get_key("k1", "EdDSA")
    await refreshes.wait_for(3)
    assert issuer.requests == 3


@pytest.mark.parametrize("outage", OUTAGES)
async def test_when_the_endpoint_fails_cached_kids_work_and_new_kids_are_unknown(
    jwks: JWKSClient, issuer: Issuer, clock: FakeClock, outage: str
) -> None:
    await warm(jwks)
    issuer.go_down(outage)
    clock.advance(REFRESH)
    assert (await jwks.get_key("k1", "EdDSA"))["kid"] == "k1"
    await assert_unknown_key(jwks, "k2")
    assert jwks.loaded


@pytest.mark.parametrize("outage", OUTAGES)
async def test_when_the_endpoint_fails_on_a_cold_cache_every_kid_is_unknown(
    jwks: JWKSClient, issuer: Issuer, refreshes: RefreshLog, outage: str
) -> None:
    issuer.go_down(outage)
    await assert_unknown_key(jwks, "k1")
    await assert_unknown_key(jwks, None)
    assert not jwks.loaded
    assert refreshes.results == [False]


async def test_fetch_failures_never_log_the_response_body(
    jwks: JWKSClient, issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    issuer.go_down("not a key set")
    with caplog.at_level(logging.DEBUG, logger="auth.jwks"):
        await assert_unknown_key(jwks, "k1")
    assert "JWKS fetch" in caplog.text
    assert "secret-material" not in caplog.text


async def test_a_kidless_token_uses_the_only_key_of_its_algorithm(
    jwks: JWKSClient, issuer: Issuer
) -> None:
    issuer.keys = [ed25519_jwk("k1"), rsa_jwk("r1")]
    assert (await jwks.get_key(None, "EdDSA"))["kid"] == "k1"
    assert (await jwks.get_key(None, "PS256"))["kid"] == "r1"


async def test_a_kidless_token_is_refused_when_two_keys_could_have_signed_it(
    jwks: JWKSClient, issuer: Issuer
) -> None:
    issuer.keys = [ed25519_jwk("k1"), ed25519_jwk("k2")]
    await assert_unknown_key(jwks, None)


async def test_a_kid_whose_key_has_another_alg_is_a_bad_signature_without_refetch(
    jwks: JWKSClient, issuer: Issuer, clock: FakeClock
) -> None:
    issuer.keys = [rsa_jwk("r1", alg="RS256"), {**ed25519_jwk("k1"), "alg": "ES256"}]
    await jwks.get_key("r1", "RS256")
    clock.advance(COOLDOWN)
    for kid, alg in [("r1", "PS256"), ("k1", "EdDSA"), ("k1", "ES256")]:
        with pytest.raises(AuthError) as caught:
            await jwks.get_key(kid, alg)
        assert caught.value.reason == "bad_signature"
    assert issuer.requests == 1


async def test_a_key_without_alg_is_matched_by_key_type(jwks: JWKSClient, issuer: Issuer) -> None:
    key = {k: v for k, v in ed25519_jwk("k1").items() if k != "alg"}
    issuer.keys = [key]
    assert (await jwks.get_key("k1", "EdDSA"))["kid"] == "k1"
    with pytest.raises(AuthError, match="algorithm") as caught:
        await jwks.get_key("k1", "RS256")
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize("alg", ["HS256", "none", "RSA-OAEP", ""])
async def test_non_signature_or_hmac_algorithms_never_reach_the_endpoint(
    jwks: JWKSClient, issuer: Issuer, alg: str
) -> None:
    with pytest.raises(AuthError) as caught:
        await jwks.get_key("k1", alg)
    assert caught.value.reason == "bad_signature"
    assert issuer.requests == 0


async def test_encryption_and_symmetric_keys_in_the_set_are_ignored(
    jwks: JWKSClient, issuer: Issuer
) -> None:
    issuer.keys = [
        ed25519_jwk("enc", use="enc"),
        {"kty": "oct", "k": "c2VjcmV0", "kid": "oct", "alg": "HS256"},
        ed25519_jwk("sig", use="sig"),
        "not a key",  # type: ignore[list-item]
    ]
    await assert_unknown_key(jwks, "enc")
    await assert_unknown_key(jwks, "oct")
    assert (await jwks.get_key("sig", "EdDSA"))["kid"] == "sig"
    assert (await jwks.get_key(None, "EdDSA"))["kid"] == "sig"


async def test_prime_loads_the_keys_and_swallows_failures(jwks: JWKSClient, issuer: Issuer) -> None:
    issuer.go_down("connection refused")
    await jwks.prime()
    assert not jwks.loaded
    issuer.error = None
    await jwks.prime()  # ignores the cooldown: readiness probes want the truth now
    assert jwks.loaded
    assert issuer.requests == 2
    await jwks.get_key("k1", "EdDSA")
    assert issuer.requests == 2


async def test_a_failing_refresh_hook_does_not_break_key_lookup(
    http: httpx.AsyncClient, clock: FakeClock
) -> None:
    def explode(ok: bool) -> None:
        raise RuntimeError("metrics are down")

    client = JWKSClient(URL, http=http, clock=clock, on_refresh=explode)
    assert (await client.get_key("k1", "EdDSA"))["kid"] == "k1"
    await client.aclose()


async def test_aclose_leaves_an_injected_http_client_open(
    jwks: JWKSClient, http: httpx.AsyncClient
) -> None:
    await jwks.aclose()
    assert not http.is_closed
