"""English, completely (issue 16): every page, as every role, in English, shows no Chinese outside what
people entered (descriptions, notes, comments, names) and the names of places, units and people (proper
names); categories are data with English names and are shown translated.

What counts as user content or a proper name is read from the database (every stored text of the kinds
above), and removed from the page before looking for Han characters; the language switch ("中文") is the
one Chinese word an English page must show."""

from __future__ import annotations

import html as htmllib
import json
import re
from typing import Any

import pytest

from backend.accounts.tables import Account
from backend.i18n import english_catalog
from backend.lights.tables import Explanation, PhoneCall
from backend.organisation.tables import Unit
from backend.ratings.tables import Rating
from backend.requests.tables import Event, Request
from backend.routing.tables import Category
from backend.wishes.tables import Claim, Wish
from tests.web.test_no_500 import ROLES, _demo_request, _sign_in, fill, routes

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
HIDDEN = re.compile(r"<(script|style)\b.*?</\1>|<!--.*?-->", re.S)
TAG = re.compile(r"<[^>]+>")
# Attributes a person reads (or hears); values of inputs are what they typed.
SHOWN_ATTRS = re.compile(
    r'\s(?:placeholder|aria-label|title|alt|label|data-msg-[\w-]+|data-copied|data-done)="([^"]*)"')
# Pages whose content is the words residents typed, cut by the segmenter (the knowledge base's unanswered themes).
WORDS_OF_RESIDENTS = {"/kb/manage/gaps"}
ALLOWED = {"中文", "对", "错"}  # the language link; the question import's literal true/false words


async def user_texts() -> list[str]:
    """Every stored text that is user content or a proper name, longest first (so parts go after wholes)."""
    texts: set[str] = set()

    async def add(query: Any, *cols: str) -> None:
        for row in await query:
            for c in cols:
                v = row.get(c)
                if isinstance(v, str) and HAN.search(v):
                    texts.add(v.strip())

    await add(Unit.select(Unit.name), "name")
    # Categories are data with English names, shown translated; one an admin added without English is data.
    english = english_catalog()
    for row in await Category.select(Category.name):
        if not english.get(row["name"]) and HAN.search(row["name"]):
            texts.add(row["name"])
    await add(Account.select(Account.name, Account.public_title), "name", "public_title")
    await add(Request.select(Request.description, Request.address, Request.answer, Request.contact_name),
              "description", "address", "answer", "contact_name")
    await add(Event.select(Event.note), "note")
    await add(Rating.select(Rating.comment), "comment")
    await add(Wish.select(Wish.title, Wish.story, Wish.beneficiary_name, Wish.beneficiary_address, Wish.thanks_story,
                          Wish.reject_reason), "title", "story", "beneficiary_name", "beneficiary_address",
              "thanks_story", "reject_reason")
    for row in await Wish.select(Wish.display_name):  # "闫先生": the surname is a name, the honorific is not
        surname = re.sub(r"(先生|女士|家)$", "", row["display_name"] or "")
        if HAN.search(surname):
            texts.add(surname)
    await add(Claim.select(Claim.contact_note, Claim.fulfil_note, Claim.release_reason), "contact_note",
              "fulfil_note", "release_reason")
    await add(Explanation.select(Explanation.reason, Explanation.measures, Explanation.review_comment), "reason",
              "measures", "review_comment")
    await add(PhoneCall.select(PhoneCall.callee, PhoneCall.outcome), "callee", "outcome")
    # The content domains' texts are what their authors wrote (answers, notices and their legal bases,
    # questions and competition names, API clients): every text column of their tables.
    from piccolo.columns import Text, Varchar
    from piccolo.conf.apps import Finder

    for app in ("knowledge", "notices", "learning", "maps", "open311"):
        for table in Finder().get_app_config(app).table_classes:
            cols = [c for c in table._meta.columns if isinstance(c, (Varchar, Text))]
            if cols:
                await add(table.select(*cols), *[c._meta.name for c in cols])
    # A keyed notice shows its body as it was written (a comment, a note) unless the body has a key too.
    from backend.notify.tables import Notification

    for row in await Notification.select(Notification.body, Notification.params).where(Notification.key != ""):
        params = json.loads(row["params"]) if isinstance(row["params"], str) else (row["params"] or {})
        if "body_key" not in params and HAN.search(row["body"] or ""):
            texts.add(row["body"].strip())
    # Lists typed into one field and shown an item at a time: synonym groups, the searched themes' words.
    from backend.knowledge.tables import KbSearch, KbSynonym

    for row in await KbSynonym.select(KbSynonym.terms):
        texts.update(t.strip() for t in re.split(r"[,，]", row["terms"]) if HAN.search(t))
    for row in await KbSearch.select(KbSearch.theme):
        texts.update(t for t in row["theme"].split() if HAN.search(t))
    return sorted(texts, key=len, reverse=True)


def chinese_left(page: str, known: list[str]) -> set[str]:
    body = HIDDEN.sub(" ", page)
    shown = " ".join(SHOWN_ATTRS.findall(body)) + " " + TAG.sub(" ", body)
    shown = htmllib.unescape(shown)
    for text in known:
        if text in shown:
            shown = shown.replace(text, " ")
    return {m for m in HAN.findall(shown) if m not in ALLOWED}


@pytest.mark.parametrize("role", ROLES)
async def test_every_page_in_english_has_no_chinese_but_names_and_user_content(client, app, role: str) -> None:
    ids = await _demo_request()
    await _sign_in(client, role, ids)
    client.cookies.set("lang", "en")
    known = await user_texts()
    found: dict[str, set[str]] = {}
    for method, path in routes(app):
        if method != "GET" or path.startswith("/schema") or path in WORDS_OF_RESIDENTS:
            continue
        for url in fill(path, ids, real=True):
            r = await client.get(url)
            if r.status_code != 200 or not r.headers.get("content-type", "").startswith("text/html"):
                continue
            left = chinese_left(r.text, known)
            if left:
                found[url] = left
    assert not found, "\n".join(f"{u}: {sorted(v)[:12]}" for u, v in sorted(found.items()))
