"""API keys for machine clients: ``grk_<workspace>_<key id>_<secret>``.

A key names its workspace and its id in clear, so the service knows which workspace's store
to look in and audit lines can name the key; only the SHA-256 hex digest of the secret part
is stored (:class:`~graphrag.records.ApiKeyRecord`). The whole key is shown once, when it is
created. A revoked key stays in the store (for the audit trail) and is refused.

The secret is 32 random bytes (``secrets.token_urlsafe(32)``, 43 characters), so a fast hash
is enough: there is nothing to brute-force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from api.errors import AuthError
from api.security.principal import WORKSPACE_NAME, Principal, Role, is_workspace_name
from graphrag.errors import InvalidArgumentError, NotFoundError
from graphrag.models import utcnow
from graphrag.ports import ApiKeyStore
from graphrag.records import ApiKeyRecord

KEY_PREFIX = "grk_"
"""Every API key starts with this (and no token does)."""

MAX_NAME_LENGTH = 200
_KEY_ID_BYTES = 6  # 12 hex characters
_SECRET_BYTES = 32  # 43 URL-safe characters
_KEY = re.compile(
    rf"{KEY_PREFIX}(?P<workspace>{WORKSPACE_NAME.pattern})_(?P<key_id>[0-9a-f]{{12}})"
    r"_(?P<secret>[A-Za-z0-9_-]{43})"
)


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret part: its SHA-256 hex digest."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def format_key(workspace: str, key_id: str, secret: str) -> str:
    """Assemble the text of a key (the inverse of :func:`parse_key`)."""
    return f"{KEY_PREFIX}{workspace}_{key_id}_{secret}"


def parse_key(text: str) -> tuple[str, str, str]:
    """Split a key into its workspace, key id and secret.

    Args:
        text: The key as the client sent it.

    Returns:
        ``(workspace, key_id, secret)``.

    Raises:
        AuthError: ``malformed API key`` when the text is not a key of this service.
    """
    match = _KEY.fullmatch(text)
    if match is None:
        raise AuthError("malformed API key")
    return match["workspace"], match["key_id"], match["secret"]


async def create_key(
    store: ApiKeyStore, *, workspace: str, name: str, role: Role | str, created_by: str
) -> tuple[ApiKeyRecord, str]:
    """Create a key in a workspace's store.

    Args:
        store: The store of the workspace the key is for.
        workspace: That workspace's name (written into the key).
        name: What the key is for (a label).
        role: ``reader``, ``writer`` or ``admin``.
        created_by: Subject of the admin creating it.

    Returns:
        The stored record and the key's text, which is shown this once and never again.

    Raises:
        InvalidArgumentError: If the name, role or workspace is invalid.
    """
    label = name.strip()
    if not label or len(label) > MAX_NAME_LENGTH:
        msg = f"an API key needs a name of 1 to {MAX_NAME_LENGTH} characters (what it is for)"
        raise InvalidArgumentError(msg)
    if role not in {r.value for r in Role}:
        raise InvalidArgumentError(f"unknown role {role!r}; use reader, writer or admin")
    if not is_workspace_name(workspace):
        raise InvalidArgumentError(f"invalid workspace name {workspace!r}")
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    record = ApiKeyRecord(
        id=key_id,
        name=label,
        role=Role(role).value,
        key_hash=hash_secret(secret),
        created_by=created_by,
    )
    await store.save_api_key(record)
    return record, format_key(workspace, key_id, secret)


async def list_keys(store: ApiKeyStore) -> list[ApiKeyRecord]:
    """Every key of the store (revoked ones too), newest first."""
    return await store.list_api_keys()


async def revoke_key(store: ApiKeyStore, key_id: str) -> ApiKeyRecord:
    """Revoke a key; revoking a revoked key changes nothing.

    Args:
        store: The store of the key's workspace.
        key_id: The key's id.

    Returns:
        The record, with ``revoked_at`` set.

    Raises:
        NotFoundError: If the store holds no key with this id.
    """
    for record in await store.list_api_keys():
        if record.id == key_id:
            if record.revoked_at is not None:
                return record
            revoked = record.model_copy(update={"revoked_at": utcnow()})
            await store.save_api_key(revoked)
            return revoked
    raise NotFoundError(f"no API key {key_id!r} in this workspace")


async def verify_key(store: ApiKeyStore, text: str) -> Principal:
    """Check a key against the store of the workspace it names.

    Args:
        store: The store of the workspace named in the key (the caller parses the key to
            pick it; the principal's workspace is the one the key names, which is the one
            whose store knows it).
        text: The key as the client sent it.

    Returns:
        The principal: subject ``key:<id>``, the key's role, its workspace and id.

    Raises:
        AuthError: ``malformed API key``, ``unknown API key`` or ``revoked API key``.
    """
    workspace, key_id, secret = parse_key(text)
    record = await store.find_api_key(hash_secret(secret))
    if record is None or not hmac.compare_digest(record.id.encode(), key_id.encode()):
        raise AuthError("unknown API key")
    if record.revoked_at is not None:
        raise AuthError("revoked API key")
    if record.role not in {r.value for r in Role}:
        raise AuthError("API key has an unknown role; create a new key")
    return Principal(
        subject=f"key:{record.id}",
        role=Role(record.role),
        workspace=workspace,
        via="api_key",
        key_id=record.id,
    )
