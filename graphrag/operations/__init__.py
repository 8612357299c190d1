"""Operations over an open set of components: ingest jobs, deletes, merge undo, store copy.

The CLI, the HTTP API and the benchmarks all reach them through :class:`graphrag.GraphRAG`.
"""
