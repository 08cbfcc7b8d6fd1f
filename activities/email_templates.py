"""Every email the pipelines send, rendered from a kind and its facts: a subject, a plain-text
body and an HTML body, in the recipient's language with dates in the recipient's time zone.

The texts are in templates/email/<locale>.yaml (one entry per `EmailKind`); the two layouts
templates/email/layout.{txt,html}.j2 put them together. Every text is a Jinja2 template over the
facts; the HTML layout escapes whatever the texts produce.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import jinja2
import yaml
from markupsafe import Markup, escape

from domain.locale import Locale, human_date, human_datetime, human_day, zone
from domain.notifications import EmailFacts

_TEMPLATES = resources.files("activities") / "templates" / "email"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _paragraph(text: str) -> Markup:
    """One paragraph of the HTML body: escaped, line breaks kept."""
    return Markup("<br>\n").join(escape(line) for line in text.split("\n"))


@functools.cache
def _layouts() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: (_TEMPLATES / name).read_text("utf-8")),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["paragraph"] = _paragraph
    return env


@functools.cache
def _texts() -> jinja2.Environment:
    # Plain text out; the HTML layout escapes it.
    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)


@functools.cache
def catalog(locale: Locale) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((_TEMPLATES / f"{locale.value}.yaml").read_text("utf-8"))
    return data


@functools.lru_cache(maxsize=2048)
def _compiled(template: str) -> jinja2.Template:
    """The catalogue's lines are a fixed set: each is compiled once, not on every email."""
    return _texts().from_string(template)


def _say(template: str, values: dict[str, Any]) -> str:
    return _compiled(template).render(values).strip()


def render(facts: EmailFacts) -> RenderedEmail:
    """The email for the facts, in `facts.locale`, dates in `facts.time_zone`."""
    texts = catalog(facts.locale)
    entry = texts["kinds"][facts.kind.value]
    tz = zone(facts.time_zone)
    deadline: datetime | None = facts.deadline
    values: dict[str, Any] = {
        "name": facts.recipient_name,
        "legal_name": facts.legal_name,
        "partner_id": facts.partner_id,
        "region": facts.region or "-",
        "reason": facts.reason or "",
        "message": facts.message or "",
        "link": facts.link or "",
        "deadline": (
            human_datetime(deadline, tz, facts.time_zone, facts.locale) if deadline else "-"
        ),
        "deadline_date": human_date(deadline, tz, facts.locale) if deadline else "-",
    }
    # An email scheduled before `allowed_from` existed carries the cooldown's end as `deadline`.
    values["allowed_from"] = (
        human_day(facts.allowed_from, facts.locale)
        if facts.allowed_from
        else values["deadline_date"]
    )
    values["who"] = _say(texts["who"], values)
    subject = _say(entry["subject"], values)
    page = {
        "locale": facts.locale.value,
        "subject": subject,
        "greeting": _say(texts["greeting"], values),
        "signature": texts["signature"],
        "footer": texts["footer"],
        "link_fallback": texts["link_fallback"],
        "link": facts.link or "",
        "action": _say(entry.get("action", ""), values),
        "before": [p for p in (_say(t, values) for t in entry.get("before", [])) if p],
        "after": [p for p in (_say(t, values) for t in entry.get("after", [])) if p],
    }
    layouts = _layouts()
    return RenderedEmail(
        subject=subject,
        text=layouts.get_template("layout.txt.j2").render(page),
        html=layouts.get_template("layout.html.j2").render(page),
    )
