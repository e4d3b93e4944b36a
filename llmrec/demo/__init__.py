"""``llmrec demo``: a small multimodal catalog written on the spot, ingested, and asked its requests.

``write_demo_catalog`` writes the catalog (items, an interaction log, drawn and spoken media); ``run_demo`` ingests
it into a workspace and answers the demo's requests.
"""

from llmrec.demo.catalog import DemoCatalog, DemoRequest, write_demo_catalog
from llmrec.demo.run import run_demo

__all__ = ["DemoCatalog", "DemoRequest", "run_demo", "write_demo_catalog"]
