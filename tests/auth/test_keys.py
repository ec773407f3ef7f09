"""EdDSA and PS* through python-jose's own encode/decode path, with real keys."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519, padding, rsa
from jose import jwk, jwt
from jose.constants import ALGORITHMS
from jose.exceptions import JOSEError, JWKError, JWTError
from jose.utils import base64url_encode

from auth.keys import EdDSAKey, RSAPSSKey, register
from auth.verify import AuthConfig, TokenVerifier

CLAIMS = {"sub": "user-1", "email": "ada@example.com"}
PSS_HASHES = {"PS256": hashes.SHA256, "PS384": hashes.SHA384, "PS512": hashes.SHA512}


def b64(data: bytes) -> str:
    return base64url_encode(data).decode("ascii")


def compact(header: dict[str, Any], claims: dict[str, Any], sign: Any) -> str:
    """A token signed outside python-jose, shaped like Better Auth's (no `typ`)."""
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return signing_input + "." + b64(sign(signing_input.encode()))


def pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def ed_public_jwk(ed_key: ed25519.Ed25519PrivateKey) -> dict[str, Any]:
    """The exact shape Better Auth serves for its default key."""
    raw = ed_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return {"alg": "EdDSA", "crv": "Ed25519", "x": b64(raw), "kty": "OKP", "kid": "k" * 32}


def test_a_token_verifier_makes_jose_support_eddsa_and_pss() -> None:
    """Registered by the verifier that needs them, not as a side effect of an import."""
    config = AuthConfig.build(
        secret="s" * 40, jwks_url=None, issuer=None, audience=(), algorithms=(), leeway=30
    )
    TokenVerifier(config)
    for alg in ("EdDSA", "PS256", "PS384", "PS512"):
        assert alg in ALGORITHMS.SUPPORTED
    assert jwk.get_key("EdDSA") is EdDSAKey
    assert jwk.get_key("PS256") is RSAPSSKey


def test_register_is_idempotent() -> None:
    register()
    register()
    assert jwk.get_key("EdDSA") is EdDSAKey
    assert jwk.get_key("PS512") is RSAPSSKey


def test_eddsa_token_signed_with_private_jwk_verifies_against_public_jwk(
    ed_key: ed25519.Ed25519PrivateKey, ed_public_jwk: dict[str, Any]
) -> None:
    private_jwk = EdDSAKey(ed_key, "EdDSA").to_dict()
    token = jwt.encode(CLAIMS, private_jwk, algorithm="EdDSA")
    assert jwt.decode(token, ed_public_jwk, algorithms=["EdDSA"]) == CLAIMS


def test_eddsa_token_signed_with_pem_verifies(
    ed_key: ed25519.Ed25519PrivateKey, ed_public_jwk: dict[str, Any]
) -> None:
    token = jwt.encode(CLAIMS, pem(ed_key), algorithm="EdDSA")
    assert jwt.decode(token, ed_public_jwk, algorithms=["EdDSA"]) == CLAIMS


def test_better_auth_shaped_eddsa_token_verifies_against_its_jwks_key(
    ed_key: ed25519.Ed25519PrivateKey, ed_public_jwk: dict[str, Any]
) -> None:
    token = compact({"alg": "EdDSA", "kid": ed_public_jwk["kid"]}, CLAIMS, ed_key.sign)
    assert jwt.decode(token, ed_public_jwk, algorithms=["EdDSA"]) == CLAIMS


def test_eddsa_public_jwk_round_trips_through_the_key_class(
    ed_key: ed25519.Ed25519PrivateKey, ed_public_jwk: dict[str, Any]
) -> None:
    public = EdDSAKey(ed_public_jwk, "EdDSA")
    assert public.is_public()
    assert "d" not in public.to_dict()
    assert public.to_dict() == {k: v for k, v in ed_public_jwk.items() if k != "kid"}
    assert EdDSAKey(ed_key, "EdDSA").public_key().to_dict() == public.to_dict()
    assert EdDSAKey(public.to_pem(), "EdDSA").to_dict() == public.to_dict()


def test_ed448_is_accepted_under_eddsa() -> None:
    key = ed448.Ed448PrivateKey.generate()
    token = jwt.encode(CLAIMS, EdDSAKey(key, "EdDSA").to_dict(), algorithm="EdDSA")
    public_jwk = EdDSAKey(key.public_key(), "EdDSA").to_dict()
    assert public_jwk["crv"] == "Ed448"
    assert jwt.decode(token, public_jwk, algorithms=["EdDSA"]) == CLAIMS


@pytest.mark.parametrize("crv", ["X25519", "P-256", None])
def test_eddsa_key_with_another_curve_is_rejected(
    ed_public_jwk: dict[str, Any], crv: str | None
) -> None:
    with pytest.raises(JWKError, match="curve"):
        EdDSAKey({**ed_public_jwk, "crv": crv}, "EdDSA")


@pytest.mark.parametrize("x", ["", "AAAA", 12345])
def test_eddsa_key_with_malformed_x_is_rejected(ed_public_jwk: dict[str, Any], x: object) -> None:
    with pytest.raises(JWKError):
        EdDSAKey({**ed_public_jwk, "x": x}, "EdDSA")


