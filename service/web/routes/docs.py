"""/docs/: the user guides in docs/ as web pages, and the images they show."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from service.pages.guides import ASSET_TYPES, asset_path, render_guide
from service.pages.render import render
from service.web.responses import error_response

router = APIRouter(tags=["Dokumentasjon / Documentation"])


def _not_found(name: str) -> Response:
    return error_response(
        404,
        f"Fant ingen veiledning som heter «{name}».",
        f"There is no guide named '{name}'.",
        "Se / see /docs/",
    )


@router.get("/docs", include_in_schema=False)
async def docs_root() -> Response:
    return RedirectResponse("/docs/", status_code=308)


@router.get("/docs/{name:path}", summary="Veiledninger / User guides")
async def guide(name: str, request: Request) -> Response:
    if name.endswith(".md"):
        # A link copied from the repository: the same guide, at its service path.
        stem = name[: -len(".md")]
        return RedirectResponse(f"/docs/{'' if stem == 'README' else stem}", status_code=308)
    asset = asset_path(name)
    if asset is not None:
        return FileResponse(asset, media_type=ASSET_TYPES[asset.suffix])
    found = await asyncio.to_thread(render_guide, name)
    if found is None:
        return _not_found(name)
    return HTMLResponse(render("guide.html", request, guide=found))
