"""The web app in a real Chromium, for the browser tests: a context signed in as a person,
screenshots at a desktop's and a phone's width, and axe-core's accessibility check.

axe-core comes with the Python package axe-playwright-python and is evaluated in the page
through the DevTools protocol, which the pages' Content-Security-Policy (no scripts) does not
govern: the pages are checked as the app serves them, CSP and all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from deploy.webapp.auth import COOKIE, pack
from states.access.sessions import EMAIL_LINK, open_session
from states.store.db import UnitOfWork
from states.store.models import utcnow

DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
BLOCKING = ("serious", "critical")  # the impacts that fail a page
# axe runs on everything a page holds: its closed <details> (forms to add and edit) opened
OPEN_DETAILS = """() => document.querySelectorAll('details:not([open])').forEach(d => {
  d.open = true; d.dataset.axeOpened = '1' })"""
CLOSE_DETAILS = """() => document.querySelectorAll('details[data-axe-opened]').forEach(d => {
  d.open = false; delete d.dataset.axeOpened })"""


def session_cookie(uow: Callable[[], UnitOfWork], key: bytes, email: str) -> str:
    """The session cookie's value of a new session for `email`, as if they had signed in
    with the emailed link."""
    session_id, secret = open_session(uow(), email, EMAIL_LINK, utcnow(), 12)
    return pack(key, "session", session_id, secret)


def new_context(browser: Any, base_url: str, cookie: str = "", phone: bool = False) -> Any:
    """A fresh browser context at a desktop's size or a phone's (touch, mobile viewport),
    signed in when `cookie` is a session cookie's value."""
    context = browser.new_context(
        base_url=base_url,
        viewport=PHONE if phone else DESKTOP,
        is_mobile=phone,
        has_touch=phone,
    )
    if cookie:
        context.add_cookies([{"name": COOKIE, "value": cookie, "url": base_url}])
    return context


def violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now, its closed <details> opened for it."""
    from axe_playwright_python.sync_playwright import Axe

    page.evaluate(OPEN_DETAILS)
    try:
        found: list[dict[str, Any]] = Axe().run(page).response["violations"]
    finally:
        page.evaluate(CLOSE_DETAILS)
    return found


def described(found: list[dict[str, Any]]) -> str:
    """Each violation's rule, impact and help, and every node it was found on."""
    lines = []
    for violation in found:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"  {', '.join(map(str, node['target']))}: {node['html'][:160]}")
            lines.append(f"    {summary[:400]}")
    return "\n".join(lines)


def fits(page: Any) -> tuple[int, int]:
    """(the document's width, the window's): equal when nothing scrolls sideways."""
    width, window = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return int(width), int(window)


def check_page(page: Any, name: str, artifacts: Path, phone: bool = False) -> None:
    """Screenshots of the page (`web-<name>-desktop.png` and `-phone.png`; a phone's context
    only the latter), nothing scrolling sideways at either width, and no serious or critical
    axe-core violation (the moderate and minor ones are printed)."""
    artifacts.mkdir(exist_ok=True)
    sizes = [("phone", PHONE)] if phone else [("desktop", DESKTOP), ("phone", PHONE)]
    found: list[dict[str, Any]] = []
    for label, size in sizes:
        page.set_viewport_size(size)
        page.screenshot(path=str(artifacts / f"web-{name}-{label}.png"), full_page=True)
        width, window = fits(page)
        assert width <= window, f"{name} at {label} width is {width} px wide, not {window}"
        found += [v for v in violations(page) if v["id"] not in {f["id"] for f in found}]
    page.set_viewport_size(PHONE if phone else DESKTOP)
    serious = [v for v in found if v["impact"] in BLOCKING]
    assert not serious, f"axe-core on {name} ({page.url}):\n{described(serious)}"
    if found:
        print(f"axe-core on {name}, not failing it:\n{described(found)}")
