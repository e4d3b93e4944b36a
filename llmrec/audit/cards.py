"""The cards an external audit (``llmrec audit --explanations``) checks claims against: the same cards serving used.

A workspace's stored cards are exactly what its ranker and justifier read, so they come first. Catalog items a
workspace does not hold (or every item, without a workspace) get their card rendered as ingest renders it, with each
image and audio file described through the same media cache (``llmrec.media.cache``): a true claim about what a
poster or an episode's audio says is then supported, not flagged for want of the media text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from llmrec.config import CatalogConfig, MediaConfig


@dataclass
class AuditCards:
    """``{item id: (title, card)}`` and what happened while building them."""

    cards: dict[str, tuple[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def audit_cards(catalog: str | Path | None, workspace=None, media: MediaConfig | None = None,
                catalog_config: CatalogConfig | None = None,
                log: Callable[[str], None] = lambda s: None) -> AuditCards:
    """The cards of ``workspace`` (a ``Workspace``; None for none), plus the cards of ``catalog``'s items it lacks,
    rendered with their media described under ``media`` (default settings when None) through the workspace's media
    cache, or a cache for this run only without a workspace."""
    from llmrec.catalog.cards import render_card
    from llmrec.catalog.readers import read_catalog
    from llmrec.media import MediaDescriber, allowed_roots
    from llmrec.media.cache import MemoryMediaCache, cached_media_text

    out = AuditCards()
    if workspace is not None:
        out.cards = {i.id: (i.title, i.card) for i in workspace.get_items(workspace.all_item_ids()).values()}
        out.notices.append(f"cards: the {len(out.cards)} stored in workspace {workspace.root}, as served")
    if catalog is None:
        return out
    items = read_catalog(catalog, catalog_config)
    out.problems += [f"catalog: {p}" for p in items.problems]
    missing = [i for i in items.items if i.id not in out.cards]
    if not missing:
        return out
    media = media or MediaConfig()
    describer = MediaDescriber(media)
    cache = workspace if workspace is not None else MemoryMediaCache()
    described = sum(len(i.images) + len(i.audio) for i in missing)
    if described:
        log(f"describing {described} media file(s) of {len(missing)} catalog item(s) "
            f"({'through the workspace media cache' if workspace is not None else 'no workspace: cache for this run'})")
    for item in missing:
        roots = allowed_roots(item.media_root, media.roots)
        texts = {"image": [], "audio": []}
        for kind, paths in (("image", item.images), ("audio", item.audio)):
            for path in paths:
                result, _ = cached_media_text(describer, cache, path, kind, roots, media.max_file_bytes)
                if result.get("error"):
                    out.problems.append(f"catalog: item {item.id}: {kind} {path}: {result['error']} (its card "
                                        "lacks this file's text)")
                texts[kind].append(result)
        out.cards[item.id] = (item.title, render_card(item, texts["image"], texts["audio"]))
    if workspace is not None:
        out.notices.append(f"{len(missing)} catalog item(s) not in the workspace: cards rendered from the catalog, "
                           "media described through the workspace's media cache")
    return out
