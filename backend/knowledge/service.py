"""Knowledge base rules: entries and their versions, review, who may edit, reader feedback, self-served
consultations, the search log and the command center's list of unanswered questions.

Plain async functions, no Litestar: callable from controllers, jobs, the demo loader and tests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from backend.accounts.service import Viewer
from backend.accounts.tables import Role
from backend.db import on_commit, utcnow, write_transaction
from backend.errors import DomainError
from backend.i18n import N_, _
from backend.knowledge import search
from backend.knowledge.rows import (
    EntryContent,
    EntryDraft,
    EntryLink,
    EntryRow,
    FlaggedEntry,
    Gap,
    PendingVersion,
    PublicEntry,
    StaffEntry,
    SynonymGroup,
    VersionListRow,
    VersionRow,
)
from backend.knowledge.tables import (
    EntryStatus,
    KbEntry,
    KbSearch,
    KbSelfServed,
    KbSynonym,
    KbVersion,
    VersionState,
)
from backend.organisation.tables import Unit
from backend.requests.rows import RequestView

# code → label (Chinese msgid; English in messages.po)
CATEGORY_LABELS: dict[str, str] = {
    "assistance": "社会救助",
    "elderly": "养老服务",
    "disability": "残疾人服务",
    "household": "户籍证件",
    "education": "教育入学",
    "medical": "医疗医保",
    "employment": "社保就业",
    "housing": "住房保障",
    "city": "城市管理",
    "neighbours": "邻里物业",
    "legal": "法律服务",
    "veterans": "退役军人",
    "other": "其他",
}
CATEGORIES = CATEGORY_LABELS
STATE_LABELS = {"draft": "草稿", "review": "待审核", "approved": "已发布", "rejected": "已退回"}
STATUS_LABELS = {"draft": "未发布", "published": "已发布", "withdrawn": "已撤下"}
# What a version holds (and what the public page may show, with the computed "may be out of date").
CONTENT_FIELDS = ("title", "answer", "category", "keywords", "source_title", "source_number", "source_issuer",
                  "source_url", "effective_on", "expires_on", "region", "where_to_go", "what_to_bring", "how_long",
                  "cost", "responsible")
PUBLIC_FIELDS = (*(f for f in CONTENT_FIELDS if f != "keywords"), "id", "published_at", "is_demo", "helpful_yes",
                 "helpful_no")
LIMITS = {"title": 200, "answer": 5000, "keywords": 300, "source_title": 200, "source_number": 100,
          "source_issuer": 100, "source_url": 300, "region": 100, "where_to_go": 2000, "what_to_bring": 2000,
          "how_long": 200, "cost": 200, "responsible": 200}
REVIEW_DEFAULT_DAYS = 365
GOOD_COVERAGE = 0.6  # the best hit must contain this share of the question's words to count as a good answer


class KbError(DomainError):
    def __init__(self, message: str, status: int = 400, field: str = "") -> None:
        super().__init__(message, field or None, status)


@dataclass
class EntryInput:
    values: EntryContent
    owner_unit_id: int | None
    review_by: date | None
    errors: dict[str, str] = field(default_factory=dict)


def _date(raw: str) -> date | None:
    return date.fromisoformat(raw) if raw else None


def parse_entry(form: dict[str, str]) -> EntryInput:
    """Form values → content, with a message per bad field (nothing is stored when there is one)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in CONTENT_FIELDS:
        raw = str(form.get(name, "") or "").strip()
        if "\x00" in raw:
            errors[name] = _("含有无法识别的字符")
            raw = raw.replace("\x00", "")
        limit = LIMITS.get(name)
        if limit and len(raw) > limit:
            errors[name] = _("不能超过 {n} 字").format(n=limit)
        values[name] = raw
    if not values["title"]:
        errors["title"] = _("请填写问题")
    if not values["answer"]:
        errors["answer"] = _("请填写解答")
    if values["category"] not in CATEGORIES:
        errors["category"] = _("请选择分类")
    if values["source_url"] and not values["source_url"].startswith(("https://", "http://")):
        errors["source_url"] = _("链接须以 http:// 或 https:// 开头")
    for name in ("effective_on", "expires_on"):
        try:
            values[name] = _date(values[name])
        except ValueError:
            errors[name] = _("日期格式应为 2026-01-31")
            values[name] = None
    if values["effective_on"] and values["expires_on"] and values["expires_on"] < values["effective_on"]:
        errors["expires_on"] = _("失效日期不能早于生效日期")
    review_by = None
    try:
        review_by = _date(str(form.get("review_by", "") or "").strip())
    except ValueError:
        errors["review_by"] = _("日期格式应为 2026-01-31")
    owner = str(form.get("owner_unit", "") or "").strip()
    owner_id = int(owner) if owner.isdigit() and len(owner) < 10 else None
    if owner_id is None:
        errors["owner_unit"] = _("请选择负责单位")
    return EntryInput(values=cast(EntryContent, values), owner_unit_id=owner_id, review_by=review_by, errors=errors)


