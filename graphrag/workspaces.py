"""Workspaces: isolated graphs served side by side, one store each.

A workspace is a whole store, so nothing leaks between workspaces: documents, entities,
jobs and API keys all live in the workspace's own store.

- embedded store: the default workspace (``api.default_workspace``) is ``embedded.path``,
  so ``graphrag ingest`` and the API serve the same graph; workspace ``<name>`` is the file
  ``<api.workspaces_dir>/<name>.sqlite``.
- ArangoDB: the default workspace is the database ``arango.database``; workspace ``<name>``
  is the database ``<arango.database>_<name>``.

Names are 1-40 characters of ``a-z``, ``0-9`` and ``-``, starting with a letter, so a name
is always a plain file name and a valid database name. The default workspace is created on
first use and cannot be deleted; the others are created and deleted explicitly.

:class:`WorkspaceManager` opens each workspace once per process, lazily, with the models
(embedder, extractor, question analyzer) shared by all::

    ```python
    manager = WorkspaceManager(settings)
    rag = await manager.get("default")
    await manager.create("team-a")
    await (await manager.get("team-a")).ingest(["notes/"])
    await manager.close()
    ```
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from graphrag.config import Settings, StoreKind
from graphrag.errors import ConfigError, InvalidArgumentError, NotFoundError
from graphrag.facade import GraphRAG
from graphrag.ports import ChatModel, Embedder, Extractor
from graphrag.retrieve.question import QuestionAnalyzer
from graphrag.runtime import make_embedder, make_extractor
from graphrag.stores import create_store
from graphrag.stores.embedded.files import remove_store, store_exists, store_identity

logger = logging.getLogger(__name__)

WORKSPACE_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
"""A workspace name (matched whole): no dots, slashes or upper case, so no path tricks."""

EMBEDDED_SUFFIX = ".sqlite"

DELETE_WAIT_SECONDS = 10.0
"""How long deleting an embedded workspace waits for a writer of another process."""


def validate_workspace_name(name: object) -> str:
    """Return ``name`` if it is a valid workspace name.

    Raises:
        InvalidArgumentError: Naming the rule, for anything else (``../x``, ``A``, ``""``).
    """
    if not isinstance(name, str) or WORKSPACE_NAME.fullmatch(name) is None:
        msg = (
            f"invalid workspace name {name!r}: use 1-40 characters of a-z, 0-9 and '-', "
            "starting with a letter (e.g. team-a)"
        )
        raise InvalidArgumentError(msg)
    return name


class WorkspaceInfo(BaseModel):
    """What a workspace is and where it lives.

    Attributes:
        name: The workspace name.
        store: ``embedded`` or ``arango``.
        location: The file path, or ``arango:<url>/<database>`` (never credentials).
        default: Whether it is the default workspace.
        exists: Whether its file or database exists (the default one appears on first use).
        open: Whether this process has it open.
        created: Set by :meth:`WorkspaceManager.create`: whether that call created it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    store: StoreKind
    location: str
    default: bool
    exists: bool
    open: bool
    created: bool = False


@dataclass
class _Open:
    rag: GraphRAG
    identity: tuple[int, int] | None  # the embedded file's (device, inode) when opened


