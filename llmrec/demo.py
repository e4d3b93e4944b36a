"""``llmrec demo``: a small multimodal catalog made on the spot, ingested, and asked three questions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from llmrec.schema import Recommendation


def run_demo(workspace: str | Path, progress=None, log: Callable[[str], None] = lambda s: None
             ) -> list[tuple[str, Recommendation]]:
    """Write the demo catalog into ``<workspace>/catalog``, ingest it (incrementally), answer its requests."""
    from llmrec.demo_catalog import write_demo_catalog
    from llmrec.ingest import ingest
    from llmrec.recommender import Recommender
    from llmrec.workspace import Workspace

    ws = Workspace(workspace, create=True)
    log(f"writing the demo catalog into {ws.root / 'catalog'}")
    demo = write_demo_catalog(ws.root / "catalog")
    kwargs = {"progress": progress} if progress else {}
    report = ingest(demo.catalog, ws, interactions=demo.interactions, log=lambda s: log(f"note: {s}"), **kwargs)
    log(f"ingested {report.items_read} items ({report.items_new} new, {report.items_unchanged} unchanged, "
        f"{report.media_described} media described, {report.media_from_cache} from cache) in {report.seconds:.1f} s")
    if report.collaborative:
        log(report.collaborative)
    recommender = Recommender(ws)
    answers = []
    for request in demo.requests:
        log(f"asking: {request.query!r}" + (f" as user {request.user_id}" if request.user_id else ""))
        answers.append((request.why, recommender.ask(request.query, user_id=request.user_id, k=3)))
    return answers
