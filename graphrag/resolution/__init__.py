"""Entity resolution that depends only on what is stored, never on ingestion order.

* :mod:`~graphrag.resolution.keys`: keys (normalised name + type) and surface counts.
* :mod:`~graphrag.resolution.cluster`: the deterministic grouping of keys into entities.
* :mod:`~graphrag.resolution.assemble`: a document's mentions and relations under a grouping.
* :mod:`~graphrag.resolution.reconcile`: brings the stored graph in line with the stored
  facts after writes, deletes and undone merges (and after a crash).

This package imports no port at import time, so :mod:`graphrag.ports` can use its models.
"""
