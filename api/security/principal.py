"""Who is calling: a :class:`Principal` with a :class:`Role` in one workspace."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

_RANKS = {"reader": 0, "writer": 1, "admin": 2}

WORKSPACE_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
"""Workspace names tokens and API keys may carry, the rule of
:class:`graphrag.workspaces.WorkspaceManager`: a lower-case letter, then lower-case letters,
digits and ``-`` (one name per folder or database on every file system), at most 40."""


def is_workspace_name(name: object) -> bool:
    """Whether ``name`` is a string :data:`WORKSPACE_NAME` matches in full."""
    return isinstance(name, str) and WORKSPACE_NAME.fullmatch(name) is not None


class Role(StrEnum):
    """What a caller may do, ordered ``reader < writer < admin``.

    A higher role covers every lower one: a writer may read, an admin may write. The
    comparison operators compare ranks (not the strings), so ``Role.ADMIN > Role.READER``.
    """

    READER = "reader"
    WRITER = "writer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for reader, 1 for writer, 2 for admin."""
        return _RANKS[self.value]

    def covers(self, other: Role | str) -> bool:
        """Whether this role allows everything ``other`` allows.

        Args:
            other: The role an action needs.

        Returns:
            ``True`` when this role's rank is at least ``other``'s.

        Raises:
            ValueError: If ``other`` is not a role name.
        """
        return self.rank >= Role(other).rank

    def __lt__(self, other: str) -> bool:
        return self.rank < Role(other).rank

    def __le__(self, other: str) -> bool:
        return self.rank <= Role(other).rank

    def __gt__(self, other: str) -> bool:
        return self.rank > Role(other).rank

    def __ge__(self, other: str) -> bool:
        return self.rank >= Role(other).rank


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    Attributes:
        subject: The token's ``sub`` claim, or ``key:<key id>`` for an API key.
        role: What the caller may do.
        workspace: The only workspace the caller may use (the token's ``ws`` claim, or the
            workspace whose store holds the API key).
        via: How the caller authenticated: ``jwt`` or ``api_key``.
        key_id: The API key's id (``None`` for a token).
    """

    subject: str
    role: Role
    workspace: str
    via: Literal["jwt", "api_key"]
    key_id: str | None = None

    def can(self, role: Role) -> bool:
        """Whether this principal's role covers ``role``."""
        return self.role.covers(role)
