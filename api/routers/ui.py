"""The web explorer: static files at ``/ui`` and the evaluation results it shows.

The page (``api/ui/``: HTML, CSS, JavaScript and the vendored cytoscape.js) is public: it
holds no data and no secret, and calls the ``/v1`` routes with the token the user types in.
Every response of ``/ui`` carries a strict Content-Security-Policy: scripts and styles
from this origin only (no inline script), requests to this origin only, no framing.

``GET /v1/eval`` lists the ``graphrag eval`` results under ``api.eval_dir`` and
``GET /v1/eval/{name}/recall.png`` serves a run's recall plot (role ``reader``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from api.deps import Scope, scoped
from api.errors import ApiError
from api.security import Role

router = APIRouter(tags=["ui"])

UI_DIR = Path(__file__).resolve().parents[1] / "ui"
"""The explorer's files (package data of ``api``)."""

_MEDIA = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}

CYTOSCAPE_STYLE = ".__________cytoscape_container { position: relative; }"
"""The one ``<style>`` element cytoscape.js inserts; the policy allows it by its hash."""


def _hash_source(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        f"style-src 'self' {_hash_source(CYTOSCAPE_STYLE)}",
        "img-src 'self' blob: data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
"""The policy of every ``/ui`` response (documents are untrusted: no inline script runs)."""

UI_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _assets() -> dict[str, Path]:
    """The files the explorer may serve: name (``app.js``, ``vendor/x.js``) -> path."""
    if not UI_DIR.is_dir():
        return {}
    return {
        path.relative_to(UI_DIR).as_posix(): path
        for path in sorted(UI_DIR.rglob("*"))
        if path.is_file() and path.suffix in _MEDIA and "__pycache__" not in path.parts
    }


ASSETS = _assets()


def _enabled(request: Request) -> None:
    if not request.app.state.settings.api.ui:
        raise ApiError(404, "not_found", "the web explorer is switched off (api.ui = false)")


@router.api_route("/ui", methods=["GET", "HEAD"], include_in_schema=False)
async def ui_root(request: Request) -> RedirectResponse:
    """``/ui`` -> ``/ui/`` (relative links of the page resolve under it)."""
    _enabled(request)
    return RedirectResponse("/ui/", status_code=307)


@router.api_route("/ui/{name:path}", methods=["GET", "HEAD"], include_in_schema=False)
async def ui_file(name: str, request: Request) -> Response:
    """The page (``/ui/``) or one of its files; anything else is 404."""
    _enabled(request)
    path = ASSETS.get(name or "index.html")
    if path is None:
        raise ApiError(404, "not_found", f"no file {name!r} in the web explorer")
    etag = '"' + hashlib.sha256(await asyncio.to_thread(path.read_bytes)).hexdigest()[:32] + '"'
    headers = {**UI_HEADERS, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=_MEDIA[path.suffix], headers=headers)


class EvalRun(BaseModel):
    """One ``graphrag eval`` result (``results.json`` of an output folder)."""

    name: str = Field(description="The output folder's name (the plot's URL uses it).")
    dataset: str
    created_at: str | None = None
    questions: int | None = None
    passages: int | None = None
    modes: list[dict[str, Any]] = Field(
        default_factory=list, description="Per mode: recall, all_gold, latency_ms, ..."
    )
    plot: bool = Field(description="Whether the folder has recall.png.")


class EvalRuns(BaseModel):
    """The evaluation results under ``api.eval_dir``, newest first."""

    runs: list[EvalRun]
    note: str | None = Field(default=None, description="Why there are none, and what to do.")


_RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_. -]{0,99}")
"""Folder names listed (the plot's URL carries the name; no ``/``, no leading dot)."""
_MAX_DEPTH = 20
"""Deepest nesting kept from a results file (``graphrag eval`` writes 4 levels)."""
NO_RESULTS = (
    "no evaluation results: run `graphrag eval --dataset PATH --out DIR` and point "
    "api.eval_dir (GRAPHRAG_API__EVAL_DIR) at DIR or at the folder that holds such folders"
)