# ---------------------------------------------------------------- who may do what


def is_reviewer(viewer: Viewer | None, owner_unit_id: int) -> bool:
    """The owner unit's head, or the command center (its dispatchers and head)."""
    if viewer is None or not viewer.is_staff:
        return False
    return any(
        (m.role == Role.unit_head.value and m.unit_id == owner_unit_id)
        or (m.unit_kind == "command_center" and m.role in (Role.dispatcher.value, Role.unit_head.value))
        for m in viewer.memberships
    )


def can_edit(viewer: Viewer | None, owner_unit_id: int) -> bool:
    """Staff of the owner unit (assessors only read) and the reviewers."""
    if viewer is None or not viewer.is_staff:
        return False
    return is_reviewer(viewer, owner_unit_id) or any(
        m.unit_id == owner_unit_id and m.role not in (Role.assessor.value,) for m in viewer.memberships)


def is_kb_staff(viewer: Viewer | None) -> bool:
    """May open the staff pages of the knowledge base (write drafts for their units, see their entries)."""
    return bool(viewer and viewer.is_staff and viewer.roles - {Role.assessor.value})


def editable_units(viewer: Viewer) -> list[int]:
    return sorted({m.unit_id for m in viewer.memberships if m.role != Role.assessor.value})


def is_command_center(viewer: Viewer | None) -> bool:
    return bool(viewer and viewer.is_staff and any(
        m.unit_kind == "command_center" for m in viewer.memberships)) or bool(viewer and viewer.is_admin)


# ---------------------------------------------------------------- entries and versions


def _content_json(values: Mapping[str, Any]) -> str:
    return json.dumps({k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()},
                      ensure_ascii=False)


def version_content(version: VersionRow) -> EntryContent:
    data = json.loads(version["content"] or "{}")
    for name in ("effective_on", "expires_on"):
        data[name] = _date(data.get(name) or "")
    return {name: data.get(name, "" if name not in ("effective_on", "expires_on") else None)
            for name in CONTENT_FIELDS}


async def _owner(unit_id: int | None) -> Unit:
    unit = await Unit.objects().where(Unit.id == unit_id).first() if unit_id is not None else None
    if unit is None:
        raise KbError(_("请选择负责单位"), field="owner_unit")
    return unit


async def _apply_content(entry_id: int, values: Mapping[str, Any], **extra: Any) -> None:
    tokens = search.entry_tokens(values)
    await KbEntry.update({**{getattr(KbEntry, k): v for k, v in values.items()},
                          KbEntry.title_tokens: tokens[0], KbEntry.body_tokens: tokens[1], KbEntry.updated_at: utcnow(),
                          **{getattr(KbEntry, k): v for k, v in extra.items()}}).where(KbEntry.id == entry_id)


