"""The analysis job: rank entities, find and summarise communities over the whole graph.

Run it after ingesting (and again after changes: it is a full recompute, and until it reruns
the communities miss what was added, changed or deleted). It replaces the previous ranks and
communities and embeds the community summaries for the ``global`` retrieval mode. The CLI
command is a thin wrapper around :func:`run_analysis`.
"""

from __future__ import annotations

import logging

from graphrag.analyze import AnalysisReport, analyze_graph
from graphrag.runtime import Components

logger = logging.getLogger(__name__)


async def run_analysis(
    components: Components,
    *,
    resolution: float = 1.0,
    seed: int = 42,
    min_community_size: int = 2,
) -> AnalysisReport:
    """Run PageRank and Louvain on the store of ``components`` and save the results.

    Args:
        components: The opened components (the store, and the embedder for the summaries).
        resolution: Louvain resolution (above 1: more, smaller communities).
        seed: Louvain's random seed (same graph and seed: same communities).
        min_community_size: Communities with fewer members are not saved.

    Returns:
        Entities ranked, relations read, communities saved (and embedded), the wall time
        and the seconds per stage.

    Raises:
        ConfigError: On a non-positive resolution or a minimum size below 1.
        StoreError: If the store cannot be read or written.
        EmbeddingError: If the summaries cannot be embedded (nothing is saved).
    """
    logger.info("analysing the graph in %s", components.store.location)
    return await analyze_graph(
        components.store,
        embedder=components.embedder,
        resolution=resolution,
        seed=seed,
        min_community_size=min_community_size,
    )
