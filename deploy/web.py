"""The approval page (`xbr web`, also started by `xbr up`): small server-rendered pages, no
JavaScript. A signed link shows its person what the phase produced (evidence.html.j2) with the
full report (`/report/<token>`), the review's checklist, its assessment to staging's
people (deploy/assessment_page.py) and, when the link allows, the gate's decision form; a
client contact's plan link shows the client's plan and takes its decisions (deploy/plan_page.py). A
refused request gets a 403 page; a link xbr signed leaves one audit row per person and reason
however often it is refused, one it never signed only a count; an address refused too often in
a minute gets 429 (deploy/web_limits.py)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import multiprocessing
import os
import signal
import threading
import time
from contextlib import suppress
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import bootstrap
from deploy import approval, board_page, plan_page, web_processes
from deploy.approval import Sender, UowFactory, Visit
from deploy.context import os_user
from deploy.web_limits import (
    WINDOW,
    RefusalLimit,
    SlowRequestProtocol,
    UnsignedLinks,
    slow_request_protocol,
)
from deploy.webapp import (
    directory_pages,
    downloads,
    home,
    oidc_routes,
    portfolio_page,
    review_page,
    signin,
    start_page,
)
from deploy.webapp.auth import Auth, origin_of
from deploy.webapp.forms import Form, read_form
from deploy.webapp.forms import value as field_value
from deploy.webapp.site import Site
from notifications import links
from notifications.gate_notice import REPORT
from notifications.links import LinkRefused
from notifications.messages import template_environment
from reports.documents import report_html
from states.errors import WEB_PAGE, XbrError
from states.read import views
from states.read.scorecards import report_data
from states.settings import Settings
from states.store.db import UnitOfWork, open_connections

VIA = "approval page, signed link"  # how its people are known, in the audit trail
# No scripts, frames or foreign form targets; the token in the address never leaves in a Referer.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    # same-origin: the token in the path never leaves, and form posts keep their Origin
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _pages() -> Environment:
    env = template_environment("deploy", "templates", autoescape=True)
    env.filters.update(first_upper=lambda text: text[:1].upper() + text[1:])
    return env


class _Handlers:
    """The page's handlers on one database, with this installation's link key."""

    def __init__(self, settings: Settings, uow: UowFactory) -> None:
        self.settings, self._uow = settings, uow
        self.plan_uow = plan_page.plan_uow(uow)
        self.key = links.load_key(settings.home, settings.secret_key or None)
        self.pages = _pages()
        self.origin = origin_of(settings.page_url)
        self.limit = RefusalLimit(settings.web_refusals_per_minute)
        self.unsigned = UnsignedLinks()

    def uow(self) -> UnitOfWork:
        """A unit of work whose audit rows say the approval page and its signed link."""
        work = self._uow()
        work.via = VIA
        return work

    def page(self, name: str, status: int, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.pages.get_template(name).render(context), status_code=status)

    def too_many(self, request: Request) -> HTMLResponse | None:
        """The 429 page for an address refused too often in the last minute, else None."""
        if not self.limit.blocked(_address(request)):
            return None
        response = self.page(
            "refused.html.j2", 429, heading="Too many refused requests",
            why="this address was refused too often in the last minute",
            todo="wait a minute, then open the link or address again", saved=[],
        )  # fmt: skip
        response.headers["Retry-After"] = str(int(WINDOW))
        return response

    def refused(self, request: Request) -> None:
        """Count a refusal against the request's address."""
        self.limit.refused(_address(request))

    def refuse(
        self,
        request: Request,
        visit: Visit,
        reason: str,
        heading: str = "This link cannot be used",
    ) -> HTMLResponse:
        """The 403 page, counted against the address; a link xbr signed leaves its audit row
        once per person and reason, one it never signed only a count."""
        self.refused(request)
        if visit.claims is None:
            self.unsigned.refused()
        else:
            plan = visit.claims.action == links.PLAN
            approval.record_refusal(self.plan_uow() if plan else self.uow(), visit, reason)
        why, _, todo = reason.partition("; ")
        if not todo and links.NEW_LINK not in why:  # links' own messages carry their advice
            todo = "open the newest link sent to you, or ask the review's coordinator"
        saved = [*visit.saved, *visit.answered, *visit.planned]
        return self.page("refused.html.j2", 403, heading=heading, why=why, todo=todo, saved=saved)

    def show(self, token: str, request: Request) -> HTMLResponse:
        """GET: the review, its phase and checklist, and the decision form if the link allows."""
        if blocked := self.too_many(request):
            return blocked
        visit = Visit(token)
        try:
            approval.check_link(self.uow(), self.key, visit)
        except XbrError as exc:
            return self.refuse(request, visit, exc.worded(WEB_PAGE))
        if visit.claims and visit.claims.action == links.PLAN:
            shown = plan_page.page_context(self.plan_uow, self.key, visit, self.settings.currency)
            return self.page("plan.html.j2", 200, **shown)
        context = approval.page_context(self.uow(), self.key, visit)
        context |= approval.evidence_context(self.uow(), visit, self.settings.currency)
        return self.page("review.html.j2", 200, **context)

    def report(self, token: str, request: Request) -> HTMLResponse:
        """GET: the review's full report, for whoever holds a valid link to its page (a
        client's plan link shows the plan only)."""
        if blocked := self.too_many(request):
            return blocked
        visit = Visit(token)
        try:
            claims = approval.check_link(self.uow(), self.key, visit)
            if claims.action == links.PLAN:
                raise LinkRefused("this link is for the client's plan; open it for the plan")
        except XbrError as exc:
            return self.refuse(request, visit, exc.worded(WEB_PAGE))
        data = report_data(self.uow(), claims.review_id, currency=self.settings.currency)
        return HTMLResponse(report_html(data))

    async def sender(self, request: Request) -> Sender:
        """The form and where the browser says it comes from."""
        return Sender(
            form=await read_form(request),
            # the public address, and the one this request reached (localhost vs 127.0.0.1)
            own_origins={self.origin, f"{request.url.scheme}://{request.headers.get('host')}"},
            origin=request.headers.get("origin"),
            fetch_site=request.headers.get("sec-fetch-site"),
        )

    def submit(self, token: str, sender: Sender, request: Request) -> HTMLResponse:
        """POST: check link and form, tick the tasks, answer, decide, wake the run, say where
        it is."""
        if blocked := self.too_many(request):
            return blocked
        visit = Visit(token)
        try:
            claims = approval.check_link(self.uow(), self.key, visit)
            choice = approval.check_post(self.key, visit, sender)
        except XbrError as exc:
            return self.refuse(request, visit, exc.worded(WEB_PAGE))
        form = sender.form or {}
        if claims.action == links.PLAN:
            return self.decide_plan(visit, form, request)
        try:
            decided = approval.apply(self.uow, visit, form, choice)
        except XbrError as exc:
            return self.refuse(request, visit, exc.worded(WEB_PAGE), heading="Not saved")
        comment = field_value(form, "comment")
        changed = bool(visit.saved or visit.answered or visit.confirmed or decided)
        note = approval.wake(self.uow(), self.settings, claims, choice, comment) if changed else ""
        review = views.review_view(self.uow(), claims.review_id)
        titles = {t.key: t.title for t in review.tasks}
        done = [f"Done: {titles.get(k, k)}" for k in visit.saved] + _answered(visit)
        done += visit.planned
        done += [decided] if decided else []
        where = approval.where(review.status)
        back = review.round == claims.round  # the link still works: offer the way back
        return self.page(
            "done.html.j2", 200, review=review, done=done, note=note, where=where, back=back
        )

    def decide_plan(self, visit: Visit, form: Form, request: Request) -> HTMLResponse:
        """POST of a plan link: check every decision, use the link up, make them, and show
        the plan as it is now (409 when someone had decided each of them first)."""
        try:
            chosen = plan_page.choices(self.plan_uow, visit, form)
            done, late = plan_page.apply(self.plan_uow, visit, chosen) if chosen else ([], [])
        except XbrError as exc:
            return self.refuse(request, visit, exc.worded(WEB_PAGE), heading="Not saved")
        shown = plan_page.page_context(self.plan_uow, self.key, visit, self.settings.currency)
        shown.update(sent=True, done=done, late=late)
        return self.page("plan.html.j2", 409 if late and not done else 200, **shown)


