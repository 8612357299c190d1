"""JWT start-up checks, minting and verification (api.security.tokens)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api.errors import AuthError
from api.security import Principal, Role, check_settings, mint_token, verify_token
from graphrag.config import Settings, load_settings
from graphrag.errors import ConfigError

SECRET = "k9V2qL7mR4tX8wZ1bN6cF3hJ5pD0sG2a"  # a test fixture (32 characters)
OTHER_SECRET = "Q8w3E6r1T9y4U7i2O5p0A3s6D9f2G5h8"


def make_settings(environment: str = "production", **api: Any) -> Settings:
    section: dict[str, Any] = {"jwt_secret": SECRET, **api}
    return load_settings(api=section, environment=environment)


def pem_private(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def pem_public(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def rsa_settings(tmp_path: Path, key: rsa.RSAPrivateKey) -> Settings:
    public = tmp_path / "jwt-public.pem"
    public.write_bytes(pem_public(key))
    return make_settings(jwt_algorithm="RS256", jwt_secret=None, jwt_public_key_file=public)


def claims(settings: Settings, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    base = {
        "sub": "alice",
        "role": "writer",
        "ws": "team-a",
        "iss": settings.api.jwt_issuer,
        "aud": settings.api.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "jti": "abc",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def reason(settings: Settings, token: str) -> str:
    with pytest.raises(AuthError) as caught:
        verify_token(settings, token)
    assert caught.value.status == 401
    assert not token or token not in caught.value.message
    return caught.value.message


# --- round trips -----------------------------------------------------------------------


def test_hs256_round_trip() -> None:
    settings = make_settings()
    token = mint_token(settings, subject="alice", role=Role.WRITER, workspace="team-a")
    principal = verify_token(settings, token)
    assert principal == Principal(subject="alice", role=Role.WRITER, workspace="team-a", via="jwt")
    payload = jwt.decode(token, SECRET, algorithms=["HS256"], audience="graphrag-api")
    assert set(payload) == {"sub", "role", "ws", "iss", "aud", "iat", "nbf", "exp", "jti"}
    assert payload["exp"] - payload["iat"] == 60 * settings.api.token_ttl_minutes


def test_ttl_and_jti_are_per_token() -> None:
    settings = make_settings()
    first = mint_token(settings, subject="a", role="reader", workspace="w", ttl_minutes=2)
    second = mint_token(settings, subject="a", role="reader", workspace="w", ttl_minutes=2)
    one = jwt.decode(first, options={"verify_signature": False})
    two = jwt.decode(second, options={"verify_signature": False})
    assert one["exp"] - one["iat"] == 120
    assert one["jti"] != two["jti"]


def test_missing_ws_claim_means_default_workspace() -> None:
    settings = make_settings(default_workspace="main")
    token = jwt.encode(claims(settings, ws=None), SECRET, algorithm="HS256")
    assert verify_token(settings, token).workspace == "main"


def test_rs256_round_trip_with_real_key_pair(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    settings = rsa_settings(tmp_path, rsa_key)
    check_settings(settings)
    token = mint_token(
        settings, subject="svc", role="admin", workspace="default", private_key=pem_private(rsa_key)
    )
    assert verify_token(settings, token).role is Role.ADMIN


def test_es256_round_trip(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> None:
    public = tmp_path / "ec.pem"
    public.write_bytes(pem_public(ec_key))
    settings = make_settings(jwt_algorithm="ES256", jwt_public_key_file=public)
    check_settings(settings)
    token = mint_token(
        settings, subject="svc", role="reader", workspace="default", private_key=pem_private(ec_key)
    )
    assert verify_token(settings, token).subject == "svc"


def test_rs256_mint_needs_the_private_key(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    settings = rsa_settings(tmp_path, rsa_key)
    with pytest.raises(ConfigError, match="private key"):
        mint_token(settings, subject="svc", role="reader", workspace="default")


@pytest.mark.parametrize(
    ("field", "value"), [("role", "root"), ("workspace", "../etc"), ("subject", "")]
)
def test_mint_refuses_bad_claims(field: str, value: str) -> None:
    kwargs: dict[str, Any] = {"subject": "a", "role": "reader", "workspace": "w", field: value}
    with pytest.raises(ConfigError):
        mint_token(make_settings(), **kwargs)


# --- refusals --------------------------------------------------------------------------


def test_expired_token() -> None:
    settings = make_settings()
    old = datetime.now(UTC) - timedelta(hours=2)
    token = jwt.encode(
        claims(settings, iat=old, nbf=old, exp=old + timedelta(minutes=5)), SECRET, "HS256"
    )
    assert reason(settings, token) == "token expired"


def test_leeway_accepts_small_clock_skew() -> None:
    settings = make_settings()
    just_expired = datetime.now(UTC) - timedelta(seconds=10)
    token = jwt.encode(claims(settings, exp=just_expired), SECRET, "HS256")
    assert verify_token(settings, token).subject == "alice"


def test_wrong_audience() -> None:
    settings = make_settings()
    token = jwt.encode(claims(settings, aud="someone-else"), SECRET, "HS256")
    assert reason(settings, token) == "wrong audience"


def test_wrong_issuer() -> None:
    settings = make_settings()
    token = jwt.encode(claims(settings, iss="evil"), SECRET, "HS256")
    assert reason(settings, token) == "wrong issuer"


def test_other_secret_is_an_invalid_signature() -> None:
    settings = make_settings()
    token = jwt.encode(claims(settings), OTHER_SECRET, "HS256")
    assert reason(settings, token) == "invalid signature"


def test_tampered_payload_is_an_invalid_signature() -> None:
    settings = make_settings()
    token = mint_token(settings, subject="bob", role="reader", workspace="w")
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    assert reason(settings, f"{header}.{forged}.{signature}") == "invalid signature"


def test_alg_none_is_refused() -> None:
    settings = make_settings()
    token = jwt.encode(claims(settings, role="admin"), None, algorithm="none")
    assert reason(settings, token) == "token algorithm not accepted"


def test_algorithm_confusion_hs256_with_the_public_key(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    """An HS256 token whose secret is the RSA public key must not pass as RS256."""
    settings = rsa_settings(tmp_path, rsa_key)
    public_pem = pem_public(rsa_key)
    segments = [
        base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=")
        for part in ({"alg": "HS256", "typ": "JWT"}, _json_claims(settings))
    ]
    signing_input = b".".join(segments)
    mac = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    token = (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()
    assert reason(settings, token) == "token algorithm not accepted"


def _json_claims(settings: Settings) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    return {**claims(settings, iat=now, nbf=now, exp=now + 300), "role": "admin"}


def test_token_of_another_key_pair(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    settings = rsa_settings(tmp_path, rsa_key)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(settings), pem_private(other), algorithm="RS256")
    assert reason(settings, token) == "invalid signature"


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "iss", "aud"])
def test_missing_required_claim(claim: str) -> None:
    settings = make_settings()
    token = jwt.encode(claims(settings, **{claim: None}), SECRET, "HS256")
    assert reason(settings, token) == f"token lacks the '{claim}' claim"


@pytest.mark.parametrize("role", [None, "root", 3])
def test_missing_or_unknown_role(role: Any) -> None:
    settings = make_settings()
    token = jwt.encode(claims(settings, role=role), SECRET, "HS256")
    assert "role" in reason(settings, token)


def test_invalid_workspace_claim() -> None:
    settings = make_settings()
    token = jwt.encode(claims(settings, ws="../../etc"), SECRET, "HS256")
    assert "'ws'" in reason(settings, token)


@pytest.mark.parametrize("text", ["", "garbage", "a.b.c", "x" * 9000])
def test_malformed_tokens(text: str) -> None:
    assert reason(make_settings(), text) == "malformed token"


# --- start-up checks -------------------------------------------------------------------


def test_good_secret_is_accepted() -> None:
    check_settings(make_settings())


def test_missing_secret_is_refused_even_in_development() -> None:
    for environment in ("production", "development"):
        with pytest.raises(ConfigError, match="GRAPHRAG_API__JWT_SECRET is not set"):
            check_settings(make_settings(environment, jwt_secret=None))


@pytest.mark.parametrize(
    "secret",
    [
        "short-but-random-Xy7",
        "please-change-me-before-production-use",
        "my-super-secret-signing-key-for-the-api",
        "example-example-example-example-example",
        "placeholder-0123456789-0123456789-01234",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "a" * 64,
        "abababababababababababababababababab",
        "replace-me",
    ],
)
def test_weak_secrets_are_refused_in_production(secret: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_settings(make_settings(jwt_secret=secret))
    message = str(caught.value)
    assert "GRAPHRAG_API__JWT_SECRET" in message
    assert "token_hex" in message
    assert secret not in message


def test_weak_secret_is_accepted_in_development() -> None:
    check_settings(make_settings("development", jwt_secret="change-me"))


def test_rs256_without_a_key_file_is_refused() -> None:
    settings = make_settings(jwt_algorithm="RS256")
    with pytest.raises(ConfigError, match="GRAPHRAG_API__JWT_PUBLIC_KEY_FILE is not set"):
        check_settings(settings)


def test_rs256_with_an_unreadable_key_file(tmp_path: Path) -> None:
    settings = make_settings(jwt_algorithm="RS256", jwt_public_key_file=tmp_path / "missing.pem")
    with pytest.raises(ConfigError, match="cannot be read"):
        check_settings(settings)


def test_rs256_with_a_private_key_file_is_refused(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "private.pem"
    path.write_text(pem_private(rsa_key))
    settings = make_settings(jwt_algorithm="RS256", jwt_public_key_file=path)
    with pytest.raises(ConfigError, match="does not hold a PEM public key") as caught:
        check_settings(settings)
    assert "PRIVATE" not in str(caught.value)


def test_key_of_the_wrong_type_is_refused(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    ec_file, rsa_file = tmp_path / "ec.pem", tmp_path / "rsa.pem"
    ec_file.write_bytes(pem_public(ec_key))
    rsa_file.write_bytes(pem_public(rsa_key))
    with pytest.raises(ConfigError, match="RS256 needs an RSA public key"):
        check_settings(make_settings(jwt_algorithm="RS256", jwt_public_key_file=ec_file))
    with pytest.raises(ConfigError, match="ES256 needs an EC public key"):
        check_settings(make_settings(jwt_algorithm="ES256", jwt_public_key_file=rsa_file))


def test_small_rsa_key_is_refused(tmp_path: Path) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = tmp_path / "small.pem"
    path.write_bytes(pem_public(small))
    with pytest.raises(ConfigError, match="at least 2048 bits"):
        check_settings(make_settings(jwt_algorithm="RS256", jwt_public_key_file=path))