async def create_entry(viewer: Viewer, data: EntryInput, *, submit: bool = False, from_request: int | None = None,
                       demo_key: str | None = None) -> int:
    """A new entry (not public) with its version 1, a draft or sent for review at once."""
    if data.errors:
        raise KbError(next(iter(data.errors.values())), field=next(iter(data.errors)))
    owner = await _owner(data.owner_unit_id)
    if not can_edit(viewer, owner.id):
        raise KbError(_("只能为本单位编写知识条目"), status=403, field="owner_unit")
    async with write_transaction():
        rows = await KbEntry.insert(KbEntry(
            title=data.values["title"], answer=data.values["answer"], category=data.values["category"],
            owner_unit=owner.id, review_by=data.review_by, status=EntryStatus.draft.value, version=1,
            latest_version=1, from_request=from_request, created_by=viewer.id, is_demo=demo_key is not None,
            demo_key=demo_key,
        )).returning(KbEntry.id)
        entry_id = rows[0]["id"]
        await _apply_content(entry_id, data.values)
        await KbVersion.insert(KbVersion(
            entry=entry_id, number=1, content=_content_json(data.values), author=viewer.id,
            state=(VersionState.review if submit else VersionState.draft).value))
    return entry_id


async def get_entry(entry_id: int) -> EntryRow:
    row = await KbEntry.select(*KbEntry.all_columns(exclude=["title_tokens", "body_tokens"]),
                               KbEntry.owner_unit.name.as_alias("owner_name")).where(KbEntry.id == entry_id).first()
    if row is None:
        raise KbError(_("知识条目不存在"), status=404)
    return row


async def versions(entry_id: int) -> list[VersionListRow]:
    return await KbVersion.select(
        KbVersion.id, KbVersion.number, KbVersion.state, KbVersion.content, KbVersion.created_at,
        KbVersion.author.name.as_alias("author_name"), KbVersion.reviewer.name.as_alias("reviewer_name"),
        KbVersion.reviewed_at, KbVersion.review_note,
    ).where(KbVersion.entry == entry_id).order_by(KbVersion.number, ascending=False)


async def edit_entry(viewer: Viewer, entry_id: int, data: EntryInput, *, submit: bool = False) -> int:
    """Every edit is a new version (author, time). A published entry keeps showing its published content
    until the new version is approved; a never-published one shows its newest draft to its editors."""
    if data.errors:
        raise KbError(next(iter(data.errors.values())), field=next(iter(data.errors)))
    async with write_transaction():
        entry = await KbEntry.select(KbEntry.id, KbEntry.owner_unit, KbEntry.status).where(KbEntry.id == entry_id) \
            .first()
        if entry is None:
            raise KbError(_("知识条目不存在"), status=404)
        if not can_edit(viewer, entry["owner_unit"]):
            raise KbError(_("只有负责单位和审核人可以修改此条目"), status=403)
        owner = await _owner(data.owner_unit_id)
        if owner.id != entry["owner_unit"] and not can_edit(viewer, owner.id):
            raise KbError(_("只能为本单位编写知识条目"), status=403, field="owner_unit")
        # The increment locks the entry's row until commit: two editors get numbers one after the other.
        bumped = await KbEntry.update({KbEntry.latest_version: KbEntry.latest_version + 1}) \
            .where(KbEntry.id == entry_id).returning(KbEntry.latest_version)
        number = bumped[0]["latest_version"]
        # An older draft or pending version is superseded by this one: one version waits for review at a time.
        await KbVersion.update({KbVersion.state: VersionState.rejected.value,
                                KbVersion.review_note: _("已被新版本取代")}).where(
            (KbVersion.entry == entry_id) & KbVersion.state.is_in([VersionState.draft.value,
                                                                  VersionState.review.value]))
        await KbVersion.insert(KbVersion(
            entry=entry_id, number=number, content=_content_json(data.values), author=viewer.id,
            state=(VersionState.review if submit else VersionState.draft).value))
        extra: dict[str, Any] = {"latest_version": number, "owner_unit": owner.id, "review_by": data.review_by}
        if entry["status"] != EntryStatus.published.value:
            await _apply_content(entry_id, data.values, version=number, **extra)
        else:
            await KbEntry.update({getattr(KbEntry, k): v for k, v in extra.items()}).where(KbEntry.id == entry_id)
    return number


async def _version_row(entry_id: int, number: int) -> VersionRow:
    row = await KbVersion.select().where((KbVersion.entry == entry_id) & (KbVersion.number == number)).first()
    if row is None:
        raise KbError(_("该版本不存在"), status=404)
    return row


