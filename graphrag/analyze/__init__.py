"""Graph analysis (PageRank, communities)."""
