"""The gateway's HTML: the email-verification pages in the reader's language, the API page
(Swagger UI from the swagger-ui-bundle package's own assets: no CDN), and the security headers
every answer carries.

Texts are in templates/<locale>.yaml; the one layout is templates/page.html.j2.
"""

from __future__ import annotations

import functools
from datetime import datetime
from importlib import resources
from typing import Any

import jinja2
import yaml
from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.locale import Locale, human_datetime, zone

_TEMPLATES = resources.files("gateway") / "templates"
STATIC = resources.files("gateway") / "static"

# Every answer: never cached (links and decisions are single-use), never framed, no referrer
# (the link's token would leak to whatever the page links to), no MIME sniffing.
SECURITY_HEADERS: dict[str, str] = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}


class SecurityHeaders:
    """ASGI middleware adding `SECURITY_HEADERS` to every HTTP answer (kept if already set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: (_TEMPLATES / name).read_text("utf-8")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


@functools.cache
def _texts(locale: Locale) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((_TEMPLATES / f"{locale.value}.yaml").read_text("utf-8"))
    return data


def page_locale(accept_language: str, preferred: Locale | None = None) -> Locale:
    """The workflow's recorded locale, else the browser's first of ja/en, else English."""
    if preferred is not None:
        return preferred
    for item in accept_language.split(","):
        tag = item.split(";")[0].strip().lower()
        if tag.startswith("ja"):
            return Locale.JA
        if tag.startswith("en"):
            return Locale.EN
    return Locale.EN


def _say(template: str, values: dict[str, Any]) -> str:
    text = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(template)
    return text.render(values).strip()


def verification_page(
    kind: str,
    locale: Locale,
    *,
    status: int = 200,
    company: str | None = None,
    partner_id: str | None = None,
    deadline: datetime | None = None,
    time_zone: str = "UTC",
    reason: str = "",
    form_token: str | None = None,
) -> HTMLResponse:
    """One of the pages in templates/<locale>.yaml: confirm, confirmed, already_confirmed,
    expired, replaced, busy (try again shortly), invalid."""
    texts = _texts(locale)
    entry = texts["pages"][kind]
    values = {
        "company": company or "",
        "partner_id": partner_id or "",
        "reason": reason,
        "deadline": (
            human_datetime(deadline, zone(time_zone), time_zone, locale) if deadline else ""
        ),
    }
    accent = {
        "confirm": "#0f6cbd",
        "confirmed": "#107c10",
        "already_confirmed": "#107c10",
        "busy": "#bc4b09",
    }
    company_line = company and (f"{company} (PartnerID {partner_id})" if partner_id else company)
    body = (
        _environment()
        .get_template("page.html.j2")
        .render(
            locale=locale.value,
            page_id=kind,
            accent=accent.get(kind, "#c50f1f"),
            brand=texts["brand"],
            footer=texts["footer"],
            title=_say(entry["title"], values),
            company=company_line or "",
            paragraphs=[p for p in (_say(t, values) for t in entry["paragraphs"]) if p],
            deadline=_say(entry["deadline"], values) if "deadline" in entry and deadline else "",
            button=entry.get("button", ""),
            hint=entry.get("hint", ""),
            form_token=form_token,
        )
    )
    return HTMLResponse(body, status_code=status)


def api_page(title: str) -> HTMLResponse:
    return HTMLResponse(_environment().get_template("api.html.j2").render(title=title))