async def submit_for_review(viewer: Viewer, entry_id: int, number: int) -> None:
    async with write_transaction():
        entry = await get_entry(entry_id)
        if not can_edit(viewer, entry["owner_unit"]):
            raise KbError(_("只有负责单位和审核人可以修改此条目"), status=403)
        version = await _version_row(entry_id, number)
        moved = await KbVersion.update({KbVersion.state: VersionState.review.value}).where(
            (KbVersion.id == version["id"]) & (KbVersion.state == VersionState.draft.value)).returning(KbVersion.id)
        if not moved:
            raise KbError(_("只有草稿可以提交审核"), status=409)


async def review(viewer: Viewer, entry_id: int, number: int, *, approve: bool, note: str = "") -> None:
    """The owner unit's head or the command center publishes a version, or sends it back with a reason."""
    note = note.replace("\x00", "").strip()
    if len(note) > 500:
        raise KbError(_("不能超过 {n} 字").format(n=500), field="note")
    if not approve and not note:
        raise KbError(_("退回时请写明原因"), field="note")
    async with write_transaction():
        entry = await get_entry(entry_id)
        if not is_reviewer(viewer, entry["owner_unit"]):
            raise KbError(_("只有负责单位负责人或指挥中心可以审核"), status=403)
        version = await _version_row(entry_id, number)
        now = utcnow()
        # Conditional: of two reviewers deciding at once, one decides and the other is told it already moved.
        decided = await KbVersion.update({
            KbVersion.state: (VersionState.approved if approve else VersionState.rejected).value,
            KbVersion.reviewer: viewer.id, KbVersion.reviewed_at: now, KbVersion.review_note: note,
        }).where((KbVersion.id == version["id"]) & (KbVersion.state == VersionState.review.value)) \
            .returning(KbVersion.id)
        if not decided:
            raise KbError(_("该版本不在待审核状态"), status=409)
        if approve:
            review_by = entry["review_by"]
            if review_by is None or review_by <= now.date():
                review_by = now.date() + timedelta(days=REVIEW_DEFAULT_DAYS)
            await _apply_content(entry_id, version_content(version), version=number,
                                 status=EntryStatus.published.value, published_at=now, review_by=review_by)
            await on_commit(search.refresh_terms)  # the vocabulary the search counts words and corrects typos by


async def withdraw(viewer: Viewer, entry_id: int) -> None:
    async with write_transaction():
        entry = await get_entry(entry_id)
        if not is_reviewer(viewer, entry["owner_unit"]):
            raise KbError(_("只有负责单位负责人或指挥中心可以审核"), status=403)
        if entry["status"] != EntryStatus.published.value:
            raise KbError(_("该条目未发布"), status=409)
        await KbEntry.update({KbEntry.status: EntryStatus.withdrawn.value, KbEntry.updated_at: utcnow()}) \
            .where(KbEntry.id == entry_id)
        await on_commit(search.refresh_terms)


# ---------------------------------------------------------------- reading


def outdated(entry: Mapping[str, Any], today: date | None = None) -> bool:
    """Past its expiry date or its review-by date: readers are told it may be out of date."""
    today = today or utcnow().date()
    return bool((entry.get("expires_on") and entry["expires_on"] < today)
                or (entry.get("review_by") and entry["review_by"] < today))


async def public_entry(entry_id: int) -> PublicEntry:
    """Only the public fields of a published entry (never owner, review dates, versions, keywords)."""
    row = await KbEntry.select(*[getattr(KbEntry, f) for f in PUBLIC_FIELDS], KbEntry.review_by).where(
        (KbEntry.id == entry_id) & (KbEntry.status == EntryStatus.published.value)).first()
    if row is None:
        raise KbError(_("知识条目不存在或已撤下"), status=404)
    row["outdated"] = outdated(row)
    del row["review_by"]
    return row


async def category_counts() -> dict[str, int]:
    rows = await KbEntry.raw("SELECT category, count(*) AS n FROM kb_entry WHERE status = 'published' "
                             "GROUP BY category")
    counts = {r["category"]: r["n"] for r in rows}
    return {code: counts.get(code, 0) for code in CATEGORIES}


