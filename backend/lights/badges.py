"""The light of each request where handlers work (inbox, field mode, queues, the request page):
its colour now, the next light and when it comes. Read-only; no Litestar imports.

A deadline already passed counts as lit even before the sweep has flipped it (the sweep runs every
minute; the page should not show "no light" for a request already late).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.db import aware, fetch_prepared, utcnow
from backend.i18n import gettext as _

SEVERITY = {"none": 0, "yellow": 1, "red": 2}
STAGE_TEXT = {"accept": "受理", "resolve": "办结"}


@dataclass
class LightState:
    color: str = "none"  # "none" | "yellow" | "red"
    stage: str = ""  # the stage whose clock lit (or will light next)
    lit_at: datetime | None = None
    next_color: str = ""  # "yellow" | "red" | "" (nothing more can light)
    next_due_at: datetime | None = None
    next_stage: str = ""
    tracked: bool = False  # the request has a running clock at all

    @property
    def severity(self) -> int:
        return SEVERITY[self.color]

    def label(self) -> str:
        return {"red": _("红灯"), "yellow": _("黄灯")}.get(self.color, _("未亮灯"))

    def reason(self) -> str:
        """Why the light is on: "超过受理时限"."""
        if self.color == "none":
            return ""
        return _("超过受理时限") if self.stage == "accept" else _("超过办结时限")

    def countdown(self, now: datetime | None = None) -> str:
        """Time left to the next light: "3 小时后亮黄灯" (only a light worse than the current one)."""
        if self.next_due_at is None or SEVERITY[self.next_color] <= self.severity:
            return ""
        seconds = int((self.next_due_at - (now or utcnow())).total_seconds())
        if self.next_color == "red":
            units = (_("{n} 分钟后亮红灯"), _("{n} 小时后亮红灯"), _("{n} 天后亮红灯"))
        else:
            units = (_("{n} 分钟后亮黄灯"), _("{n} 小时后亮黄灯"), _("{n} 天后亮黄灯"))
        if seconds < 3600:
            return units[0].format(n=max(1, seconds // 60))
        if seconds < 2 * 86400:
            return units[1].format(n=seconds // 3600)
        return units[2].format(n=seconds // 86400)


# Every inbox, queue and field page reads this: prepared once per connection (fetch_prepared), where building
# the Piccolo select with its join cost more CPU than running it.
_RUNNING_CLOCKS = (
    "SELECT c.request, c.stage, c.yellow_due_at, c.red_due_at, c.yellow_lit_at, c.red_lit_at, c.stopped_at, "
    "a.accepted_at AS a_accepted, a.resolved_at AS a_resolved, a.closed_at AS a_closed "
    "FROM light_clock c JOIN assignment a ON a.id = c.assignment "
    "WHERE c.request = ANY($1::int[]) AND a.is_open AND c.stopped_at IS NULL")


def _stopped(c: Any) -> bool:
    if c["stopped_at"] is not None:
        return True
    if c["a_closed"] is not None or c["a_resolved"] is not None:
        return True
    return c["stage"] == "accept" and c["a_accepted"] is not None


async def light_states(request_ids: list[int], *, now: datetime | None = None) -> dict[int, LightState]:
    """The light of each request from the running clocks of its open lead assignment (one query)."""
    now = now or utcnow()
    out: dict[int, LightState] = {i: LightState() for i in request_ids}
    if not request_ids:
        return out
    rows = await fetch_prepared(_RUNNING_CLOCKS, list(request_ids))
    for c in rows:
        if _stopped(c):
            continue
        state = out[c["request"]]
        state.tracked = True
        for color in ("red", "yellow"):
            due = aware(c[f"{color}_due_at"])
            lit = aware(c[f"{color}_lit_at"]) or (due if due is not None and due <= now else None)
            if lit is not None:
                if SEVERITY[color] > state.severity or (SEVERITY[color] == state.severity and state.stage == "resolve"):
                    state.color, state.stage, state.lit_at = color, c["stage"], lit
                break
        for color in ("yellow", "red"):
            due = aware(c[f"{color}_due_at"])
            if c[f"{color}_lit_at"] is None and due is not None and due > now:
                if state.next_due_at is None or due < state.next_due_at:
                    state.next_color, state.next_due_at, state.next_stage = color, due, c["stage"]
                break
    return out


async def with_lights(rows: list[dict[str, Any]], *, sort: bool = True,
                      now: datetime | None = None) -> list[dict[str, Any]]:
    """Add ``light`` (a LightState) to each row (needs ``id``, ``created_at``); sorted red, yellow, then
    oldest first (urgent before the rest within a colour) when ``sort``."""
    states = await light_states([r["id"] for r in rows], now=now)
    for r in rows:
        r["light"] = states[r["id"]]
    if sort:
        rows.sort(key=lambda r: (-r["light"].severity, not r.get("urgent"), aware(r["created_at"])))
    return rows
