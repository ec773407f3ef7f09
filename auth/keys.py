"""EdDSA and RSA-PSS key classes for python-jose, which ships neither (RFC 8037, RFC 7518 §3.5)."""

from __future__ import annotations

import binascii
from typing import Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519, padding, rsa
from jose import jwk
from jose.backends.base import Key
from jose.backends.cryptography_backend import CryptographyRSAKey
from jose.exceptions import JWKError
from jose.utils import base64url_decode, base64url_encode

EDDSA = "EdDSA"
# RFC 9864's fully specified name: EdDSA with the Ed25519 curve only. Issuers are starting to
# emit it, and Python JOSE libraries already warn about the polymorphic "EdDSA".
ED25519 = "Ed25519"
EDDSA_ALGORITHMS = (EDDSA, ED25519)
PSS_ALGORITHMS = ("PS256", "PS384", "PS512")

_PublicKey = ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
_PrivateKey = ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
# RFC 8037 names both curves under the one "EdDSA" alg; cryptography makes Ed448 cost nothing extra.
_CURVES: dict[str, tuple[type[_PublicKey], type[_PrivateKey]]] = {
    "Ed25519": (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey),
    "Ed448": (ed448.Ed448PublicKey, ed448.Ed448PrivateKey),
}


def _b64(data: bytes) -> str:
    return base64url_encode(data).decode("ascii")


def _unb64(value: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError("OKP key member must be a base64url string")
    return base64url_decode(value.encode("ascii"))


class EdDSAKey(Key):
    """An Ed25519 or Ed448 key: a JWK dict (kty OKP), a cryptography key object, or PEM."""

    def __init__(self, key: object, algorithm: str) -> None:
        if algorithm not in EDDSA_ALGORITHMS:
            # Keeps a public key from being reused under another alg (e.g. as an HMAC secret).
            raise JWKError(f"EdDSAKey cannot be used with algorithm {algorithm}")
        self._algorithm = algorithm
        self.prepared_key: _PublicKey | _PrivateKey = self._load(key)
        if algorithm == ED25519 and not isinstance(
            self.prepared_key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey
        ):
            raise JWKError("The Ed25519 algorithm needs an Ed25519 key")

    @staticmethod
    def _load(key: object) -> _PublicKey | _PrivateKey:
        if isinstance(key, _PublicKey | _PrivateKey):
            return key
        if isinstance(key, dict):
            return EdDSAKey._from_jwk(key)
        if isinstance(key, str):
            key = key.encode("utf-8")
        if isinstance(key, bytes) and key.lstrip().startswith(b"-----BEGIN"):
            return EdDSAKey._from_pem(key)
        raise JWKError("EdDSA key must be an OKP JWK, an Ed25519/Ed448 key object, or PEM")

    @staticmethod
    def _from_jwk(data: dict[str, object]) -> _PublicKey | _PrivateKey:
        if data.get("kty") != "OKP":
            raise JWKError(f"Incorrect key type. Expected: 'OKP', Received: {data.get('kty')}")
        crv = data.get("crv")
        if not isinstance(crv, str) or crv not in _CURVES:
            raise JWKError(f"Unsupported EdDSA curve: {crv}")
        public_cls, private_cls = _CURVES[crv]
        try:
            if "d" in data:
                return private_cls.from_private_bytes(_unb64(data["d"]))
            return public_cls.from_public_bytes(_unb64(data.get("x")))
        except (ValueError, TypeError, binascii.Error) as exc:
            raise JWKError(f"Invalid OKP key material for {crv}") from exc

    @staticmethod
    def _from_pem(pem: bytes) -> _PublicKey | _PrivateKey:
        loaded: object
        try:
            try:
                loaded = serialization.load_pem_public_key(pem)
            except ValueError:
                loaded = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise JWKError("Unreadable PEM key") from exc
        if not isinstance(loaded, _PublicKey | _PrivateKey):
            raise JWKError("PEM key is not an Ed25519 or Ed448 key")
        return loaded

    def is_public(self) -> bool:
        return isinstance(self.prepared_key, _PublicKey)

    def _public(self) -> _PublicKey:
        key = self.prepared_key
        return key if isinstance(key, _PublicKey) else key.public_key()

    def sign(self, msg: bytes) -> bytes:
        if isinstance(self.prepared_key, _PublicKey):
            raise JWKError("An EdDSA public key cannot sign")
        return self.prepared_key.sign(msg)

    def verify(self, msg: bytes, sig: bytes) -> bool:
        try:
            self._public().verify(sig, msg)
        except InvalidSignature:
            return False
        return True

    def public_key(self) -> Self:
        if self.is_public():
            return self
        return type(self)(self._public(), self._algorithm)

    def to_pem(self) -> bytes:
        key = self.prepared_key
        if isinstance(key, _PublicKey):
            return key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def to_dict(self) -> dict[str, str]:
        public = self._public()
        raw = serialization.Encoding.Raw
        data = {
            "alg": self._algorithm,
            "kty": "OKP",
            "crv": "Ed25519" if isinstance(public, ed25519.Ed25519PublicKey) else "Ed448",
            "x": _b64(public.public_bytes(raw, serialization.PublicFormat.Raw)),
        }
        key = self.prepared_key
        if not isinstance(key, _PublicKey):
            private_raw = key.private_bytes(
                raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
            data["d"] = _b64(private_raw)
        return data


class RSAPSSKey(CryptographyRSAKey):
    """PS256/PS384/PS512: RSASSA-PSS with MGF1 of the same hash and a salt as long as the digest."""

    def __init__(self, key: object, algorithm: str) -> None:
        if algorithm not in PSS_ALGORITHMS:
            raise JWKError(f"RSAPSSKey cannot be used with algorithm {algorithm}")
        # The parent parses every RSA key form but knows only the RS names; the RS alg with the
        # same hash gives it the right hash_alg, then the key reports its real alg.
        super().__init__(key, "RS" + algorithm[2:])
        self._algorithm = algorithm

    def _padding(self) -> padding.PSS:
        digest: hashes.HashAlgorithm = self.hash_alg()
        # RFC 7518 §3.5 fixes the salt length to the digest size, and so do `jose` (npm) and
        # Better Auth; PSS.AUTO on verify would also accept other salt lengths.
        return padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)

    def sign(self, msg: bytes) -> bytes:
        if isinstance(self.prepared_key, rsa.RSAPublicKey):
            raise JWKError("An RSA public key cannot sign")
        try:
            signature: bytes = self.prepared_key.sign(msg, self._padding(), self.hash_alg())
        except (ValueError, TypeError) as exc:
            raise JWKError(exc) from exc
        return signature

    def verify(self, msg: bytes, sig: bytes) -> bool:
        key = self.prepared_key
        public = key if isinstance(key, rsa.RSAPublicKey) else key.public_key()
        try:
            public.verify(sig, msg, self._padding(), self.hash_alg())
        except InvalidSignature:
            return False
        return True


def register() -> None:
    """Make jose's jwk/jws/jwt accept EdDSA (and Ed25519) and PS*; safe to call repeatedly."""
    # register_key also adds the alg to ALGORITHMS.SUPPORTED, which jws.sign checks.
    for alg in EDDSA_ALGORITHMS:
        if jwk.get_key(alg) is not EdDSAKey:
            jwk.register_key(alg, EdDSAKey)
    for alg in PSS_ALGORITHMS:
        if jwk.get_key(alg) is not RSAPSSKey:
            jwk.register_key(alg, RSAPSSKey)