async def browse(category: str, page: int = 1, per_page: int = 30) -> tuple[list[EntryLink], bool]:
    page = max(1, min(page, 1000))
    rows = await KbEntry.select(KbEntry.id, KbEntry.title, KbEntry.expires_on, KbEntry.review_by).where(
        (KbEntry.status == EntryStatus.published.value) & (KbEntry.category == category)
    ).order_by(KbEntry.published_at, ascending=False).order_by(KbEntry.id, ascending=False) \
        .limit(per_page + 1).offset((page - 1) * per_page)
    today = utcnow().date()
    out: list[EntryLink] = [{"id": r["id"], "title": r["title"], "outdated": outdated(r, today)}
                            for r in rows[:per_page]]
    return out, len(rows) > per_page


async def staff_entries(viewer: Viewer, *, status: str = "") -> list[StaffEntry]:
    """The entries a staff member may edit (command center: all), newest first, flagged ones marked."""
    q = KbEntry.select(KbEntry.id, KbEntry.title, KbEntry.status, KbEntry.category, KbEntry.version,
                       KbEntry.latest_version, KbEntry.review_by, KbEntry.expires_on, KbEntry.updated_at,
                       KbEntry.owner_unit.name.as_alias("owner_name"), KbEntry.is_demo)
    if not is_command_center(viewer):
        q = q.where(KbEntry.owner_unit.is_in(editable_units(viewer) or [0]))
    if status in STATUS_LABELS:
        q = q.where(KbEntry.status == status)
    rows = await q.order_by(KbEntry.updated_at, ascending=False).limit(300)
    today = utcnow().date()
    for r in rows:
        r["outdated"] = r["status"] == EntryStatus.published.value and outdated(r, today)
    return rows


async def review_queue(viewer: Viewer) -> list[PendingVersion]:
    rows = await KbVersion.select(KbVersion.entry, KbVersion.number, KbVersion.created_at,
                                  KbVersion.entry.title.as_alias("title"),
                                  KbVersion.entry.owner_unit.as_alias("owner_unit"),
                                  KbVersion.author.name.as_alias("author_name")) \
        .where(KbVersion.state == VersionState.review.value).order_by(KbVersion.created_at).limit(300)
    return [r for r in rows if is_reviewer(viewer, r["owner_unit"])]


async def flagged_for_owner(unit_ids: list[int] | None = None) -> list[FlaggedEntry]:
    """Published entries past their review-by or expiry date (all, or of the given owner units)."""
    today = utcnow().date()
    q = KbEntry.select(KbEntry.id, KbEntry.title, KbEntry.owner_unit, KbEntry.review_by, KbEntry.expires_on) \
        .where((KbEntry.status == EntryStatus.published.value)
               & ((KbEntry.review_by < today) | (KbEntry.expires_on < today)))
    if unit_ids is not None:
        q = q.where(KbEntry.owner_unit.is_in(unit_ids or [0]))
    return await q.order_by(KbEntry.review_by)


async def notify_flagged() -> int:
    """Tell each owner unit which of its entries are out of date (the worker runs this daily)."""
    from backend.notify.service import notify_unit

    by_unit: dict[int, list[FlaggedEntry]] = {}
    for row in await flagged_for_owner():
        by_unit.setdefault(row["owner_unit"], []).append(row)
    for unit_id, rows in by_unit.items():
        await notify_unit(unit_id, "", "、".join(r["title"] for r in rows[:5])[:400], "/kb/manage?flagged=1",
                          "kb_flagged", key=N_("{n} 条政策解答需要复核"), params={"n": len(rows)})
    return sum(len(r) for r in by_unit.values())


# ---------------------------------------------------------------- readers' signals


