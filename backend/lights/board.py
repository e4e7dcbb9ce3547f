"""The light board: every request with a lit light on its current lead, worst first.
"""

from __future__ import annotations

from datetime import datetime

from backend.db import aware, utcnow
from backend.i18n import gettext
from backend.lights.clocks import stop_of
from backend.lights.rows import BoardItem, StopTimes
from backend.lights.tables import LightClock


async def board(now: datetime | None = None) -> list[BoardItem]:
    """Every request with a lit light on its current lead: red before yellow, then longest lit first."""
    now = now or utcnow()
    rows = await LightClock.select(
        LightClock.id, LightClock.request, LightClock.stage, LightClock.yellow_lit_at, LightClock.red_lit_at,
        LightClock.assignment, LightClock.unit, LightClock.unit.name.as_alias("unit_name"),
        LightClock.request.code.as_alias("code"), LightClock.request.status.as_alias("status"),
        LightClock.request.category.name.as_alias("category_name"),
        LightClock.assignment.person.name.as_alias("person_name"),
        LightClock.assignment.accepted_at.as_alias("a_accepted"), LightClock.assignment.resolved_at.as_alias(
            "a_resolved"), LightClock.assignment.closed_at.as_alias("a_closed"),
    ).where(LightClock.yellow_lit_at.is_not_null() & LightClock.stopped_at.is_null()
            & (LightClock.assignment.is_open == True))
    best: dict[int, BoardItem] = {}
    for r in rows:
        a: StopTimes = {"accepted_at": r["a_accepted"], "resolved_at": r["a_resolved"], "closed_at": r["a_closed"]}
        if stop_of(r["stage"], a) is not None:
            continue
        color = "red" if r["red_lit_at"] else "yellow"
        lit = aware(r["red_lit_at"] or r["yellow_lit_at"])
        item = r | {"color": color, "lit_at": lit, "lit_seconds": int((now - lit).total_seconds()),
                    "severity": 2 if color == "red" else 1}
        old = best.get(r["request"])
        if old is None or (item["severity"], item["lit_seconds"]) > (old["severity"], old["lit_seconds"]):
            best[r["request"]] = item
    return sorted(best.values(), key=lambda i: (-i["severity"], -i["lit_seconds"]))


def duration_label(seconds: int) -> str:
    """How long a light has been on, in the reader's language (called while the page renders)."""
    if seconds < 3600:
        return gettext("{m} 分钟").format(m=max(seconds, 0) // 60)
    if seconds < 86400:
        return gettext("{h} 小时 {m} 分").format(h=seconds // 3600, m=seconds % 3600 // 60)
    return gettext("{d} 天 {h} 小时").format(d=seconds // 86400, h=seconds % 86400 // 3600)
