"""Reading catalogs and interaction logs (JSONL/CSV and the MovieLens importers)."""

from llmrec.catalog.schema import CatalogItem, Interaction

__all__ = ["CatalogItem", "Interaction"]
