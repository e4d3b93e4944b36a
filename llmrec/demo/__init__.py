"""``llmrec demo``: a small multimodal catalog written on the spot, ingested, and asked its requests.

``catalog`` reads the catalogue's data (``data/catalog.json``); ``covers``, ``speech`` and ``tones`` render its media
(Pillow, espeak-ng, numpy); ``writer`` writes it to a folder; ``run`` ingests it into a workspace and answers the
demo's requests.
"""

from llmrec.demo.catalog import HIDDEN_FACTS, DemoCatalog, DemoRequest
from llmrec.demo.run import run_demo
from llmrec.demo.writer import write_demo_catalog

__all__ = ["HIDDEN_FACTS", "DemoCatalog", "DemoRequest", "run_demo", "write_demo_catalog"]
