"""API keys: create, verify, revoke, list (api.security.keys) over a small in-memory store."""

from __future__ import annotations

import hashlib

import pytest

from api.errors import AuthError
from api.security import (
    KEY_PREFIX,
    Principal,
    Role,
    create_key,
    list_keys,
    parse_key,
    revoke_key,
    verify_key,
)
from graphrag.errors import InvalidArgumentError, NotFoundError
from graphrag.ports import ApiKeyStore
from graphrag.records import ApiKeyRecord


class MemoryKeyStore:
    """A real, minimal ApiKeyStore: records by id, looked up by hash.

    Implements :class:`graphrag.ports.ApiKeyStore` (checked by :data:`_CHECK` for mypy).
    """

    def __init__(self) -> None:
        self.records: dict[str, ApiKeyRecord] = {}

    async def save_api_key(self, record: ApiKeyRecord) -> None:
        self.records[record.id] = record

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        return next((r for r in self.records.values() if r.key_hash == key_hash), None)

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        return sorted(self.records.values(), key=lambda r: r.created_at, reverse=True)


_CHECK: type[ApiKeyStore] = MemoryKeyStore


@pytest.fixture
def store() -> MemoryKeyStore:
    return MemoryKeyStore()


async def test_create_and_verify(store: MemoryKeyStore) -> None:
    record, text = await create_key(
        store, workspace="team-a1", name="ci uploader", role=Role.WRITER, created_by="alice"
    )
    assert text.startswith(f"{KEY_PREFIX}team-a1_{record.id}_")
    workspace, key_id, secret = parse_key(text)
    assert (workspace, key_id) == ("team-a1", record.id)
    assert record.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in record.model_dump_json()  # only the hash is stored
    assert record.role == "writer"
    assert record.created_by == "alice"
    principal = await verify_key(store, text)
    assert principal == Principal(
        subject=f"key:{record.id}",
        role=Role.WRITER,
        workspace="team-a1",
        via="api_key",
        key_id=record.id,
    )


async def test_keys_are_unique(store: MemoryKeyStore) -> None:
    made = [await create_key(store, workspace="w", name="k", role="reader", created_by="a")]
    made.append(await create_key(store, workspace="w", name="k", role="reader", created_by="a"))
    assert made[0][0].id != made[1][0].id
    assert made[0][1] != made[1][1]
    assert len(await list_keys(store)) == 2


async def test_revoke_is_idempotent_and_refuses_the_key(store: MemoryKeyStore) -> None:
    record, text = await create_key(store, workspace="w", name="k", role="admin", created_by="a")
    revoked = await revoke_key(store, record.id)
    assert revoked.revoked_at is not None
    again = await revoke_key(store, record.id)
    assert again.revoked_at == revoked.revoked_at
    with pytest.raises(AuthError, match="revoked API key"):
        await verify_key(store, text)
    listed = await list_keys(store)
    assert [r.id for r in listed] == [record.id]
    assert listed[0].revoked_at is not None


async def test_revoke_unknown_key(store: MemoryKeyStore) -> None:
    with pytest.raises(NotFoundError, match="no API key"):
        await revoke_key(store, "0123456789ab")


async def test_unknown_key(store: MemoryKeyStore) -> None:
    _, text = await create_key(store, workspace="w", name="k", role="reader", created_by="a")
    workspace, key_id, secret = parse_key(text)
    other_secret = ("A" if secret[0] != "A" else "B") + secret[1:]
    with pytest.raises(AuthError, match="unknown API key"):
        await verify_key(store, f"{KEY_PREFIX}{workspace}_{key_id}_{other_secret}")


async def test_right_secret_with_another_key_id_is_unknown(store: MemoryKeyStore) -> None:
    _, text = await create_key(store, workspace="w", name="k", role="reader", created_by="a")
    workspace, key_id, secret = parse_key(text)
    other_id = "0" * 12 if key_id != "0" * 12 else "1" * 12
    with pytest.raises(AuthError, match="unknown API key"):
        await verify_key(store, f"{KEY_PREFIX}{workspace}_{other_id}_{secret}")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "grk_",
        "not-a-key",
        "grk_w_0123456789ab_tooshort",
        "grk_W_0123456789ab_" + "a" * 43,  # upper-case workspace
        "grk_w_0123456789AB_" + "a" * 43,  # upper-case key id
        "grk_w_0123456789ab_" + "a" * 42 + "!",
        "grk_w_0123456789ab_" + "a" * 44,
        "xgrk_w_0123456789ab_" + "a" * 43,
    ],
)
async def test_malformed_keys(store: MemoryKeyStore, text: str) -> None:
    with pytest.raises(AuthError) as caught:
        await verify_key(store, text)
    assert caught.value.message == "malformed API key"
    assert caught.value.status == 401


def test_parse_workspace_with_dashes_and_secret_with_underscores() -> None:
    secret = "_a-b_" + "c" * 38
    assert parse_key(f"grk_my-team_0123456789ab_{secret}") == ("my-team", "0123456789ab", secret)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"role": "root"}, "role"),
        ({"workspace": "Bad Name"}, "workspace"),
    ],
)
async def test_create_refuses_bad_input(
    store: MemoryKeyStore, kwargs: dict[str, str], match: str
) -> None:
    args = {"workspace": "w", "name": "k", "role": "reader", "created_by": "a", **kwargs}
    with pytest.raises(InvalidArgumentError, match=match):
        await create_key(store, **args)
    assert store.records == {}
