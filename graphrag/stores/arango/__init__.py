"""The ArangoDB 3.12 graph store (python-arango; the only package that imports ``arango``).

:class:`~graphrag.stores.arango.store.ArangoGraphStore` implements
:class:`~graphrag.ports.GraphStore`; :func:`~graphrag.stores.arango.users.create_users` sets
up least-privilege users; :func:`~graphrag.stores.arango.testing.arango_test_store` gives
tests a throw-away database. See docs/arango.md.
"""

from __future__ import annotations

from graphrag.stores.arango.store import ArangoGraphStore

__all__ = ["ArangoGraphStore"]
