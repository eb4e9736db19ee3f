"""The web page at ``/ui``: HTML shells rendered with Jinja2 (autoescape on) and one script.

The shells carry no data. ``static/app.js`` reads everything from the JSON API with the bearer
token the user typed (kept in the browser's ``sessionStorage`` and sent as ``Authorization:
Bearer``), so the page enforces exactly the API's owner scoping: another owner's id is the API's
404, and nothing is served to a browser that the API would not serve to the same token. Pictures
and the checkpoint are fetched the same way and shown from ``blob:`` URLs; job progress is the SSE
stream ``/v1/jobs/{id}/events`` read with ``fetch`` (``EventSource`` cannot send a header).
Everything the script puts on the page goes through ``textContent`` or attribute setters, never
``innerHTML``. No route here is in the OpenAPI document.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from core.errors import NotFound

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
_STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css"}
# Ids are put into the shell only as a data attribute (escaped); this keeps them plain as well.
_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every template, whatever its extension
    undefined=jinja2.StrictUndefined,
)

# A strict policy: only this origin's script and style, images from blob: URLs, no inline script.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


def _page(request: Request, page: str, title: str, subject_id: str = "") -> HTMLResponse:
    if subject_id and not _ID.match(subject_id):
        raise NotFound(f"no {page} with id {subject_id[:64]!r}")
    html = templates.get_template("page.html").render(
        page=page, title=title, subject_id=subject_id, root=request.scope.get("root_path", "")
    )
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": _CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )


@router.get("/ui", response_class=HTMLResponse)
def zoo_page(request: Request) -> HTMLResponse:
    return _page(request, "zoo", "Zoo")


@router.get("/ui/", response_class=RedirectResponse)
def ui_slash() -> RedirectResponse:
    return RedirectResponse("/ui")


@router.get("/ui/models/{model_id}", response_class=HTMLResponse)
def model_page(request: Request, model_id: str) -> HTMLResponse:
    return _page(request, "model", "Model", model_id)


@router.get("/ui/partitions/{partition_id}", response_class=HTMLResponse)
def partition_page(request: Request, partition_id: str) -> HTMLResponse:
    return _page(request, "partition", "Partition", partition_id)


@router.get("/ui/assemblies/{assembly_id}", response_class=HTMLResponse)
def assembly_page(request: Request, assembly_id: str) -> HTMLResponse:
    return _page(request, "assembly", "Assembly", assembly_id)


@router.get("/ui/jobs", response_class=HTMLResponse)
def jobs_page(request: Request) -> HTMLResponse:
    return _page(request, "jobs", "Jobs")


@router.get("/ui/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str) -> HTMLResponse:
    return _page(request, "job", "Job", job_id)


@router.get("/ui/static/{name}")
def static_file(name: str) -> Response:
    media_type = _STATIC_FILES.get(name)
    if media_type is None:  # a fixed list: nothing a client sends becomes a path
        raise NotFound(f"no static file {name[:64]!r}")
    return FileResponse(
        STATIC / name,
        media_type=media_type,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