class WorkspaceManager:
    """Opens, creates, lists and deletes the workspaces of one settings tree.

    Args:
        settings: The configuration; every workspace gets a copy with its own store.
        embedder: A preloaded embedder shared by all workspaces (default: the configured
            one, loaded on first use).
        extractor: A preloaded extractor to share (default: the configured one).
        analyzer: A preloaded question analyzer to share.
        chat_model: A chat model shared by every workspace (default: the configured one).

    Raises:
        ConfigError: If ``api.default_workspace`` is not a valid workspace name.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        extractor: Extractor | None = None,
        analyzer: QuestionAnalyzer | None = None,
        chat_model: ChatModel | None = None,
    ) -> None:
        self._settings = settings
        self._chat_model = chat_model
        self._default = settings.api.default_workspace
        if WORKSPACE_NAME.fullmatch(self._default) is None:
            msg = (
                f"api.default_workspace {self._default!r} is not a valid workspace name; use "
                "1-40 characters of a-z, 0-9 and '-' (GRAPHRAG_API__DEFAULT_WORKSPACE)"
            )
            raise ConfigError(msg)
        self._embedder = embedder or make_embedder(settings)
        self._extractor = extractor or make_extractor(settings)
        self._analyzer = analyzer or QuestionAnalyzer(settings.extraction)
        self._open: dict[str, _Open] = {}
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    @property
    def default_workspace(self) -> str:
        """The name of the default workspace."""
        return self._default

    @property
    def _lock(self) -> asyncio.Lock:
        """The lock around opening, creating and deleting (one per event loop)."""
        loop = asyncio.get_running_loop()
        if loop not in self._locks:
            self._locks = {k: v for k, v in self._locks.items() if not k.is_closed()}
            self._locks[loop] = asyncio.Lock()
        return self._locks[loop]

    @property
    def _arango(self) -> bool:
        return self._settings.store is StoreKind.ARANGO

    # -- where each workspace lives ---------------------------------------------------

    def _path(self, name: str) -> Path:
        if name == self._default:
            return self._settings.embedded.path
        return self._settings.api.workspaces_dir / f"{name}{EMBEDDED_SUFFIX}"

    def _database(self, name: str) -> str:
        from graphrag.stores.arango.workspaces import workspace_database

        base = self._settings.arango.database
        return base if name == self._default else workspace_database(base, name)

    def settings_for(self, name: str) -> Settings:
        """Return the settings of workspace ``name`` (its own store, all else shared).

        Raises:
            InvalidArgumentError: If the name is invalid.
        """
        name = validate_workspace_name(name)
        s = self._settings
        if self._arango:
            arango = s.arango.model_copy(update={"database": self._database(name)})
            return s.model_copy(update={"arango": arango})
        embedded = s.embedded.model_copy(update={"path": self._path(name)})
        return s.model_copy(update={"embedded": embedded})

    def location(self, name: str) -> str:
        """Where workspace ``name`` lives (file path or ``arango:<url>/<database>``)."""
        return create_store(self.settings_for(name)).location

    async def _exists(self, name: str) -> bool:
        if not self._arango:
            return await asyncio.to_thread(store_exists, self._path(name))
        from graphrag.stores.arango.workspaces import database_exists

        return await database_exists(self._settings.arango, self._database(name))

    async def _identity(self, name: str) -> tuple[int, int] | None:
        if self._arango:
            return None
        return await asyncio.to_thread(store_identity, self._path(name))

    def _missing(self, name: str) -> NotFoundError:
        # the message may reach API clients: it names no file path or server
        logger.debug("workspace %s not found at %s", name, self.location(name))
        msg = f"workspace {name!r} does not exist; an admin must create it first"
        return NotFoundError(msg)

    # -- opening ----------------------------------------------------------------------

    async def get(self, name: str) -> GraphRAG:
        """Return the open facade of workspace ``name`` (opened once per process).

        The default workspace is created on first use. An embedded workspace deleted (or
        deleted and created again) by another process is noticed and reopened.

        Raises:
            InvalidArgumentError: If the name is invalid.
            NotFoundError: If the workspace does not exist (not for the default one).
            GraphRAGError: If its store cannot be opened.
        """
        name = validate_workspace_name(name)
        found = self._open.get(name)
        if found is not None and await self._current(name, found):
            return found.rag
        async with self._lock:
            found = self._open.get(name)
            if found is not None:
                if await self._current(name, found):
                    return found.rag
                await self._forget(name)
            return await self._open_locked(name, must_exist=name != self._default)

    async def _current(self, name: str, found: _Open) -> bool:
        return self._arango or await self._identity(name) == found.identity

    async def _open_locked(self, name: str, *, must_exist: bool) -> GraphRAG:
        if must_exist and not await self._exists(name):
            raise self._missing(name)
        rag = await GraphRAG.open(
            self.settings_for(name),
            embedder=self._embedder,
            extractor=self._extractor,
            analyzer=self._analyzer,
            chat_model=self._chat_model,
        )
        self._open[name] = _Open(rag, await self._identity(name))
        logger.info("opened workspace %s (%s)", name, rag.components.store.location)
        return rag

    async def _forget(self, name: str) -> None:
        found = self._open.pop(name, None)
        if found is not None:
            await found.rag.close()

    # -- managing ---------------------------------------------------------------------

    async def create(self, name: str) -> WorkspaceInfo:
        """Create workspace ``name`` (store and schema) and open it; fine if it exists.

        Returns:
            Its description; ``created`` tells whether this call created it.

        Raises:
            InvalidArgumentError: If the name is invalid (or too long for a database name).
            StoreAuthError: If the ArangoDB admin may not create databases.
        """
        name = validate_workspace_name(name)
        async with self._lock:
            existed = await self._exists(name)
            if self._arango and not existed:
                from graphrag.stores.arango.workspaces import create_database

                existed = not await create_database(self._settings.arango, self._database(name))
            found = self._open.get(name)
            if found is not None and not await self._current(name, found):
                await self._forget(name)
            if name not in self._open:
                await self._open_locked(name, must_exist=False)
        if not existed:
            logger.info("created workspace %s", name)
        return await self._info(name, exists=True, created=not existed)

    async def delete(self, name: str) -> None:
        """Close workspace ``name`` and remove its store (files, or database).

        An embedded store is removed once no writer of another process holds it; other
        processes that have it open notice it is gone on their next use.

        Raises:
            InvalidArgumentError: If the name is invalid or the default workspace.
            NotFoundError: If the workspace does not exist.
            StoreUnavailableError: If a writer keeps holding the embedded store.
        """
        name = validate_workspace_name(name)
        if name == self._default:
            msg = f"the default workspace {name!r} cannot be deleted"
            raise InvalidArgumentError(msg)
        async with self._lock:
            exists = await self._exists(name)
            await self._forget(name)
            if not exists:
                raise self._missing(name)
            if self._arango:
                from graphrag.stores.arango.workspaces import drop_database

                await drop_database(self._settings.arango, self._database(name))
            else:
                await asyncio.to_thread(remove_store, self._path(name), timeout=DELETE_WAIT_SECONDS)
        logger.info("deleted workspace %s", name)

    async def info(self, name: str) -> WorkspaceInfo:
        """Describe workspace ``name``.

        Raises:
            InvalidArgumentError: If the name is invalid.
            NotFoundError: If it does not exist (not for the default one).
        """
        name = validate_workspace_name(name)
        exists = await self._exists(name)
        if not exists and name != self._default:
            raise self._missing(name)
        return await self._info(name, exists=exists)

    async def _info(self, name: str, *, exists: bool, created: bool = False) -> WorkspaceInfo:
        return WorkspaceInfo(
            name=name,
            store=self._settings.store,
            location=self.location(name),
            default=name == self._default,
            exists=exists,
            open=name in self._open,
            created=created,
        )

    async def _names(self) -> dict[str, bool]:
        """Every workspace with whether it exists (the default one is always listed)."""
        if self._arango:
            from graphrag.stores.arango.workspaces import list_databases, workspace_databases

            base = self._settings.arango.database
            databases = await list_databases(self._settings.arango)
            found = workspace_databases(databases, base)
            names = {n: True for n in found if WORKSPACE_NAME.fullmatch(n)}
            names[self._default] = base in databases
            return names
        files = await asyncio.to_thread(_workspace_files, self._settings.api.workspaces_dir)
        names = {n: True for n in files if WORKSPACE_NAME.fullmatch(n)}
        names[self._default] = await self._exists(self._default)
        return names

    async def list(self) -> builtins.list[WorkspaceInfo]:
        """Return every workspace: the default one first, then by name."""
        names = await self._names()
        order = sorted(names, key=lambda n: (n != self._default, n))
        return [await self._info(n, exists=names[n]) for n in order]

    async def close(self) -> None:
        """Close every open workspace (they open again on next use)."""
        async with self._lock:
            for name in builtins.list(self._open):
                await self._forget(name)


def _workspace_files(folder: Path) -> builtins.list[str]:
    """Names of the ``*.sqlite`` stores in ``folder`` that have content."""
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob(f"*{EMBEDDED_SUFFIX}") if store_exists(p))
