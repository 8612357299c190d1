"""The analysis job: rank entities and find communities over the whole stored graph.

Run it after ingesting (and again after large changes): it replaces the previous ranks and
communities. The CLI command is a thin wrapper around :func:`run_analysis`.
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
        components: The opened components (only the store is used).
        resolution: Louvain resolution (above 1: more, smaller communities).
        seed: Louvain's random seed (same graph and seed: same communities).
        min_community_size: Communities with fewer members are not saved.

    Returns:
        Entities ranked, relations read, communities saved and the wall time.

    Raises:
        ConfigError: On a non-positive resolution or a minimum size below 1.
        StoreError: If the store cannot be read or written.
    """
    logger.info("analysing the graph in %s", components.store.location)
    return await analyze_graph(
        components.store,
        resolution=resolution,
        seed=seed,
        min_community_size=min_community_size,
    )