def test_eddsa_key_class_refuses_rsa_material(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(JWKError):
        EdDSAKey(pem(rsa_key), "EdDSA")
    with pytest.raises(JWKError, match="OKP"):
        EdDSAKey(RSAPSSKey(rsa_key, "PS256").public_key().to_dict(), "EdDSA")


def test_eddsa_public_key_cannot_sign(ed_public_jwk: dict[str, Any]) -> None:
    with pytest.raises(JOSEError, match="cannot sign"):
        jwt.encode(CLAIMS, ed_public_jwk, algorithm="EdDSA")


@pytest.mark.parametrize("alg", ["PS256", "PS384", "PS512"])
def test_pss_token_signed_with_pem_verifies_against_public_jwk(
    rsa_key: rsa.RSAPrivateKey, alg: str
) -> None:
    token = jwt.encode(CLAIMS, pem(rsa_key), algorithm=alg)
    public_jwk = RSAPSSKey(rsa_key.public_key(), alg).to_dict()
    assert public_jwk["alg"] == alg
    assert jwt.decode(token, public_jwk, algorithms=[alg]) == CLAIMS


def test_ps256_signature_made_directly_with_cryptography_verifies(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    token = compact(
        {"alg": "PS256", "kid": "r1"}, CLAIMS, lambda m: rsa_key.sign(m, pss, hashes.SHA256())
    )
    public_jwk = {**RSAPSSKey(rsa_key.public_key(), "PS256").to_dict(), "kid": "r1"}
    assert jwt.decode(token, public_jwk, algorithms=["PS256"]) == CLAIMS


def test_ps256_signature_with_a_salt_shorter_than_the_digest_is_rejected(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=0)
    token = compact({"alg": "PS256"}, CLAIMS, lambda m: rsa_key.sign(m, pss, hashes.SHA256()))
    public_jwk = RSAPSSKey(rsa_key.public_key(), "PS256").to_dict()
    with pytest.raises(JWTError):
        jwt.decode(token, public_jwk, algorithms=["PS256"])


def test_rs256_signature_does_not_pass_as_ps256(rsa_key: rsa.RSAPrivateKey) -> None:
    pkcs1 = padding.PKCS1v15()
    token = compact({"alg": "PS256"}, CLAIMS, lambda m: rsa_key.sign(m, pkcs1, hashes.SHA256()))
    public_jwk = RSAPSSKey(rsa_key.public_key(), "PS256").to_dict()
    with pytest.raises(JWTError):
        jwt.decode(token, public_jwk, algorithms=["PS256"])


@pytest.mark.parametrize("alg", ["EdDSA", "PS256"])
def test_tampered_payload_fails_verification(
    ed_key: ed25519.Ed25519PrivateKey, rsa_key: rsa.RSAPrivateKey, alg: str
) -> None:
    private = ed_key if alg == "EdDSA" else rsa_key
    token = jwt.encode(CLAIMS, pem(private), algorithm=alg)
    header, _, signature = token.split(".")
    forged = b64(json.dumps({**CLAIMS, "sub": "admin"}).encode())
    public_jwk = (EdDSAKey if alg == "EdDSA" else RSAPSSKey)(private.public_key(), alg).to_dict()
    with pytest.raises(JWTError, match="Signature verification failed"):
        jwt.decode(f"{header}.{forged}.{signature}", public_jwk, algorithms=[alg])


@pytest.mark.parametrize("signature", [b"", b"short", b"\x00" * 64, b"\xff" * 512])
def test_verify_returns_false_on_garbage_signatures(
    ed_key: ed25519.Ed25519PrivateKey, rsa_key: rsa.RSAPrivateKey, signature: bytes
) -> None:
    assert EdDSAKey(ed_key.public_key(), "EdDSA").verify(b"msg", signature) is False
    assert RSAPSSKey(rsa_key.public_key(), "PS256").verify(b"msg", signature) is False


def test_hs256_token_signed_with_the_public_key_is_rejected(
    ed_key: ed25519.Ed25519PrivateKey, ed_public_jwk: dict[str, Any]
) -> None:
    public_pem = ed_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (public_pem, json.dumps(ed_public_jwk).encode(), ed_public_jwk["x"].encode()):
        token = compact(
            {"alg": "HS256", "kid": ed_public_jwk["kid"]},
            CLAIMS,
            lambda m, s=secret: hmac.new(s, m, hashlib.sha256).digest(),
        )
        with pytest.raises(JWTError, match="alg"):
            jwt.decode(token, ed_public_jwk, algorithms=["EdDSA"])
        # Even a careless allow-list cannot make an OKP JWK act as an HMAC secret.
        with pytest.raises(JOSEError):
            jwt.decode(token, ed_public_jwk, algorithms=["EdDSA", "HS256"])


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256", "none"])
def test_key_classes_refuse_other_algorithms(
    ed_public_jwk: dict[str, Any], rsa_key: rsa.RSAPrivateKey, alg: str
) -> None:
    with pytest.raises(JWKError):
        EdDSAKey(ed_public_jwk, alg)
    with pytest.raises(JWKError):
        RSAPSSKey(rsa_key.public_key(), alg)
