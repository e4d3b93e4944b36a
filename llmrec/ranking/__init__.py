"""LLM ranking: candidates become lettered options; one forward pass scores them all."""
