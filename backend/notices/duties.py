"""The overdue clock of periodic notice types: one duty row per (unit, type, period), driven by a sweep.

Why not the lights' clocks: a light clock belongs to an assignment of a request (its rows reference both),
and its deferred per-deadline jobs exist to light within seconds. A notice duty has no request, and its
deadlines are days apart, so a cron sweep over this table is the whole timer: it creates the duties of
periods that have ended, settles them from published notices and flips yellow/red with conditional
UPDATEs (safe to run twice, late or never). The database is the truth.
"""

from __future__ import annotations

from datetime import datetime

from backend.accounts.service import Viewer
from backend.accounts.tables import Role
from backend.db import utcnow, write_transaction
from backend.i18n import N_
from backend.notices import cadence as cad
from backend.notices.rows import DutyFlip, DutyRow
from backend.notices.tables import NoticeDuty, NoticeType, TypeLevel
from backend.notify.service import Notice as Notification
from backend.notify.service import notify_burst, unit_members
from backend.organisation.tables import Unit, UnitKind
from backend.settings import get_settings

COLOR_LABELS = {"yellow": "黄灯", "red": "红灯"}
LIGHT_LABELS = {"red": "红灯", "yellow": "黄灯", "late": "逾期发布", "ok": "按时发布", "pending": "未到期"}


async def ensure_duties(now: datetime | None = None) -> int:
    """The duty of the latest ended period for every active community and periodic type. Returns how many
    were new. A type added today is owed from the period that just ended, not for all of history."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(get_settings().timezone)
    today = (now or utcnow()).astimezone(tz).date()
    types = await NoticeType.select().where(
        (NoticeType.active == True) & NoticeType.cadence.is_in(list(cad.PERIODIC)))
    if not types:
        return 0
    units = await Unit.select(Unit.id, Unit.parent.name.as_alias("parent_name")).where(
        (Unit.kind == UnitKind.community.value) & (Unit.active == True))
    rows: list[NoticeDuty] = []
    for t in types:
        period = cad.last_ended(t["cadence"], today)
        yellow, red = cad.deadlines(period, t["due_day"], t["grace_days"], tz)
        for u in units:
            village = (u["parent_name"] or "").endswith("镇")
            if t["level"] == TypeLevel.village.value and not village:
                continue
            if t["level"] == TypeLevel.community.value and village:
                continue
            rows.append(NoticeDuty(key=f"{u['id']}:{t['id']}:{period.key}", unit=u["id"], notice_type=t["id"],
                                   period_key=period.key, period_start=period.start, period_end=period.end,
                                   due_at=yellow, red_at=red))
    made = 0
    for i in range(0, len(rows), 500):
        made += len(await NoticeDuty.insert(*rows[i:i + 500]).on_conflict(
            target=NoticeDuty.key, action="DO NOTHING").returning(NoticeDuty.id))
    return made


async def settle(*, unit_id: int | None = None) -> int:
    """Mark duties fulfilled by the first published notice of their unit and type whose period covers them."""
    unit_sql = "AND d.unit = {}" if unit_id is not None else ""
    args = [unit_id] if unit_id is not None else []
    rows = await NoticeDuty.raw(f"""
        UPDATE notice_duty d SET fulfilled_at = f.published_at, notice = f.id
        FROM (
            SELECT DISTINCT ON (d2.id) d2.id AS duty, n.id, n.published_at
            FROM notice_duty d2 JOIN notice n ON n.unit = d2.unit AND n.notice_type = d2.notice_type
            WHERE d2.fulfilled_at IS NULL AND n.published_at IS NOT NULL AND n.status = 'published'
              AND n.period_start <= d2.period_start AND n.period_end >= d2.period_end
            ORDER BY d2.id, n.published_at
        ) f
        WHERE d.id = f.duty AND d.fulfilled_at IS NULL {unit_sql}
        RETURNING d.id""", *args)
    return len(rows)


async def flip(now: datetime | None = None) -> list[DutyFlip]:
    """Light what is due and unfulfilled: yellow at the due instant, red after the grace period. Each light
    flips once (conditional UPDATE); returns the flips."""
    now = now or utcnow()
    flips: list[DutyFlip] = []
    async with write_transaction():
        # Yellow first: a duty already past red (a worker down for days) lights both in one run.
        for color, due in (("yellow", NoticeDuty.due_at), ("red", NoticeDuty.red_at)):
            lit = getattr(NoticeDuty, f"{color}_lit_at")
            for row in await NoticeDuty.update({lit: now}).where(
                    NoticeDuty.fulfilled_at.is_null() & lit.is_null() & (due <= now)).returning(
                    NoticeDuty.id, NoticeDuty.unit, NoticeDuty.notice_type, NoticeDuty.period_key):
                flips.append(row | {"color": color})
    return flips


async def announce(flips: list[DutyFlip]) -> None:
    """Tell the publishing unit's staff and head (one push per person for a burst)."""
    if not flips:
        return
    names = {t["id"]: t["name"] for t in await NoticeType.select(NoticeType.id, NoticeType.name).where(
        NoticeType.id.is_in(list({f["notice_type"] for f in flips})))}
    members: dict[int, list[int]] = {}
    notices = []
    for f in flips:
        if f["unit"] not in members:
            members[f["unit"]] = await unit_members(f["unit"], Role.community_staff, Role.unit_head)
        # Stored as a key and its fields: shown in each reader's language (notify.render).
        key, body_key = N_("{color_label}：{type_name}（{period}）逾期未公开"), N_("请尽快发布")
        params = {"color_label": COLOR_LABELS[f["color"]], "type_name": names.get(f["notice_type"], ""),
                  "period": f["period_key"]}
        notices.append(Notification(tuple(members[f["unit"]]), key.format(**params), body_key, "/notices/manage",
                                    "notice_overdue", key, tuple((params | {"body_key": body_key}).items())))
    await notify_burst(notices, summary="{n} 项公开事项逾期")


