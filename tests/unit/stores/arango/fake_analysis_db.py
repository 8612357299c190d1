"""An in-memory stand-in for the AQL of the graph analysis (no server).

:class:`AnalysisDb` answers ``db.aql.execute(query, bind_vars=..., batch_size=...)`` like
ArangoDB would for the analysis files of ``aql/``: the file is recognised by its text, and a
Python function per file applies what the file's AQL does to in-memory collections (the
semantics each file's header documents: keys ``<generation>_<id>``, overwriteMode
"ignore", the lease on the server's clock, the switch only while the lease is held, removal
never of the current generation, a null generation selecting documents without one). Every
call is recorded; ``fail`` raises an exception at the n-th call of a file (counted in
``calls``, which a test may clear) (before it writes
anything: a failed statement is rolled back), ``after`` runs a function after it.

It checks the Python protocol of :mod:`graphrag.stores.arango.generations` against those
semantics, not the AQL itself (which needs a server: tests/contract/, with
GRAPHRAG_ARANGO__URL).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphrag.stores.arango.queries import Queries

Doc = dict[str, Any]
COLLECTIONS = ("entities", "entity_ranks", "communities", "member_of", "analysis", "meta")


class _Cursor(list[Any]):
    pass


class AnalysisDb:
    """Collections as dicts by key; ``aql`` is the database itself (``execute``)."""

    def __init__(self, entities: list[str]) -> None:
        self.data: dict[str, dict[str, Doc]] = {name: {} for name in COLLECTIONS}
        for key in entities:
            self.data["entities"][key] = {
                "_key": key, "_id": f"entities/{key}", "name": key, "type": "PERSON",
                "aliases": [], "source_ids": ["c_1"],
            }  # fmt: skip
        self.documents = 1
        self.now_ms = 1_000_000
        self.calls: list[tuple[str, Doc]] = []
        self.fail: dict[tuple[str, int], BaseException] = {}
        self.after: dict[tuple[str, int], Callable[[], None]] = {}
        self.aql = self
        queries = Queries()
        self._names = {queries.text(name): name for name in queries.names()}
        self._handlers: dict[str, Callable[[Doc], list[Any]]] = {
            name.removeprefix("_q_"): getattr(self, name) for name in dir(self)
            if name.startswith("_q_")
        }  # fmt: skip

    # ------------------------------------------------------------------ plumbing

    def execute(self, query: str, *, bind_vars: Doc, batch_size: int) -> _Cursor:
        name = self._names[query]
        self.calls.append((name, dict(bind_vars)))
        nth = sum(1 for called, _ in self.calls if called == name)
        if (name, nth) in self.fail:
            raise self.fail.pop((name, nth))
        rows = self._handlers[name](bind_vars)
        if (name, nth) in self.after:
            self.after.pop((name, nth))()
        return _Cursor(rows)

    def names(self) -> list[str]:
        """The files called, in order."""
        return [name for name, _ in self.calls]

    def generations(self) -> set[str | None]:
        """The generations that have documents."""
        return {
            doc.get("generation")
            for name in ("entity_ranks", "communities", "member_of")
            for doc in self.data[name].values()
        }

    @property
    def current(self) -> Doc | None:
        return self.data["analysis"].get("current")

    def _generation(self) -> str | None:
        current = self.current
        return None if current is None else current["generation"]

    # ------------------------------------------------------------------ the lease

    def _q_acquire_analysis_lease(self, b: Doc) -> list[Any]:
        lease = self.data["analysis"].get("lease")
        free = (
            lease is None
            or lease["generation"] is None
            or lease["expires"] < self.now_ms
            or lease["generation"] == b["generation"]
        )
        if free:
            lease = {
                "_key": "lease",
                "generation": b["generation"],
                "expires": self.now_ms + b["ttl"],
            }
            self.data["analysis"]["lease"] = lease
        assert lease is not None
        return [
            {"generation": lease["generation"], "expires": lease["expires"], "now": self.now_ms}
        ]

    def _q_renew_analysis_lease(self, b: Doc) -> list[Any]:
        lease = self.data["analysis"].get("lease")
        if lease is None or lease["generation"] != b["generation"]:
            return [0]
        lease["expires"] = self.now_ms + b["ttl"]
        return [1]

    def _q_release_analysis_lease(self, b: Doc) -> list[Any]:
        lease = self.data["analysis"].get("lease")
        if lease is None or lease["generation"] != b["generation"]:
            return [0]
        lease.update(generation=None, expires=0)
        return [1]

    # ------------------------------------------------------------------ the save

    def _q_list_analysis_generations(self, b: Doc) -> list[Any]:
        found = sorted(self.generations(), key=lambda g: (g is not None, g or ""))
        return [{"current": self._generation(), "recorded": self.current is not None,
                 "generations": found}]  # fmt: skip

    def _insert(self, collection: str, doc: Doc) -> int:
        self.data[collection].setdefault(doc["_key"], doc)  # overwriteMode "ignore"
        return 1

    def _q_save_entity_ranks(self, b: Doc) -> list[Any]:
        gen = b["generation"]
        inserted = sum(
            self._insert("entity_ranks", {"_key": f"{gen}_{item['key']}", "generation": gen,
                                          "entity": item["key"], "rank": item["rank"]})
            for item in b["ranks"] if item["key"] in self.data["entities"]
        )  # fmt: skip
        return [{"inserted": inserted}]

    def _q_insert_communities(self, b: Doc) -> list[Any]:
        return [{"inserted": sum(self._insert("communities", dict(d)) for d in b["communities"])}]

    def _q_insert_community_members(self, b: Doc) -> list[Any]:
        gen = b["generation"]
        inserted = sum(
            self._insert("member_of", {
                "_key": item["key"], "_from": f"entities/{item['entity']}",
                "_to": f"communities/{gen}_{item['community']}", "generation": gen,
                "position": item["position"],
            })
            for item in b["members"] if item["entity"] in self.data["entities"]
        )  # fmt: skip
        return [{"inserted": inserted}]

    def _q_save_analysis_state(self, b: Doc) -> list[Any]:
        lease, previous = self.data["analysis"].get("lease"), self._generation()
        if lease is None or lease["generation"] != b["generation"]:
            return [{"switched": False, "previous": previous}]
        seen = {"documents": self.documents, "entities": len(self.data["entities"])}
        self.data["analysis"]["current"] = {
            **b["state"], **seen, "_key": "current", "generation": b["generation"],
            "previous": previous,
        }  # fmt: skip
        self.data["analysis"]["lease"] = {"_key": "lease", "generation": None, "expires": 0}
        return [{"switched": True, "previous": previous}]

    def _q_remove_analysis_generation(self, b: Doc) -> list[Any]:
        allowed = b["generation"] != self._generation()  # AQL: null == null
        counts: Doc = {}
        for name in ("member_of", "communities", "entity_ranks"):
            keys = [k for k, d in self.data[name].items() if d.get("generation") == b["generation"]]
            keys = keys[: b["limit"]] if allowed else []
            for key in keys:
                del self.data[name][key]
            counts[name] = len(keys)
        return [counts]

    def _q_list_ranked_entities(self, b: Doc) -> list[Any]:
        return [k for k, e in self.data["entities"].items() if e.get("rank") is not None]

    def _q_clear_entity_ranks(self, b: Doc) -> list[Any]:
        found = [k for k in b["keys"] if k in self.data["entities"]]
        for key in found:
            self.data["entities"][key].pop("rank", None)  # keepNull: false
        return [{"cleared": len(found)}]

    # ------------------------------------------------------------------ readers

    def _q_get_entities(self, b: Doc) -> list[Any]:
        gen, rows = self._generation(), []
        for key, ent in self.data["entities"].items():
            if key in b["keys"]:
                ranked = self.data["entity_ranks"].get(f"{gen}_{key}", {}).get("rank")
                rows.append({**ent, "rank": ent.get("rank") if self.current is None else ranked})
        return rows

    def _members(self, community_key: str) -> list[str]:
        edges = [e for e in self.data["member_of"].values()
                 if e["_to"] == f"communities/{community_key}"]  # fmt: skip
        edges.sort(key=lambda e: (e["position"], e["_from"]))
        return [e["_from"].split("/", 1)[1] for e in edges]

    def _community_row(self, com: Doc) -> Doc:
        row = {k: v for k, v in com.items() if k not in ("_key", "_id", "_rev", "generation")}
        return {**row, "id": com.get("id") or com["_key"], "member_ids": self._members(com["_key"])}

    def _q_list_communities(self, b: Doc) -> list[Any]:
        gen = self._generation()
        coms = [c for c in self.data["communities"].values() if c.get("generation") == gen]
        coms.sort(key=lambda c: (c["level"], c["ordinal"], c["_key"]))
        return [self._community_row(c) for c in coms]

    def _q_get_communities(self, b: Doc) -> list[Any]:
        gen = self._generation()
        prefix = "" if gen is None else f"{gen}_"
        wanted = {prefix + k for k in b["keys"]}
        return [self._community_row(c) for key, c in self.data["communities"].items()
                if key in wanted and c.get("generation") == gen]  # fmt: skip

    def _q_list_entity_communities(self, b: Doc) -> list[Any]:
        gen, rows = self._generation(), []
        for key in b["keys"]:
            for edge in self.data["member_of"].values():
                if edge["_from"] == f"entities/{key}" and edge.get("generation") == gen:
                    com = self.data["communities"].get(edge["_to"].split("/", 1)[1])
                    if com is not None:
                        rows.append(
                            (com, {"entity": key, "community": com.get("id") or com["_key"]})
                        )
        rows.sort(key=lambda r: (r[0]["level"], r[0]["ordinal"], r[0]["_key"]))
        return [row for _, row in rows]

    def _q_get_analysis_state(self, b: Doc) -> list[Any]:
        state = self.current or self.data["meta"].get("analysis")
        if state is None:
            return []
        stale = state["entities"] != len(self.data["entities"])
        return [{"analyzed_at": state["analyzed_at"], "communities": state["communities"],
                 "embedded": state["embedded"], "generation": state.get("generation"),
                 "stale": stale or state["documents"] != self.documents}]  # fmt: skip
