"""Every email rendered in Japanese and English, HTML and text: subjects, links, dates in the
reader's time zone, escaping, and no internal ids."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest

from activities.email_templates import render
from domain.locale import (
    Locale,
    default_locale,
    default_time_zone,
    human_date,
    human_datetime,
    zone,
)
from domain.notifications import EmailFacts, EmailKind, reader

# 2027-01-15 09:00 UTC is 18:00 in Tokyo (UTC+9, no DST) and 10:00 in Paris (CET, UTC+1).
DEADLINE = datetime(2027, 1, 15, 9, 0, tzinfo=UTC)
LINK = "https://gateway.example/v/r1234567.link-1.tgxk5s.AAAAAAAAAAAAAAAAAAAAAA"
RUN_ID = "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b"
KINDS_WITH_LINK = {
    EmailKind.VERIFICATION_LINK,
    EmailKind.PARTNERSHIP_REQUEST,
    EmailKind.PARTNERSHIP_REMINDER,
    EmailKind.CUSTOMER_INVITATION,
    EmailKind.CUSTOMER_INVITATION_REMINDER,
}
# Reports to operations about many pipelines: they name no one company.
KINDS_ABOUT_MANY_PARTNERS = {EmailKind.PIPELINES_RECONCILED, EmailKind.POR_SWEEP_REPORT}


def facts(kind: EmailKind, locale: Locale, time_zone: str) -> EmailFacts:
    return EmailFacts(
        kind=kind,
        to="hanako.yamada@contoso.example",
        partner_id="1234567",
        recipient_name="山田 花子" if locale is Locale.JA else "Hanako Yamada",
        legal_name="Contoso <K.K.> & Co",
        reason="the tenant is in a different country",
        deadline=DEADLINE,
        link=LINK if kind in KINDS_WITH_LINK else None,
        region="JP",
        message="Please accept our request.",
        locale=locale,
        time_zone=time_zone,
    )


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("locale", list(Locale))
@pytest.mark.parametrize("kind", list(EmailKind))
def test_every_email_renders_in_both_languages_and_formats(kind: EmailKind, locale: Locale) -> None:
    time_zone = "Asia/Tokyo" if locale is Locale.JA else "Europe/Paris"
    email = render(facts(kind, locale, time_zone))

    # A subject of its own, one line, no unrendered template.
    assert email.subject and "\n" not in email.subject and "{" not in email.subject
    for body in (email.text, email.html):
        assert "{{" not in body and "{%" not in body
        assert RUN_ID not in body and "reseller-enrollment" not in body
    parsed = _Anchors()
    parsed.feed(email.html)
    visible = "".join(parsed.text)
    # The company name is escaped in HTML and printed as is in text.
    if kind not in KINDS_ABOUT_MANY_PARTNERS:
        assert "Contoso <K.K.> & Co" in email.text
        assert "Contoso &lt;K.K.&gt; &amp; Co" in email.html and "<K.K.>" not in email.html
        assert "Contoso <K.K.> & Co" in visible
    if kind in KINDS_WITH_LINK:
        assert LINK in email.text
        assert parsed.hrefs == [LINK, LINK]  # the button and the copyable address
    else:
        assert parsed.hrefs == [] and "https://" not in email.text
    if locale is Locale.JA:
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", email.subject + email.text)
        assert email.text.startswith("山田 花子 様")
        assert '<html lang="ja">' in email.html
    else:
        assert email.text.startswith("Dear Hanako Yamada,")
        assert '<html lang="en">' in email.html


def test_subjects_differ_per_step() -> None:
    for locale in Locale:
        subjects = [render(facts(k, locale, "UTC")).subject for k in EmailKind]
        assert len(set(subjects)) == len(subjects)


def test_deadline_in_the_readers_zone_and_words() -> None:
    ja = render(facts(EmailKind.VERIFICATION_LINK, Locale.JA, "Asia/Tokyo"))
    assert "2027年1月15日(金) 18:00 (日本時間)" in ja.text
    en = render(facts(EmailKind.VERIFICATION_LINK, Locale.EN, "Europe/Paris"))
    assert "Friday, 15 January 2027, 10:00 CET" in en.text
    utc = render(facts(EmailKind.DB_ASSESSMENT_REMINDER, Locale.EN, "UTC"))
    assert "Friday, 15 January 2027, 09:00 UTC" in utc.text
    assert utc.subject.endswith("due 15 January 2027")
    # A name the database does not know falls back to UTC instead of failing the send.
    unknown = render(facts(EmailKind.SIGN_MPA, Locale.EN, "Mars/Olympus_Mons"))
    assert "09:00" in unknown.text


@pytest.mark.parametrize(
    ("kind", "locale", "said"),
    [
        (EmailKind.DB_REJECTED, Locale.EN, "A new application is possible from 20 October 2026."),
        (EmailKind.DB_REJECTED, Locale.JA, "2026年10月20日 以降に再申請できます。"),
        (EmailKind.RA_TRANSITION, Locale.EN, "application is possible from 20 October 2026."),
        (EmailKind.RA_TRANSITION, Locale.JA, "2026年10月20日 以降に直接請求を再申請できます。"),
    ],
)
def test_the_cooldowns_first_day_is_a_date_never_moved_into_the_readers_zone(
    kind: EmailKind, locale: Locale, said: str
) -> None:
    """RA-03 ("rejected on 2025-10-20, the partner may apply again from 2026-10-20 (any time that
    day)"): the day comes as a business-zone date and is shown as it is, to a reader in New York
    too, where 2026-10-20 00:00 UTC is still the 19th."""
    cooldown = facts(kind, locale, "America/New_York").model_copy(
        update={"deadline": None, "allowed_from": date(2026, 10, 20)}
    )
    assert said in render(cooldown).text
    # An email scheduled before `allowed_from` existed carried the cooldown's end as `deadline`.
    scheduled_before = facts(kind, locale, "UTC").model_copy(
        update={"deadline": datetime(2026, 10, 20, tzinfo=UTC)}
    )
    assert said in render(scheduled_before).text


def test_human_dates_at_the_edges() -> None:
    tokyo = zone("Asia/Tokyo")
    # 15:00 UTC on New Year's Eve is already New Year's Day in Tokyo.
    eve = datetime(2026, 12, 31, 15, 0, tzinfo=UTC)
    assert (
        human_datetime(eve, tokyo, "Asia/Tokyo", Locale.JA) == "2027年1月1日(金) 00:00 (日本時間)"
    )
    assert human_date(eve, tokyo, Locale.EN) == "1 January 2027"
    # Daylight saving time: the abbreviation follows the date.
    paris = zone("Europe/Paris")
    summer = datetime(2027, 7, 1, 12, 0, tzinfo=UTC)
    assert human_datetime(summer, paris, "Europe/Paris", Locale.EN).endswith("14:00 CEST")
    # Zones without a word abbreviation are named by their IANA name.
    dubai = zone("Asia/Dubai")
    assert human_datetime(summer, dubai, "Asia/Dubai", Locale.EN).endswith("16:00 Asia/Dubai")
    # Seconds and microseconds never show.
    odd = datetime(2027, 1, 15, 9, 0, 59, 999999, tzinfo=UTC)
    assert (
        human_datetime(odd, zone("UTC"), "UTC", Locale.EN) == "Friday, 15 January 2027, 09:00 UTC"
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        human_datetime(datetime(2027, 1, 15), tokyo, "Asia/Tokyo", Locale.EN)


def test_defaults_by_country() -> None:
    assert default_locale("JP") is Locale.JA and default_locale("jp") is Locale.JA
    assert default_locale("US") is Locale.EN and default_locale(None) is Locale.EN
    assert default_time_zone("JP") == "Asia/Tokyo"
    assert default_time_zone("US") == "UTC"  # several zones: no guess
    assert default_time_zone(None) == "UTC"
    assert reader(None, None, "JP") == {"locale": Locale.JA, "time_zone": "Asia/Tokyo"}
    assert reader(Locale.EN, "Europe/London", "JP") == {
        "locale": Locale.EN,
        "time_zone": "Europe/London",
    }
