"""Better Auth's JWKS, fetched lazily and cached in memory, with a cooldown on refetches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from auth.errors import AuthError

logger = logging.getLogger(__name__)

Jwk = dict[str, Any]

# Which JWK key type each asymmetric alg needs. HMAC is absent on purpose: a JWKS key is never an
# HMAC secret (SPEC §4), so an oct key in the set is ignored and an HS* token finds no key here.
KEY_TYPES: dict[str, str] = {
    "EdDSA": "OKP",
    "Ed25519": "OKP",  # RFC 9864's name for EdDSA on Ed25519
    **{f"ES{bits}": "EC" for bits in (256, 384, 512)},
    **{f"{family}{bits}": "RSA" for family in ("RS", "PS") for bits in (256, 384, 512)},
}


def _parse_key_set(document: object) -> list[Jwk]:
    """The signing keys of a JWK Set; raises ValueError when the document is not a key set."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK Set")
    return [
        key
        for key in document["keys"]
        if isinstance(key, dict)
        and key.get("kty") in KEY_TYPES.values()
        and key.get("use", "sig") == "sig"
    ]


def _within(moment: float | None, now: float, seconds: float) -> bool:
    return moment is not None and now - moment < seconds


# A key published under one name of an algorithm serves tokens signed under the other.
_KEY_ALGS: dict[str, frozenset[str]] = {
    "EdDSA": frozenset({"EdDSA", "Ed25519"}),
    "Ed25519": frozenset({"EdDSA", "Ed25519"}),
}


def _fits(key: Jwk, alg: str) -> bool:
    if key.get("kty") != KEY_TYPES.get(alg):
        return False
    if alg == "Ed25519" and key.get("crv") != "Ed25519":
        return False  # "EdDSA" also names Ed448, "Ed25519" does not
    return key.get("alg", alg) in _KEY_ALGS.get(alg, frozenset({alg}))


class JWKSClient:
    """Signing keys by kid for one JWKS URL.

    Better Auth's JWKS has no Cache-Control, so keys are refreshed every `refresh_interval` and
    refetched on an unknown kid. Unknown kids trigger at most one fetch per `cooldown` seconds, and
    after a failed fetch nothing is tried for `cooldown` seconds, so a flood of forged kids or an
    issuer outage cannot turn into a flood of requests. A periodic refresh does not count against
    the unknown-kid budget: a key rotated in just after it is still fetched on first sight.
    """

    def __init__(
        self,
        url: str,
        *,
        http: httpx.AsyncClient | None = None,
        cooldown: float = 30.0,
        refresh_interval: float = 300.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_refresh: Callable[[bool], None] | None = None,
    ) -> None:
        self.url = url
        self.on_refresh = on_refresh
        self.fetch_count = 0
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient()
        self._cooldown = cooldown
        self._refresh_interval = refresh_interval
        self._timeout = timeout
        self._clock = clock
        self._keys: list[Jwk] | None = None
        self._fetched_at = 0.0
        self._failed_at: float | None = None
        self._kid_fetch_at: float | None = None
        self._inflight: asyncio.Task[None] | None = None

    @property
    def loaded(self) -> bool:
        """Whether a key set has ever been fetched successfully."""
        return self._keys is not None

    async def get_key(self, kid: str | None, alg: str) -> Jwk:
        """The JWK that verifies a token with this header, or AuthError."""
        if alg not in KEY_TYPES:
            raise AuthError.invalid("bad_signature", "algorithm not allowed for JWKS keys")
        if self._keys is None:
            await self._refetch(force=False, unknown_kid=True)  # this fetch looks for this kid
        elif self._clock() - self._fetched_at >= self._refresh_interval:
            # Stale but usable: refresh behind the request rather than make it wait.
            self._start_fetch(force=False)
        key = self._find(kid, alg)
        if key is None:
            await self._refetch(force=False, unknown_kid=True)
            key = self._find(kid, alg)
        if key is None:
            raise AuthError.invalid("unknown_key", "unknown signing key")
        return dict(key)

    async def prime(self) -> None:
        """Fetch now, ignoring the cooldown (for /readyz); failures only show in `loaded`."""
        await self._refetch(force=True)

    async def aclose(self) -> None:
        if self._inflight is not None:
            self._inflight.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._inflight
        if self._owns_http:
            await self._http.aclose()

    def _find(self, kid: str | None, alg: str) -> Jwk | None:
        keys = self._keys or []
        if kid is None:
            # SPEC §4: a kid-less token is tried only when one key could have signed it.
            fitting = [key for key in keys if _fits(key, alg)]
            return fitting[0] if len(fitting) == 1 else None
        named = [key for key in keys if key.get("kid") == kid]
        if not named:
            return None
        for key in named:
            if _fits(key, alg):
                return key
        # The kid is known, so a refetch would not help: the token claims an alg its key does not
        # allow, which is a signature problem (an alg-confusion attempt or a misconfigured issuer).
        raise AuthError.invalid("bad_signature", "algorithm does not match the signing key")

    async def _refetch(self, *, force: bool, unknown_kid: bool = False) -> None:
        task = self._start_fetch(force=force, unknown_kid=unknown_kid)
        if task is not None:
            # Shielded so that one cancelled request does not cancel the fetch others wait on.
            await asyncio.shield(task)

    def _start_fetch(self, *, force: bool, unknown_kid: bool = False) -> asyncio.Task[None] | None:
        """The in-flight fetch, a new one if none runs and the cooldown allows it, else None."""
        if self._inflight is not None:
            return self._inflight
        now = self._clock()
        if not force and (
            _within(self._failed_at, now, self._cooldown)
            or (unknown_kid and _within(self._kid_fetch_at, now, self._cooldown))
        ):
            return None
        if unknown_kid:
            self._kid_fetch_at = now
        self._inflight = asyncio.create_task(self._fetch())
        return self._inflight

    async def _fetch(self) -> None:
        self.fetch_count += 1
        try:
            keys = await self._download()
        except Exception as exc:
            # Never the body: it may hold key material. Cached keys stay in use.
            logger.warning("JWKS fetch from %s failed: %s", self.url, exc)
            self._failed_at = self._clock()
            ok = False
        else:
            self._keys = keys
            self._fetched_at = self._clock()
            self._failed_at = None
            ok = True
        finally:
            self._inflight = None
        self._notify(ok)

    async def _download(self) -> list[Jwk]:
        response = await self._http.get(
            self.url, headers={"Accept": "application/json"}, timeout=self._timeout
        )
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            raise ValueError("response is not JSON") from None
        return _parse_key_set(document)

    def _notify(self, ok: bool) -> None:
        if self.on_refresh is None:
            return
        try:
            self.on_refresh(ok)
        except Exception:
            logger.exception("JWKS on_refresh hook failed")
