"""``GET /`` and ``GET /static/{name}``: the web page, a static shell that talks to the API like any client."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

WEB_DIR = Path(str(resources.files("llmrec.serving") / "web"))  # package data, in a wheel as in a checkout
# The page loads only its own script and style; data it shows is text, images are blob: URLs it fetched itself.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
                               "media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def page() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/static/{name}")
async def static(name: str) -> FileResponse:
    if name not in _STATIC:  # a fixed set: the URL never names a file
        raise StarletteHTTPException(404, f"no static file {name!r}")
    return FileResponse(WEB_DIR / name, media_type=_STATIC[name], headers=PAGE_HEADERS)
