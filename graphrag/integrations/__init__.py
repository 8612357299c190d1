"""Adapters that plug the platform into other frameworks.

Each integration is its own module and is imported explicitly, so ``import graphrag`` never
imports a framework:

- :mod:`graphrag.integrations.langchain`: ``GraphRAGRetriever``, a LangChain
  ``BaseRetriever`` over the :class:`~graphrag.facade.GraphRAG` facade (needs the ``llm``
  extra, which brings ``langchain-core``).
"""
