"""``GET /v1/items/{id}``: an item as the workspace holds it, with links to its media;
``GET /v1/items/{id}/media/{index}``: one media file registered on that item.

Nothing from a URL is ever used as a path: the index selects from the item's own list of files, only image and audio
types are served (never SVG, which can carry scripts), and only bytes that still hash to what ingest recorded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmrec.serving.errors import ERROR_RESPONSES
from llmrec.serving.schemas import ItemView, MediaView
from llmrec.serving.service import ServiceDep
from llmrec.workspace import Workspace

MAX_MEDIA_BYTES = 64 * 1024 * 1024
# Media types the service will serve, by file suffix. Anything else (SVG can carry scripts) is never served.
SERVABLE_MEDIA = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".bmp": "image/bmp", ".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg",
    ".flac": "audio/flac", ".m4a": "audio/mp4", ".opus": "audio/opus",
}
MEDIA_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
                 "Cache-Control": "private, max-age=300"}

router = APIRouter(tags=["items"])


@router.get("/v1/items/{item_id}", response_model=ItemView, responses=ERROR_RESPONSES,
            summary="An item as the workspace holds it")
def get_item(item_id: str, service: ServiceDep) -> ItemView:
    return item_view(service.workspace, item_id)


@router.get("/v1/items/{item_id}/media/{index}",
            responses={**ERROR_RESPONSES, 200: {"content": {"image/*": {}, "audio/*": {}}}},
            summary="A media file registered on an item")
def get_media(item_id: str, index: str, service: ServiceDep) -> Response:
    config = getattr(service.recommender, "config", None)
    data, content_type = media_file(service.workspace, item_id, index, config.media.roots if config else [])
    return Response(data, media_type=content_type, headers=MEDIA_HEADERS)


def item_view(workspace: Workspace, item_id: str) -> ItemView:
    """The item ``item_id`` with its card split into fields and a link per media file; 404 when there is none."""
    from llmrec.catalog.cards import card_fields

    stored = workspace.get_item(item_id)
    if stored is None:
        raise StarletteHTTPException(404, f"no item {item_id!r} in this workspace")
    media = []
    for index, (kind, path, described) in enumerate(_media_files(stored)):
        media.append(MediaView(
            index=index, kind=kind, url=f"/v1/items/{quote(item_id, safe='')}/media/{index}",
            content_type=SERVABLE_MEDIA.get(path.suffix.lower()), text=described.get("text"),
            facts=list(described.get("facts") or []), tags=list(described.get("tags") or []),
            caption=described.get("caption")))
    return ItemView(id=stored.id, title=stored.title, fields=dict(stored.item.fields), card=stored.card,
                    card_fields=card_fields(stored.card), metadata=dict(stored.item.metadata), media=media)


def _media_files(stored) -> list[tuple[str, Path, dict]]:
    """(kind, absolute path, what ingest recorded) for each media file of an item, images first."""
    files = [("image", Path(p)) for p in stored.item.images] + [("audio", Path(p)) for p in stored.item.audio]
    described = list(stored.media or [])
    out = []
    for i, (kind, path) in enumerate(files):
        d = described[i] if i < len(described) and isinstance(described[i], dict) else {}
        out.append((kind, path, d if d.get("kind", kind) == kind else {}))
    return out


def media_file(workspace: Workspace, item_id: str, index: str, roots: list[Path] = ()) -> tuple[bytes, str]:
    """The bytes of media number ``index`` of an item, and their content type; 404 for anything else.

    Nothing from the URL is used as a path: the index selects from the item's own list; the file must still resolve
    inside the item's catalog folder or ``roots`` (``[media] roots``) and be a regular file (``open_confined``), and
    its bytes are served only when they are still the ones ingest described (same sha256), read once so they cannot
    change between the check and the answer.
    """
    stored = workspace.get_item(item_id)
    if stored is None:
        raise StarletteHTTPException(404, f"no item {item_id!r} in this workspace")
    files = _media_files(stored)
    if not (index.isascii() and index.isdigit() and len(index) <= 4 and int(index) < len(files)):
        raise StarletteHTTPException(404, f"item {item_id!r} has no media number {index!r} "
                                          f"(it has {len(files)})")
    kind, path, described = files[int(index)]
    content_type = SERVABLE_MEDIA.get(path.suffix.lower())
    if content_type is None or not content_type.startswith(kind):
        raise StarletteHTTPException(404, f"media {index} of item {item_id!r} is not a type this service serves")
    expected = described.get("sha256")
    if not expected:
        raise StarletteHTTPException(404, f"media {index} of item {item_id!r} could not be read at ingest")
    from llmrec.errors import MediaError
    from llmrec.media import allowed_roots, open_confined

    # Checked again at serve time, against the catalog folder recorded at ingest and today's [media] roots: a
    # workspace ingested before paths were confined may hold any path.
    try:
        with open_confined(path, allowed_roots(stored.item.media_root, list(roots)), MAX_MEDIA_BYTES,
                           limit_name="what this service serves") as media:
            data = media.read_all()
    except MediaError as e:
        raise StarletteHTTPException(404, f"media {index} of item {item_id!r} is not served: {e}") from None
    if hashlib.sha256(data).hexdigest() != expected:
        raise StarletteHTTPException(404, f"media {index} of item {item_id!r} changed since it was ingested; "
                                          "re-ingest the catalog to serve it")
    return data, content_type
