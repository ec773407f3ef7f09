"""Token to AuthenticatedUser: one python-jose decode path for every algorithm and key source."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from jose import jwk, jwt
from jose.backends.base import Key
from jose.exceptions import ExpiredSignatureError, JWSError, JWTClaimsError, JWTError

from auth import keys
from auth.errors import AuthError
from auth.sessions import SessionCheck
from auth.user import LATEST_NUMERIC_DATE, AuthenticatedUser

HMAC_ALGORITHMS = frozenset({"HS256"})
ASYMMETRIC_ALGORITHMS = frozenset({"EdDSA", "Ed25519", "ES256", "ES512", "RS256", "PS256"})
# Two names of one algorithm for Ed25519 keys (RFC 9864): allowing either allows both.
_SAME_ALGORITHM = {"EdDSA": "Ed25519", "Ed25519": "EdDSA"}
# Better Auth's tokens are about 1 KB; anything far larger is not one of them.
MAX_TOKEN_LENGTH = 16 * 1024
MAX_SUBJECT_LENGTH = 255


class KeySource(Protocol):
    async def get_key(self, kid: str | None, alg: str) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class AuthConfig:
    secret: str | None
    jwks_url: str | None
    issuer: str | None
    audience: tuple[str, ...]
    algorithms: frozenset[str]
    leeway: int
    require_session_id: bool = False

    @classmethod
    def build(
        cls,
        *,
        secret: str | None,
        jwks_url: str | None,
        issuer: str | None,
        audience: tuple[str, ...],
        algorithms: tuple[str, ...],
        leeway: int,
        require_session_id: bool = False,
    ) -> AuthConfig:
        supported: set[str] = set()
        if secret:
            supported |= HMAC_ALGORITHMS
        if jwks_url:
            supported |= ASYMMETRIC_ALGORITHMS
        named = {*algorithms, *(_SAME_ALGORITHM[a] for a in algorithms if a in _SAME_ALGORITHM)}
        allowed = frozenset(named) & supported if algorithms else frozenset(supported)
        if algorithms and not allowed:
            raise ValueError(
                "JWT_ALGORITHMS allows none of the algorithms the configured key sources "
                f"support ({', '.join(sorted(supported)) or 'none configured'})"
            )
        return cls(secret, jwks_url, issuer, audience, allowed, leeway, require_session_id)


class TokenVerifier:
    """Verifies tokens and remembers good ones until they expire (bounded LRU); a token that
    names a session is good only while `sessions` says the session is alive."""

    def __init__(
        self,
        config: AuthConfig,
        jwks: KeySource | None = None,
        *,
        sessions: SessionCheck | None = None,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        keys.register()  # python-jose learns EdDSA and PS256 before the first token
        self.config = config
        self.jwks = jwks
        self.sessions = sessions
        self._clock = clock
        self._cache: OrderedDict[str, AuthenticatedUser] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> AuthenticatedUser:
        user = await self._verified(token)
        await self.check_session(user)
        return user

    @property
    def session_check_seconds(self) -> float | None:
        """The revocation bound: how stale a session answer may be (None: never checked)."""
        return self.sessions.max_age if self.sessions is not None else None

    async def check_session(self, user: AuthenticatedUser, *, max_age: float | None = None) -> None:
        """AuthError `revoked` once the session behind the token has ended, as an answer at
        most `max_age` (default: the bound) old says; AuthUnavailable when that is unknown."""
        if self.sessions is not None:
            await self.sessions.check(user, max_age=max_age)

    async def _verified(self, token: str) -> AuthenticatedUser:
        cached = self._cache.get(token)
        now = self._clock()
        if cached is not None:
            if cached.expires_at is not None and now <= cached.expires_at + self.config.leeway:
                self._cache.move_to_end(token)
                return cached
            del self._cache[token]
        user = await self._decode(token, now)
        if self._cache_size > 0:
            self._cache[token] = user
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return user

    async def _decode(self, token: str, now: float) -> AuthenticatedUser:
        header = _unverified_header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.config.algorithms:
            raise AuthError.invalid("bad_signature", "signing algorithm not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AuthError.invalid("malformed", "kid must be a string")
        key: str | Mapping[str, Any]
        if alg in HMAC_ALGORITHMS:
            if self.config.secret is None:  # the allow-list admits HMAC only with a secret
                raise AuthError.invalid("bad_signature", "signing algorithm not allowed")
            key = self.config.secret
        else:
            if self.jwks is None:
                raise AuthError.invalid("unknown_key", "no key set configured")
            key = await self.jwks.get_key(kid, alg)
        claims = self._decode_claims(token, key, alg)
        return _user_from_claims(claims, self.config, now)

    def _decode_claims(self, token: str, key: str | Mapping[str, Any], alg: str) -> dict[str, Any]:
        options = {
            "leeway": self.config.leeway,
            "require_exp": True,
            "require_sub": True,
            "verify_aud": False,  # checked below: several audiences may be configured
            "verify_iss": False,
            "verify_at_hash": False,
        }
        prepared = _prepared_key(key, alg)
        try:
            claims: dict[str, Any] = jwt.decode(token, prepared, algorithms=[alg], options=options)
        except ExpiredSignatureError as exc:
            raise AuthError("expired", "Token has expired. Please log in again.") from exc
        except JWTClaimsError as exc:
            raise AuthError.invalid("bad_claims", _claims_detail(str(exc))) from exc
        except (JWTError, JWSError) as exc:
            message = str(exc)
            if message.startswith("missing required key"):  # python-jose raises no ClaimsError
                raise AuthError.invalid("bad_claims", _claims_detail(message)) from exc
            if "Signature verification failed" in message:
                raise AuthError.invalid("bad_signature", "signature verification failed") from exc
            raise AuthError.invalid("malformed", "token could not be decoded") from exc
        except (TypeError, ValueError, OverflowError) as exc:
            # With a prepared key only claim checks are left, and python-jose runs int() on
            # exp/iat/nbf unguarded: null, a list or 1e400 would otherwise become a 500.
            raise AuthError.invalid("bad_claims", "time claims must be numbers") from exc
        return claims


def _prepared_key(key: str | Mapping[str, Any], alg: str) -> Key:
    """The python-jose key object; a JWKS entry that cannot be loaded verifies nothing."""
    try:
        return jwk.construct(dict(key) if isinstance(key, Mapping) else key, alg)
    except Exception as exc:  # jose and cryptography raise many types here
        # A garbage JWKS entry must answer 401, never 500; its material is not worth a log.
        raise AuthError.invalid("unknown_key", "signing key is not usable") from exc


def _unverified_header(token: str) -> dict[str, Any]:
    if len(token) > MAX_TOKEN_LENGTH:
        raise AuthError.invalid("malformed", "token is too large")
    parts = token.count(".") + 1
    if parts == 5:
        raise AuthError.invalid("malformed", "encrypted tokens (JWE) are not accepted")
    if parts != 3:
        raise AuthError.invalid("malformed", "not a JSON Web Token")
    try:
        header = jwt.get_unverified_header(token)
    except (JWTError, JWSError, ValueError, TypeError) as exc:
        raise AuthError.invalid("malformed", "token header could not be decoded") from exc
    if not isinstance(header, dict):
        raise AuthError.invalid("malformed", "token header is not an object")
    if "crit" in header or "enc" in header:
        raise AuthError.invalid("malformed", "unsupported token header")
    return header


def _claims_detail(message: str) -> str:
    known = {
        "The token is not yet valid (nbf)": "token is not yet valid",
        "Subject must be a string.": "sub must be a string",
        'missing required key "exp" among claims': "exp claim missing",
        'missing required key "sub" among claims': "sub claim missing",
    }
    return known.get(message, "claims are not valid")


def _user_from_claims(claims: dict[str, Any], config: AuthConfig, now: float) -> AuthenticatedUser:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise AuthError.invalid("bad_claims", "sub must be a non-empty string")
    if len(sub) > MAX_SUBJECT_LENGTH or not sub.isprintable():
        # The owner column holds 255 printable characters; Better Auth ids are 32.
        raise AuthError.invalid("bad_claims", "sub is not a usable user id")
    _check_numeric_dates(claims)
    exp = claims.get("exp")
    if exp is None:
        raise AuthError.invalid("bad_claims", "exp claim missing")
    iat = claims.get("iat")
    if iat is not None and iat > now + config.leeway:
        raise AuthError.invalid("bad_claims", "token issued in the future")
    if config.issuer is not None and claims.get("iss") != config.issuer:
        raise AuthError.invalid("bad_claims", "wrong issuer")
    if config.audience and not _audience_matches(claims.get("aud"), config.audience):
        raise AuthError.invalid("bad_claims", "wrong audience")
    email, name = claims.get("email"), claims.get("name")
    return AuthenticatedUser(
        user_id=sub,
        email=email if isinstance(email, str) else None,
        name=name if isinstance(name, str) else None,
        expires_at=int(exp),
        session_id=_session_id(claims, config),
        claims=claims,
    )


def _session_id(claims: dict[str, Any], config: AuthConfig) -> str | None:
    """Better Auth's session id, when `definePayload` put it in the token as `sid`."""
    sid = claims.get("sid")
    if sid is None:
        if config.require_session_id:
            raise AuthError.invalid("bad_claims", "sid claim missing")
        return None
    if not isinstance(sid, str) or not sid.strip():
        raise AuthError.invalid("bad_claims", "sid must be a non-empty string")
    if len(sid) > MAX_SUBJECT_LENGTH or not sid.isprintable():
        raise AuthError.invalid("bad_claims", "sid is not a usable session id")
    return sid


def _check_numeric_dates(claims: dict[str, Any]) -> None:
    for claim in ("exp", "iat", "nbf"):
        if claim not in claims:
            continue
        value = claims[claim]
        # python-jose accepts "123" (it runs int()); RFC 7519 NumericDates are JSON numbers.
        if not _is_number(value):
            raise AuthError.invalid("bad_claims", f"{claim} must be a number")
        # It also accepts 10**400 and 1e308: tokens that never expire, which no issuer means.
        if not 0 <= value <= LATEST_NUMERIC_DATE:
            raise AuthError.invalid("bad_claims", f"{claim} is out of range")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _audience_matches(aud: object, accepted: tuple[str, ...]) -> bool:
    values = [aud] if isinstance(aud, str) else aud
    if not isinstance(values, list):
        return False
    return any(isinstance(value, str) and value in accepted for value in values)
