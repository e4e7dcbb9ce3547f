"""Load the demo knowledge base (idempotent: an entry is found by its demo key before it is created)."""

from __future__ import annotations

from datetime import date, timedelta

from backend.db import utcnow, write_transaction
from backend.knowledge import search
from backend.knowledge.demo_entries import DEMO_ENTRIES
from backend.knowledge.service import _content_json
from backend.knowledge.tables import EntryStatus, KbEntry, KbSynonym, KbVersion, VersionState
from backend.organisation.tables import Unit

# Words residents use for the words the entries use (editable by the admin afterwards).
DEMO_SYNONYMS = [
    "低保，最低生活保障，低保金",
    "噪音，噪声，吵",
    "身份证，居民身份证",
    "医保，医疗保险，基本医疗保险",
    "社保，社会保险",
    "养狗，养犬，犬只，狗",
    "违建，违章建筑，违法建设",
    "公租房，公共租赁住房，廉租房",
    "失业金，失业保险金",
    "上户口，落户，户口登记",
    "孩子，儿童，子女",
    "上学，入学",
    "老人，老年人",
    "退伍军人，退役军人，复员军人",
    "特困，特困人员，五保",
    "残疾证，残疾人证",
    "饭店，餐馆，餐饮，饭馆",
    "工资，劳动报酬，薪水",
    "律师，法律援助",
    "电梯，加装电梯",
]
# Demo entries that show the "may be out of date" flag: one past its review-by date, one expired.
OVERDUE = {"dibao-standard": 10}
EXPIRED = {"laonian-canzhuo": 30}


async def load_demo_knowledge() -> int:
    """Create the demo entries and synonym groups that are missing; returns how many entries were created."""
    existing = {r["demo_key"] for r in await KbEntry.select(KbEntry.demo_key).where(KbEntry.demo_key.is_not_null())}
    units = {r["code"]: r["id"] for r in await Unit.select(Unit.code, Unit.id)}
    today = utcnow().date()
    created = 0
    async with write_transaction():
        if not await KbSynonym.exists():
            await KbSynonym.insert(*[KbSynonym(terms=t) for t in DEMO_SYNONYMS])
            search.forget_synonyms()
        for n, (key, category, owner, title, keywords, answer, where, bring, how_long, cost, responsible,
                (src_title, src_number, src_issuer)) in enumerate(DEMO_ENTRIES):
            if key in existing or owner not in units:
                continue
            values = {"title": title, "answer": answer, "category": category, "keywords": keywords,
                      "source_title": src_title, "source_number": src_number, "source_issuer": src_issuer,
                      "source_url": "", "effective_on": date(2024, 1, 1), "expires_on": None,
                      "region": "迎泽区全区", "where_to_go": where, "what_to_bring": bring, "how_long": how_long,
                      "cost": cost, "responsible": responsible}
            if key in EXPIRED:
                values["expires_on"] = today - timedelta(days=EXPIRED[key])
            review_by = today - timedelta(days=OVERDUE[key]) if key in OVERDUE else today + timedelta(days=300)
            title_tokens, body_tokens = search.entry_tokens(values)
            # Published a little apart, so "fresher first" has something to order.
            published = utcnow() - timedelta(days=60 - n % 60)
            rows = await KbEntry.insert(KbEntry(
                **values, owner_unit=units[owner], review_by=review_by, status=EntryStatus.published.value,
                version=1, latest_version=1, is_demo=True, demo_key=key, published_at=published,
                title_tokens=title_tokens, body_tokens=body_tokens,
            )).returning(KbEntry.id)
            await KbVersion.insert(KbVersion(entry=rows[0]["id"], number=1, content=_content_json(values),
                                             state=VersionState.approved.value, reviewed_at=published))
            created += 1
    if created:
        await search.refresh_terms()
    return created
