"""The LLM's weights and adapters: which base model a name means, where its weights come from, and the manifests of
the LoRA adapters trained on it.

- ``registry``: named models (packaged GGUF weights) and local folders resolved to a transformers folder;
- ``gguf``: turning packaged GGUF weights into that folder once, safely under concurrent first use;
- ``cache``: llmrec's cache root and the file digests that identify weights;
- ``adapters``: finding LoRA adapters and their manifest (one pydantic model).

Nothing here imports torch or transformers at import time, and nothing downloads.
"""