def _answered(visit: Visit) -> list[str]:
    """The assessment's changes, in words for the page."""
    answered = [f"Answered: {', '.join(visit.answered)}"] if visit.answered else []
    if visit.confirmed:
        s = "" if visit.confirmed == 1 else "s"
        answered.append(f"Confirmed {visit.confirmed} carried answer{s}")
    return answered


def _address(request: Request) -> str:
    """The client's address as the connection shows it (not a header it could set)."""
    return request.client.host if request.client else "unknown"


def security_headers(settings: Settings) -> dict[str, str]:
    """HEADERS, with the OpenID provider as a place the sign-in form may lead to (browsers
    hold a form's redirect to `form-action` too)."""
    if not settings.oidc_issuer:
        return HEADERS
    provider = origin_of(settings.oidc_issuer)
    policy = HEADERS["Content-Security-Policy"].replace(
        "form-action 'self'", f"form-action 'self' {provider}"
    )
    return HEADERS | {"Content-Security-Policy": policy}


class SecurityHeaders:
    """Adds the security headers to every answer (a plain ASGI middleware: no task and
    stream per request, as an `http` middleware makes)."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.names = {name for name, _ in self.headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k not in self.names]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        await self.app(scope, receive, sending)


async def _healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


def create_app(settings: Settings, uow: UowFactory) -> FastAPI:
    """The approval page's app, on the database that `uow` opens."""
    handlers = _Handlers(settings, uow)
    # no redirect_slashes: its Location would be built from the request's Host header
    app = FastAPI(
        title="xbr approval page",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
    )
    app.add_middleware(SecurityHeaders, headers=security_headers(settings))

    app.get("/healthz")(_healthz)
    site = Site(
        settings,
        uow,
        Auth(handlers.key, uow, settings.page_url, settings.session_hours),
        handlers.pages,
        handlers,
    )
    # oidc_routes before signin: /signin/<token> takes any path
    for part in (
        oidc_routes,
        signin,
        home,
        start_page,
        directory_pages,
        review_page,
        downloads,
        portfolio_page,
    ):
        app.include_router(part.router(site))
    app.include_router(board_page.router(handlers.key, uow, handlers.page, handlers, site))
    # `:path`: a damaged token with a "/" in it still gets the 403 page, not a 404.
    app.get("/r/{token:path}")(handlers.show)
    app.get(REPORT + "{token:path}")(handlers.report)

    @app.post("/r/{token:path}")
    async def submit(token: str, request: Request) -> HTMLResponse:
        if blocked := handlers.too_many(request):
            return blocked
        sender = await handlers.sender(request)
        return await run_in_threadpool(handlers.submit, token, sender, request)

    return app