async def log_search(query: str, category: str = "", *, helpful: bool | None = None,
                     hits: list[search.Hit] | None = None) -> int | None:
    """Record a question asked in the public search (POSTed by the results page, never by the GET that shows
    them): the search is run again here, so what is logged does not depend on what a client says it saw.
    ``hits``: the server's own search of this query (limit 20, with coverage), when a caller already ran it."""
    query = query.replace("\x00", "").strip()[:200]
    if not query:
        return None
    if hits is None:
        hits = await search.search(query, limit=20, category=category if category in CATEGORIES else "",
                                   coverage=True)
    top = hits[0] if hits else None
    rows = await KbSearch.insert(KbSearch(
        query=query, theme=search.theme(query) or query[:200], hits=len(hits), top_entry=top.id if top else None,
        good=bool(top and top.matched and top.coverage >= GOOD_COVERAGE), helpful=helpful)).returning(KbSearch.id)
    return rows[0]["id"]


async def record_click(search_id: int, entry_id: int) -> bool:
    """A reader opened a result of a logged search (the last one opened counts). False if either is unknown."""
    published = await KbEntry.exists().where((KbEntry.id == entry_id) & (KbEntry.status == EntryStatus.published.value))
    if not published:
        return False
    done = await KbSearch.update({KbSearch.clicked_entry: entry_id}).where(
        (KbSearch.id == search_id) & KbSearch.helpful.is_null()).returning(KbSearch.id)
    return bool(done)


async def mark_unanswered(search_id: int | None, query: str, category: str = "") -> None:
    """没有找到答案: the reader says the search did not answer them (their logged search, or a new record)."""
    if search_id is not None and await KbSearch.update({KbSearch.helpful: False}).where(
            KbSearch.id == search_id).returning(KbSearch.id):
        return
    await log_search(query, category, helpful=False)


async def click_counts(entry_ids: list[int]) -> dict[int, int]:
    """How often each entry was opened from a search result."""
    if not entry_ids:
        return {}
    rows = await KbSearch.raw("SELECT clicked_entry AS e, count(*) AS n FROM kb_search WHERE clicked_entry = ANY({}) "
                              "GROUP BY clicked_entry", entry_ids)
    return {r["e"]: r["n"] for r in rows}


async def feedback(entry_id: int, helpful: bool, search_id: int | None = None) -> None:
    """"Was this helpful?": counted per entry; when it came from a search, the search learns its outcome."""
    async with write_transaction():
        column = KbEntry.helpful_yes if helpful else KbEntry.helpful_no
        done = await KbEntry.update({column: column + 1}).where(
            (KbEntry.id == entry_id) & (KbEntry.status == EntryStatus.published.value)).returning(KbEntry.id)
        if not done:
            raise KbError(_("知识条目不存在或已撤下"), status=404)
        if search_id is not None:
            await KbSearch.update({KbSearch.clicked_entry: entry_id, KbSearch.helpful: helpful}).where(
                (KbSearch.id == search_id) & (KbSearch.clicked_entry.is_null() | (KbSearch.clicked_entry == entry_id)))


async def record_self_served(entry_id: int, question: str, viewer: Viewer | None) -> None:
    """这解答了我的问题: a consultation answered by the knowledge base. Not a request, not a completion."""
    question = question.replace("\x00", "").strip()[:500]
    exists = await KbEntry.exists().where((KbEntry.id == entry_id) & (KbEntry.status == EntryStatus.published.value))
    if not exists:
        raise KbError(_("知识条目不存在或已撤下"), status=404)
    await KbSelfServed.insert(KbSelfServed(entry=entry_id, question=question,
                                           account=viewer.id if viewer else None))


async def self_served_count(start: datetime | None = None, end: datetime | None = None) -> int:
    q = KbSelfServed.count()
    if start is not None:
        q = q.where(KbSelfServed.created_at >= start)
    if end is not None:
        q = q.where(KbSelfServed.created_at < end)
    return await q