def _missing_note(root: Path | None) -> str:
    """Why no run is listed: no folder, a file, or a folder without readable results."""
    if root is not None and not root.exists():
        return f"api.eval_dir ({root.name}) does not exist; " + NO_RESULTS
    if root is not None and not root.is_dir():
        return f"api.eval_dir ({root.name}) is not a folder; " + NO_RESULTS
    return NO_RESULTS


def _scrub(value: Any, depth: int = 0) -> Any:
    """Drop server paths (``path`` keys) and nesting beyond :data:`_MAX_DEPTH` (``None``)."""
    if depth >= _MAX_DEPTH and isinstance(value, dict | list):
        return None
    if isinstance(value, dict):
        return {k: _scrub(v, depth + 1) for k, v in value.items() if k != "path"}
    if isinstance(value, list):
        return [_scrub(v, depth + 1) for v in value]
    return value


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` lies under ``root``, links followed (so none leads elsewhere)."""
    try:
        return path.resolve(strict=True).is_relative_to(root.resolve(strict=True))
    except (OSError, RuntimeError):  # missing, a link loop
        return False


def _run_folders(root: Path | None) -> dict[str, Path]:
    """Output folders (``results.json`` inside) of ``root``: itself, or its subfolders.

    Folders and results files that are links leading out of ``root`` are left out.
    """
    if root is None or not root.is_dir():
        return {}
    folders = [root] if (root / "results.json").is_file() else []
    folders += [p for p in sorted(root.iterdir()) if (p / "results.json").is_file()]
    return {
        p.name: p
        for p in folders
        if _RUN_NAME.fullmatch(p.name) and _inside(p / "results.json", root)
    }


def _plot(folder: Path, root: Path) -> Path | None:
    """The run's ``recall.png`` if it is a file inside ``root`` (links followed)."""
    path = folder / "recall.png"
    return path if path.is_file() and _inside(path, root) else None


def _read_run(name: str, folder: Path, root: Path) -> EvalRun | None:
    try:
        data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, RecursionError, ValueError):  # JSONDecodeError too
        return None
    if not isinstance(data, dict):
        return None
    modes = data.get("modes")
    return EvalRun(
        name=name,
        dataset=str(data.get("dataset") or name),
        created_at=str(data["created_at"]) if data.get("created_at") else None,
        questions=data.get("questions") if isinstance(data.get("questions"), int) else None,
        passages=data.get("passages") if isinstance(data.get("passages"), int) else None,
        modes=[_scrub(m) for m in modes if isinstance(m, dict)] if isinstance(modes, list) else [],
        plot=_plot(folder, root) is not None,
    )


def read_runs(root: Path | None) -> EvalRuns:
    """The runs under ``root``, newest first (unreadable results files are skipped)."""
    folders = _run_folders(root)
    runs = [
        r
        for n, f in folders.items()
        if root is not None and (r := _read_run(n, f, root)) is not None
    ]
    runs.sort(key=lambda r: (r.created_at or "", r.name), reverse=True)
    return EvalRuns(runs=runs, note=None if runs else _missing_note(root))


Reader = Annotated[Scope, Depends(scoped(Role.READER))]


@router.get("/v1/eval", response_model=EvalRuns, tags=["evaluation"], summary="Eval results")
async def eval_runs(request: Request, scope: Reader) -> EvalRuns:
    """The latest ``graphrag eval`` results under ``api.eval_dir``, newest first."""
    return await asyncio.to_thread(read_runs, request.app.state.settings.api.eval_dir)


@router.get(
    "/v1/eval/{name}/recall.png",
    tags=["evaluation"],
    summary="Recall plot of an eval run",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}}}},
)
async def eval_plot(name: str, request: Request, scope: Reader) -> FileResponse:
    """The recall plot (``recall.png``) of the run ``name``."""
    root = request.app.state.settings.api.eval_dir
    folders = await asyncio.to_thread(_run_folders, root)
    folder = folders.get(name)
    plot = None if folder is None else await asyncio.to_thread(_plot, folder, root)
    if plot is None:
        raise ApiError(404, "not_found", f"no recall plot for eval run {name!r}; see GET /v1/eval")
    return FileResponse(plot, media_type="image/png")