async def sweep(now: datetime | None = None) -> int:
    """The cron's work: create, settle, flip, announce. Returns how many lights flipped."""
    now = now or utcnow()
    await ensure_duties(now)
    await settle()
    flips = await flip(now)
    await announce(flips)
    return len(flips)


def light_of(duty: DutyRow, now: datetime) -> str:
    """'red', 'yellow', 'late' (published after the due instant), 'ok' or 'pending' (not yet due)."""
    if duty["fulfilled_at"] is not None:
        return "late" if duty["fulfilled_at"] > duty["due_at"] else "ok"
    if duty["red_lit_at"] is not None or duty["red_at"] <= now:
        return "red"
    if duty["yellow_lit_at"] is not None or duty["due_at"] <= now:
        return "yellow"
    return "pending"


async def board(viewer: Viewer, *, unit_path: str | None = None, overdue_only: bool = True,
                now: datetime | None = None) -> list[DutyRow]:
    """Duties within the viewer's scope (a street sees its communities; the district sees all), worst first."""
    now = now or utcnow()
    scopes = [unit_path] if unit_path else list(viewer.scope_paths)
    if not scopes:
        return []
    cond = None
    for path in scopes:
        c = NoticeDuty.unit.path.like(path + "%")
        cond = c if cond is None else cond | c
    q = NoticeDuty.select(NoticeDuty.all_columns(), NoticeDuty.unit.name.as_alias("unit_name"),
                          NoticeDuty.unit.parent.name.as_alias("street_name"),
                          NoticeDuty.notice_type.name.as_alias("type_name")).where(cond)
    if overdue_only:
        # Lit by the sweep, or due and not yet swept (the sweep runs every ten minutes).
        q = q.where(NoticeDuty.fulfilled_at.is_null() & ((NoticeDuty.due_at <= now)
                                                         | NoticeDuty.yellow_lit_at.is_not_null()))
    rows = await q.order_by(NoticeDuty.due_at, ascending=False).limit(500)
    _decorate(rows, now)
    order = {"red": 0, "yellow": 1, "late": 2, "pending": 3, "ok": 4}
    rows.sort(key=lambda r: (order[r["light"]], r["due_at"]))
    return rows


async def unit_duties(unit_id: int, now: datetime | None = None, limit: int = 30) -> list[DutyRow]:
    now = now or utcnow()
    rows = await NoticeDuty.select(NoticeDuty.all_columns(), NoticeDuty.notice_type.name.as_alias("type_name")
                                   ).where(NoticeDuty.unit == unit_id).order_by(NoticeDuty.due_at,
                                                                                 ascending=False).limit(limit)
    _decorate(rows, now)
    return rows


def _decorate(rows: list[DutyRow], now: datetime) -> None:
    """Each duty's light and its due day as people say it (the day before the yellow instant, local)."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(get_settings().timezone)
    for r in rows:
        r["light"] = light_of(r, now)
        r["due_day"] = (r["due_at"].astimezone(tz) - timedelta(days=1)).date()


async def counts_by_path(prefix: str, lo: datetime, hi: datetime) -> list[tuple[str, int, int]]:
    """For the assessment: (unit path, yellow lit in [lo, hi), red lit in [lo, hi)) of notice duties."""
    rows = await NoticeDuty.raw(
        "SELECT u.path, count(*) FILTER (WHERE d.yellow_lit_at >= {} AND d.yellow_lit_at < {}) AS y, "
        "count(*) FILTER (WHERE d.red_lit_at >= {} AND d.red_lit_at < {}) AS r "
        "FROM notice_duty d JOIN unit u ON u.id = d.unit WHERE u.path LIKE {} GROUP BY u.path",
        lo, hi, lo, hi, prefix)
    return [(r["path"], r["y"], r["r"]) for r in rows]