async def gaps(days: int = 90, limit: int = 30) -> list[Gap]:
    """Questions asked most with no good answer: searches without a word match whose results nobody opened,
    searches the reader found unhelpful (or said 没有找到答案), and consultations staff answered by hand
    without citing an entry, grouped by theme."""
    since = utcnow() - timedelta(days=days)
    rows = await KbSearch.raw(
        "SELECT theme, count(*) AS n, max(query) AS example, max(created_at) AS last FROM kb_search "
        "WHERE created_at >= {} AND ((NOT good AND clicked_entry IS NULL) OR helpful = false) AND theme <> '' "
        "GROUP BY theme ORDER BY count(*) DESC, max(created_at) DESC LIMIT {}", since, limit)
    out: dict[str, Gap] = {r["theme"]: {"theme": r["theme"], "searches": r["n"], "by_hand": 0,
                                                   "example": r["example"]} for r in rows}
    hand = await KbEntry.raw(
        "SELECT r.description FROM request r JOIN event e ON e.request = r.id "
        "WHERE r.kind = 'consultation' AND e.action = 'answer' AND e.created_at >= {} "
        "AND position('/kb/' in coalesce(e.note, '')) = 0 ORDER BY e.created_at DESC LIMIT 500", since)
    for r in hand:
        key = search.theme(r["description"])
        if not key:
            continue
        item = out.setdefault(key, {"theme": key, "searches": 0, "by_hand": 0, "example": r["description"][:200]})
        item["by_hand"] += 1
    return sorted(out.values(), key=lambda i: (-(i["searches"] + i["by_hand"]), i["theme"]))[:limit]


# ---------------------------------------------------------------- synonyms


async def synonym_groups() -> list[SynonymGroup]:
    return await KbSynonym.select(KbSynonym.id, KbSynonym.terms).order_by(KbSynonym.id)


async def add_synonyms(viewer: Viewer, raw: str) -> None:
    terms = search.parse_terms(raw.replace("\x00", ""))
    if len(terms) < 2:
        raise KbError(_("请至少填写两个意思相同的词，用逗号隔开"), field="terms")
    if any(len(t) > 30 for t in terms) or len("，".join(terms)) > 300:
        raise KbError(_("词语过长"), field="terms")
    await KbSynonym.insert(KbSynonym(terms="，".join(terms), created_by=viewer.id))
    search.forget_synonyms()


async def delete_synonyms(group_id: int) -> None:
    await KbSynonym.delete().where(KbSynonym.id == group_id)
    search.forget_synonyms()


# ---------------------------------------------------------------- handlers answering consultations


async def _visible_request(viewer: Viewer, request_id: int) -> RequestView:
    from backend.requests import queries
    from backend.requests.service import can_view

    req = await queries.request_row(request_id=request_id)
    if req is None or not await can_view(viewer, req):
        raise KbError(_("诉求不存在或不在您的范围内"), status=404)
    return req


async def draft_from_request(viewer: Viewer, request_id: int) -> EntryDraft:
    """Form values for a new entry from a consultation: its question, and its answer when there is one."""
    try:
        req = await _visible_request(viewer, request_id)
    except KbError:
        return {}
    return {"title": req["description"][:200], "answer": req.get("answer") or "", "from_request": request_id}


async def save_answer_as_draft(viewer: Viewer, request_id: int) -> int:
    """"Save this answer to the knowledge base": a draft owned by the handler's unit, for review."""
    req = await _visible_request(viewer, request_id)
    if not (req.get("answer") or "").strip():
        raise KbError(_("该诉求还没有答复，无法存入知识库"), status=409)
    units = editable_units(viewer)
    if not units:
        raise KbError(_("您的角色无权编写知识库"), status=403)
    existing = await KbEntry.select(KbEntry.id).where(KbEntry.from_request == request_id).first()
    if existing is not None:  # pressed twice: the same draft, not a second one
        return existing["id"]
    data = parse_entry({"title": req["description"][:200], "answer": req["answer"][:5000], "category": "other",
                        "owner_unit": str(units[0])})
    return await create_entry(viewer, data, from_request=request_id)


async def answer_note(entry_id: int | None) -> dict[str, str]:
    """The answer form filled with a published entry's answer and its link (the answer cites the entry)."""
    if entry_id is None:
        return {}
    try:
        e = await public_entry(entry_id)
    except KbError:
        return {}
    return {"answer": f"{e['answer']}\n\n{_('详见政策解答')}：/kb/{entry_id}"}