def _server(
    settings: Settings, uow: UowFactory, host: str | None, port: int | None, log: str
) -> uvicorn.Server:
    app = create_app(settings, uow)
    _settle_memory()
    config = uvicorn.Config(
        app,
        host=host or settings.web_host,
        port=port or settings.web_port,
        # no access log: the path holds the token, as good as a password until it expires
        access_log=False,
        log_level=log,
        lifespan="off",
        ws="none",
        http=slow_request_protocol(settings.web_request_seconds),
        timeout_keep_alive=5,
    )
    return uvicorn.Server(config)


def serve(
    settings: Settings, uow: UowFactory, host: str | None = None, port: int | None = None
) -> None:
    """Serve the web app in the foreground until Ctrl-C (`xbr web`): from
    XBR_WEB_WORKERS processes, each building its app from the environment, or from this
    process when that is 1."""
    if settings.web_workers <= 1:
        _server(settings, uow, host, port, "info").run()
        return
    # the workers read their settings from this environment: the same host and port
    os.environ["XBR_WEB_HOST"] = host = host or settings.web_host
    os.environ["XBR_WEB_PORT"] = str(port := port or settings.web_port)
    config = uvicorn.Config(
        f"{__name__}:app_from_environment",
        factory=True,
        workers=settings.web_workers,
        host=host,
        port=port,
        access_log=False,  # the path holds the token
        log_level="info",
        lifespan="off",
        ws="none",
        http=f"{SlowRequestProtocol.__module__}:{SlowRequestProtocol.__name__}",
        timeout_keep_alive=5,
    )
    web_processes.run_workers(config)


def app_from_environment() -> FastAPI:
    """A worker process's app (`xbr web` with XBR_WEB_WORKERS > 1), on the installation its
    environment names."""
    _end_with_parent()
    root = bootstrap.identify(f"web app, os user {os_user()}")
    SlowRequestProtocol.seconds = root.settings.web_request_seconds
    app = create_app(root.settings, root.uow)
    open_connections(root.engine, WARM_CONNECTIONS)
    _settle_memory()
    return app


def _end_with_parent() -> None:
    """Have Linux stop this worker when `xbr web` ends, even killed outright: a worker left
    behind would go on answering on the port with code and settings of the past."""
    with suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it ended before that took hold
        os.kill(os.getpid(), signal.SIGTERM)


PR_SET_PDEATHSIG = 1  # linux/prctl.h
WARM_CONNECTIONS = 10  # opened at a worker's start: its share of a burst of decisions


def _settle_memory() -> None:
    """Leave what the process has built so far (modules, the app) out of the collector's
    full passes: in a process this size one pauses a request for some 60 ms, this 3-4 ms.
    What it keeps later (caches filled by pages) makes them 20-40 ms again, so they come a
    tenth as often: after 100 middle passes, not 10 (the young passes free a request's
    garbage as before)."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)


def _run(server: uvicorn.Server) -> None:
    # uvicorn exits when it cannot listen; start_in_thread reports that as one line instead
    with suppress(SystemExit):
        server.run()


def start_in_thread(
    settings: Settings,
    uow: UowFactory,
    host: str | None = None,
    port: int | None = None,
) -> tuple[uvicorn.Server, threading.Thread]:
    """Serve the approval page from a daemon thread (`xbr up`) once it listens; stop it with
    `server.should_exit = True` and `thread.join()`."""
    server = _server(settings, uow, host, port, "warning")
    thread = threading.Thread(target=_run, args=(server,), name="xbr-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            where = f"{server.config.host}:{server.config.port}"
            raise XbrError(
                f"the approval page cannot listen on {where}; free it or set XBR_WEB_PORT"
            )
        time.sleep(0.02)
    return server, thread
