"""``llmrec demo``: a small multimodal catalog made on the spot, ingested, and asked three questions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from llmrec.api import Recommendation


def run_demo(workspace: str | Path, progress=None, log: Callable[[str], None] = lambda s: None,
             train_adapter: bool = True) -> list[tuple[str, Recommendation]]:
    """Write the demo catalog into ``<workspace>/catalog``, ingest it (incrementally), answer its requests; then
    train a tiny LoRA adapter on its log (once) and answer the known user's request again with it."""
    from llmrec.demo import write_demo_catalog
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
    if train_adapter:
        adapter = _demo_adapter(ws, log)
        known = next(r for r in demo.requests if r.user_id)
        config = ws.load_config().with_serving_options(adapter=str(adapter))
        log(f"asking again as user {known.user_id}, ranked with the adapter {adapter}")
        answers.append((f"{known.why}, ranked with the LoRA adapter the demo trained on its log (tiny: it shows "
                        "the path, not a gain)", Recommender(ws, config).ask(known.query, user_id=known.user_id,
                                                                              k=3)))
    return answers


# A deliberately tiny run (about a minute here): LoRA in the last 2 layers, 16 examples, 4 validation users.
DEMO_TRAINING = {"max_train_examples": 16, "grad_accum": 4, "eval_every": 4, "checkpoint_every": 2,
                 "validation_users": 4, "examples_per_user": 2, "lora_layers": 2, "lora_r": 4}


def _demo_adapter(ws, log) -> Path:
    """Train ``<workspace>/adapters/demo`` on the demo log unless a finished one is there (a killed run resumes)."""
    from llmrec.training.run import train_adapter as train
    from llmrec.training.trainer import has_unfinished_run

    out = ws.root / "adapters" / "demo"
    unfinished = has_unfinished_run(out)
    if (out / "manifest.json").is_file() and not unfinished:
        log(f"adapter {out} already trained")
        return out
    config = ws.load_config()
    config.train = config.train.model_copy(update=DEMO_TRAINING)
    log(f"training a tiny LoRA adapter on the demo log into {out} ({DEMO_TRAINING['max_train_examples']} examples)")
    manifest = train(ws.root, out, resume=unfinished, config=config, log=log)
    log(f"adapter trained: validation NDCG@10 {manifest['metrics']['best_valid_ndcg@10']:.3f} on "
        f"{manifest['metrics']['valid_examples']} held-out items")
    return out
