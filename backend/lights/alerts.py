"""Who hears of a light: the responsible unit and person; for red also the command center and the unit
head. Sent after the commit, through notify's public functions only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from backend.accounts.tables import Role
from backend.i18n import N_
from backend.lights.rules import COLOR_LABELS, EXPLANATION_HOURS, STAGE_LABELS
from backend.notify.service import Notice, notify_burst, unit_members
from backend.requests.tables import Assignment, Request
from backend.routing.service import command_center

log = logging.getLogger("qungong.lights")


@dataclass
class Flip:
    """A light that turned (made by flips.py, announced here)."""

    clock_id: int
    assignment_id: int
    request_id: int
    unit_id: int
    stage: str
    color: str
    explanation_id: int | None = None


def _notice(ids: Iterable[int | None], key: str, body_key: str, url: str, kind: str, params: dict[str, str]) -> Notice:
    """A light's notice, stored as its key and fields (and the Chinese text, for pushes and old readers)."""
    return Notice(tuple(ids), key.format(**params), body_key.format(**params), url, kind, key,
                  tuple((params | {"body_key": body_key}).items()))


async def announce(flips: list[Flip]) -> None:
    """After the commit: tell the responsible unit and person; red also tells the command center and the
    unit head. One INSERT for the whole batch; one push per recipient group."""
    if not flips:
        return
    try:
        codes = {r["id"]: r["code"] for r in await Request.select(Request.id, Request.code).where(
            Request.id.is_in([f.request_id for f in flips]))}
        persons = {r["id"]: r["person"] for r in await Assignment.select(Assignment.id, Assignment.person).where(
            Assignment.id.is_in([f.assignment_id for f in flips]))}
        members: dict[tuple[int, str], list[int]] = {}

        async def of(unit_id: int, *roles: Role) -> list[int]:
            key = (unit_id, ",".join(roles))
            if key not in members:
                members[key] = await unit_members(unit_id, *roles)
            return members[key]

        cc_id = (await command_center()).id if any(f.color == "red" for f in flips) else None
        # Stored as a key and its fields: each reader sees the notice in their own language (notify.render).
        notices: list[Notice] = []
        for f in flips:
            params = {"code": codes.get(f.request_id, ""), "color_label": COLOR_LABELS[f.color],
                      "stage_label": STAGE_LABELS[f.stage], "hours": str(EXPLANATION_HOURS)}
            title = N_("{color_label}：诉求 {code} 超过{stage_label}时限")
            notices.append(_notice([*await of(f.unit_id), persons.get(f.assignment_id)], title, N_("请尽快处理"),
                                   "/staff", "light", params))
            if f.color == "red" and cc_id is not None:
                notices.append(_notice(await of(cc_id), title, N_("请电话督办责任单位"), "/cc/lights", "light", params))
                notices.append(_notice(await of(f.unit_id, Role.unit_head), N_("请提交书面说明：诉求 {code} 亮红灯"),
                                       N_("请在 {hours} 小时内说明原因、已采取的措施和承诺办结时间"),
                                       f"/lights/explanations/{f.explanation_id}", "explanation", params))
        await notify_burst(notices, summary="{n} 条红黄灯提醒")
    except Exception:  # a notification never undoes a light
        log.exception("light notifications failed for %d flips", len(flips))
