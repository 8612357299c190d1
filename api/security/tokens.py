"""JSON Web Tokens for people and services: start-up checks, minting, verification.

One algorithm per deployment (``api.jwt_algorithm``): ``HS256`` with a shared secret
(``api.jwt_secret``), or ``RS256`` / ``ES256`` with a public key file
(``api.jwt_public_key_file``; tokens are minted elsewhere with the private key). Only the
configured algorithm is accepted, so an ``alg: none`` token or an HS256 token signed with the
RSA public key as the secret (algorithm confusion) is refused.

Claims: ``sub`` (who), ``role`` (``reader``, ``writer``, ``admin``), ``ws`` (workspace,
default ``api.default_workspace``), ``iss``, ``aud``, ``iat``, ``nbf``, ``exp``, ``jti``.
Failures raise :class:`~api.errors.AuthError` with a short reason; the token itself never
appears in a message.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.exceptions import InvalidJTIError, InvalidSubjectError

from api.errors import AuthError
from api.security.principal import Principal, Role, is_workspace_name
from graphrag.config import Settings
from graphrag.config_api import Environment, JwtAlgorithm
from graphrag.errors import ConfigError

logger = logging.getLogger("api.security")

LEEWAY_SECONDS = 30
"""Clock skew tolerated on ``exp``, ``nbf`` and ``iat``."""

MIN_SECRET_LENGTH = 32
MAX_TOKEN_LENGTH = 8192
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]

_HS256_VARIABLE = "GRAPHRAG_API__JWT_SECRET"
_KEY_VARIABLE = "GRAPHRAG_API__JWT_PUBLIC_KEY_FILE"
_HOW_TO_GENERATE = (
    "generate one with: python -c 'import secrets; print(secrets.token_hex(32))' "
    "(or: openssl rand -hex 32)"
)
_PLACEHOLDER_WORDS = (
    "change",
    "secret",
    "example",
    "placeholder",
    "xxx",
    "replace",
    "dummy",
    "insecure",
    "password",
    "sample",
)
_MIN_DISTINCT_CHARACTERS = 8
_GENERATE_KEYS = {
    JwtAlgorithm.RS256: "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 "
    "-out jwt-private.pem && openssl pkey -in jwt-private.pem -pubout -out jwt-public.pem",
    JwtAlgorithm.ES256: "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
    "-out jwt-private.pem && openssl pkey -in jwt-private.pem -pubout -out jwt-public.pem",
}

_FAILURES: list[tuple[type[jwt.PyJWTError], str]] = [
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidIssuedAtError, "invalid 'iat' claim"),
    (InvalidSubjectError, "invalid 'sub' claim"),
    (InvalidJTIError, "invalid 'jti' claim"),
    (jwt.InvalidSignatureError, "invalid signature"),
    (jwt.InvalidAlgorithmError, "token algorithm not accepted"),
    (jwt.DecodeError, "malformed token"),
]


def is_placeholder_secret(secret: str) -> bool:
    """Whether a secret looks like a placeholder rather than random bytes.

    True when it contains a placeholder word (``change``, ``secret``, ``example``,
    ``placeholder``, ``xxx``...) or fewer than 8 distinct characters (``aaaa...``,
    ``abab...``). Hex or URL-safe random secrets of 32+ characters never match these words
    by chance often enough to matter; hex ones (``secrets.token_hex(32)``) never do.
    """
    lowered = secret.lower()
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return True
    return len(set(secret)) < _MIN_DISTINCT_CHARACTERS


def check_settings(settings: Settings) -> None:
    """Refuse to start the service with unusable or weak token settings.

    ``HS256`` needs ``api.jwt_secret``; outside ``environment = development`` it must have at
    least 32 characters and not look like a placeholder. ``RS256`` / ``ES256`` need
    ``api.jwt_public_key_file``: a readable PEM public key of the matching type (RSA of at
    least 2048 bits, or EC on P-256). Messages name the variable to set, never its value.

    Args:
        settings: The service's settings.

    Raises:
        ConfigError: If the settings cannot (or must not) be used to verify tokens.
    """
    api = settings.api
    if api.jwt_algorithm == JwtAlgorithm.HS256:
        _check_secret(settings)
    else:
        _public_key(api.jwt_algorithm, api.jwt_public_key_file)


def _check_secret(settings: Settings) -> None:
    secret = settings.api.jwt_secret
    if secret is None or not secret.get_secret_value():
        msg = f"{_HS256_VARIABLE} is not set: the API needs it to verify HS256 tokens; "
        raise ConfigError(msg + _HOW_TO_GENERATE)
    value = secret.get_secret_value()
    problem = None
    if len(value) < MIN_SECRET_LENGTH:
        problem = f"is shorter than {MIN_SECRET_LENGTH} characters"
    elif is_placeholder_secret(value):
        problem = "looks like a placeholder"
    if problem is None:
        return
    if settings.environment == Environment.DEVELOPMENT:
        logger.warning(
            "%s %s; accepted only because environment=development", _HS256_VARIABLE, problem
        )
        return
    msg = f"{_HS256_VARIABLE} {problem}; set a random secret of at least 32 characters, "
    raise ConfigError(msg + _HOW_TO_GENERATE)


def _public_key(
    algorithm: JwtAlgorithm, path: Path | None
) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """The verification key of RS256/ES256, read from ``path`` (cached while unchanged)."""
    how = f"generate a key pair with: {_GENERATE_KEYS[algorithm]}"
    if path is None:
        msg = f"{_KEY_VARIABLE} is not set: {algorithm} tokens need a PEM public key file; {how}"
        raise ConfigError(msg)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        msg = f"{_KEY_VARIABLE}={path} cannot be read ({exc.strerror}); {how}"
        raise ConfigError(msg) from None
    return _load_public_key(algorithm, str(path), stamp)


@lru_cache(maxsize=8)
def _load_public_key(
    algorithm: JwtAlgorithm, path: str, _stamp: int
) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        msg = f"{_KEY_VARIABLE}={path} cannot be read ({exc.strerror})"
        raise ConfigError(msg) from None
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError):
        msg = (
            f"{_KEY_VARIABLE}={path} does not hold a PEM public key "
            "('-----BEGIN PUBLIC KEY-----'); give the public half, never the private key: "
            "openssl pkey -in jwt-private.pem -pubout -out jwt-public.pem"
        )
        raise ConfigError(msg) from None
    if algorithm == JwtAlgorithm.RS256:
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
            msg = f"{_KEY_VARIABLE}={path}: RS256 needs an RSA public key of at least 2048 bits"
            raise ConfigError(msg)
        return key
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        msg = f"{_KEY_VARIABLE}={path}: ES256 needs an EC public key on the P-256 curve"
        raise ConfigError(msg)
    return key


def _verification_key(settings: Settings) -> Any:
    api = settings.api
    if api.jwt_algorithm == JwtAlgorithm.HS256:
        if api.jwt_secret is None:
            raise ConfigError(f"{_HS256_VARIABLE} is not set; {_HOW_TO_GENERATE}")
        return api.jwt_secret.get_secret_value()
    return _public_key(api.jwt_algorithm, api.jwt_public_key_file)


def mint_token(
    settings: Settings,
    *,
    subject: str,
    role: Role | str,
    workspace: str,
    ttl_minutes: int | None = None,
    private_key: str | None = None,
) -> str:
    """Sign a token for ``subject`` with ``role`` in ``workspace``.

    Args:
        settings: The service's settings (algorithm, secret, issuer, audience, lifetime).
        subject: The ``sub`` claim: who the token is for.
        role: ``reader``, ``writer`` or ``admin``.
        workspace: The ``ws`` claim.
        ttl_minutes: Lifetime; ``api.token_ttl_minutes`` by default.
        private_key: PEM private key, required for RS256/ES256 (ignored for HS256).

    Returns:
        The encoded token.

    Raises:
        ConfigError: If the secret or private key is missing or unusable, or the role,
            subject or workspace is invalid.
    """
    api = settings.api
    claims = _claims(settings, subject, role, workspace, ttl_minutes or api.token_ttl_minutes)
    if api.jwt_algorithm == JwtAlgorithm.HS256:
        key: Any = _verification_key(settings)
    elif private_key is None:
        msg = f"{api.jwt_algorithm} tokens are signed with the private key: pass its PEM text"
        raise ConfigError(msg)
    else:
        key = private_key
    try:
        return jwt.encode(claims, key, algorithm=api.jwt_algorithm.value)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        msg = f"cannot sign a {api.jwt_algorithm} token with the given key ({type(exc).__name__})"
        raise ConfigError(msg) from None


def _claims(
    settings: Settings, subject: str, role: Role | str, workspace: str, ttl_minutes: int
) -> dict[str, Any]:
    if not subject:
        raise ConfigError("a token needs a subject (who it is for)")
    if role not in {r.value for r in Role}:
        raise ConfigError(f"unknown role {role!r}; use reader, writer or admin")
    if not is_workspace_name(workspace):
        msg = (
            f"invalid workspace name {workspace!r}: a lower-case letter, then lower-case "
            "letters, digits and '-' (at most 40)"
        )
        raise ConfigError(msg)
    now = datetime.now(UTC)
    return {
        "sub": subject,
        "role": Role(role).value,
        "ws": workspace,
        "iss": settings.api.jwt_issuer,
        "aud": settings.api.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=ttl_minutes),
        "jti": secrets.token_urlsafe(16),
    }


def verify_token(settings: Settings, token: str) -> Principal:
    """Check a token's signature and claims and return who it stands for.

    Args:
        settings: The service's settings.
        token: The encoded token (from ``Authorization: Bearer``).

    Returns:
        The principal: ``sub``, ``role``, ``ws`` (default ``api.default_workspace``).

    Raises:
        AuthError: With a short reason ("token expired", "wrong audience", "invalid
            signature", "malformed token"...) when the token is not acceptable.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise AuthError("malformed token")
    api = settings.api
    try:
        claims = jwt.decode(
            token,
            _verification_key(settings),
            algorithms=[api.jwt_algorithm.value],
            audience=api.jwt_audience,
            issuer=api.jwt_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"token lacks the '{exc.claim}' claim") from None
    except jwt.PyJWTError as exc:
        raise AuthError(_reason(exc)) from None
    return _principal(settings, claims)


def _reason(exc: jwt.PyJWTError) -> str:
    for kind, reason in _FAILURES:
        if isinstance(exc, kind):
            return reason
    return "invalid token"


def _principal(settings: Settings, claims: dict[str, Any]) -> Principal:
    role = claims.get("role")
    if not isinstance(role, str) or role not in {r.value for r in Role}:
        raise AuthError("token has no valid 'role' claim (reader, writer or admin)")
    workspace = claims.get("ws", settings.api.default_workspace)
    if not is_workspace_name(workspace):
        raise AuthError("token has an invalid 'ws' claim")
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise AuthError("invalid 'sub' claim")
    return Principal(subject=subject, role=Role(role), workspace=workspace, via="jwt")
