"""The web server: a FastAPI app over a :class:`Controller`, and the static front end.

Routes (JSON unless noted):
    GET  /                      the annotation page (HTML)
    GET  /static/{name}         the page's script and style
    GET  /api/config            recipe, view, dataset, labels, instructions
    POST /api/tasks             {"session", "count"?} → {"tasks", "progress"}
    POST /api/answers           {"session", "answers": [{"task_hash", "answer", "spans"?, "accept"?}]}
                                → {"saved", "new", "progress"}; committed to the database before the reply
    GET  /api/history?session=  the session's latest answers, newest first
    GET  /api/progress?session=
    GET  /api/search?q=         KB entities for el.manual's search box

The server binds to 127.0.0.1 unless told otherwise, answers only to its own Host names (400 otherwise), asks for
basic auth when users are configured (401; required off loopback) and then lets each user use only their own
session (403), refuses request bodies over ``max_body`` bytes (413) and POSTs that are not JSON (415), and
answers bad requests with 4xx and a message, storing nothing. A database failure is a 503. One server serves a
dataset of a database at a time (:class:`~elkit.annotate.locks.DatasetLock`).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from elkit.annotate.access import AccessGuard, AccessSettings
from elkit.annotate.controller import AnswerError, Controller, UnknownTaskError
from elkit.errors import StoreError

__all__ = ["create_app", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MAX_BODY = 1_000_000
_STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class _TaskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session: str = Field(max_length=100)
    count: int | None = Field(default=None, ge=1, le=100)


class _AnswersRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session: str = Field(max_length=100)
    answers: list[dict[str, Any]] = Field(max_length=1000)


class _BodyLimit:
    """ASGI middleware: 413 for bodies over the limit (by header or as they stream in), 415 for non-JSON POSTs."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            await JSONResponse({"detail": "send JSON (Content-Type: application/json)"}, 415)(scope, receive, send)
            return
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await JSONResponse({"detail": f"request body over {self.max_body:,} bytes"}, 413)(scope, receive, send)
            return
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body:
                await JSONResponse({"detail": f"request body over {self.max_body:,} bytes"}, 413)(
                    scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _static(name: str) -> str:
    return resources.files("elkit.annotate").joinpath("static", name).read_text(encoding="utf-8")


def _user(request: Request) -> str | None:
    return getattr(request.state, "user", None)


def _owner(request: Request, session: str) -> str:
    """The session, when the authenticated user (if auth is on) may use it."""
    user = _user(request)
    if user is not None and session != user:
        raise HTTPException(403, f"session {session!r} belongs to another user; you are {user!r}")
    return session


def create_app(controller: Controller, *, max_body: int = MAX_BODY, access: AccessSettings | None = None) -> FastAPI:
    """The FastAPI app serving one recipe, behind the Host / auth guard and the body limit."""
    recipe = controller.recipe
    access = access or AccessSettings()
    app = FastAPI(title="elkit annotate", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        for key, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(AnswerError)
    async def answer_error(_request: Request, error: AnswerError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404 if isinstance(error, UnknownTaskError) else 400)

    @app.exception_handler(StoreError)
    async def store_error(_request: Request, error: StoreError) -> JSONResponse:
        return JSONResponse({"detail": f"the database failed: {error}"}, status_code=503)

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(_static("index.html"))

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in _STATIC:
            raise HTTPException(404, "no such file")
        return Response(_static(name), media_type=_STATIC[name])

    @app.get("/api/config")
    def config(request: Request) -> dict[str, Any]:
        return {"recipe": recipe.name, "view": recipe.view, "dataset": recipe.dataset,
                "labels": list(recipe.labels), "instructions": recipe.instructions,
                "batch_size": controller.batch_size, "search": recipe.kb is not None, "user": _user(request)}

    @app.post("/api/tasks")
    def tasks(request: Request, body: _TaskRequest) -> dict[str, Any]:
        session = _owner(request, body.session)
        found = controller.next_tasks(session, body.count)
        return {"tasks": found, "progress": controller.progress(session)}

    @app.post("/api/answers")
    def answers(request: Request, body: _AnswersRequest) -> dict[str, Any]:
        session = _owner(request, body.session)
        if not body.answers:
            raise HTTPException(400, "no answers")
        return controller.submit(session, body.answers)

    @app.get("/api/history")
    def history(request: Request, session: str = Query(max_length=100),
                limit: int = Query(20, ge=1, le=200)) -> dict[str, Any]:
        return {"answers": controller.history(_owner(request, session), limit)}

    @app.get("/api/progress")
    def progress(request: Request, session: str = Query(max_length=100)) -> dict[str, Any]:
        return controller.progress(_owner(request, session))

    @app.get("/api/search")
    def search(q: str = Query(min_length=1, max_length=200), limit: int = Query(10, ge=1, le=50)) -> dict[str, Any]:
        if recipe.kb is None:
            raise HTTPException(404, "this recipe has no knowledge base to search")
        return {"entities": search_kb(recipe.kb, q, limit)}

    return AccessGuard(_BodyLimit(app, max_body), access)  # type: ignore[return-value]


def search_kb(kb: Any, query: str, limit: int = 10) -> list[dict[str, Any]]:
    """KB entities for a search box: an exact id first, then alias, normalised and fuzzy matches."""
    from elkit.annotate.recipes.el_manual import entity_option

    query = query.strip()
    found: dict[str, float] = {}
    if query in kb:
        found[query] = 1.0
    for candidate in kb.get_alias_candidates(query) + kb.get_normalized_candidates(query):
        found.setdefault(candidate.entity_id, 1.0)
    for candidate in kb.get_fuzzy_candidates(query, limit=limit * 2, min_score=0.3):
        found.setdefault(candidate.entity_id, float(candidate.scores.get("fuzzy", candidate.prior)))
    ranked = sorted(found.items(), key=lambda item: -item[1])[:limit]
    return [entity_option(kb, entity_id, score) for entity_id, score in ranked]


def serve(controller: Controller, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, max_body: int = MAX_BODY,
          access: AccessSettings | None = None) -> None:
    """Run the server until interrupted (uvicorn), holding the dataset's lock meanwhile.

    Raises:
        DatasetLockedError: Another server serves the dataset from the same database.
    """
    import uvicorn

    from elkit.annotate.locks import DatasetLock

    access = access or AccessSettings(host=host)
    app = create_app(controller, max_body=max_body, access=access)
    recipe = controller.recipe
    with DatasetLock(controller.store, recipe.dataset, f"elkit annotate {recipe.name}"):
        shown = f"[{host}]" if ":" in host else host
        login = f" (basic auth: {len(access.users)} users)" if access.auth else ""
        print(f"elkit annotate: {recipe.name} → dataset {recipe.dataset!r} in {controller.store.display_url}; "
              f"open http://{shown}:{port}/?session=NAME{login}", flush=True)
        try:
            uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
        finally:
            controller.close()
