"""What the learning services share: the error type, who may do what, labels, scoring, the local day."""

from __future__ import annotations

import os
import unicodedata
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend.accounts.service import Viewer
from backend.accounts.tables import Role
from backend.db import utcnow
from backend.errors import DomainError
from backend.i18n import gettext as _
from backend.learning.rows import DisplayOption
from backend.settings import get_settings

KIND_LABELS: dict[str, str] = {"single": "单选题", "multi": "多选题", "judge": "判断题", "fill": "填空题"}
DIFFICULTY_LABELS: dict[int, str] = {1: "易", 2: "中", 3: "难"}
STATUS_LABELS: dict[str, str] = {"upcoming": "未开始", "running": "进行中", "finished": "已结束"}
LETTERS = "ABCDEFGH"
# Network slack on the per-question deadline: an answer sent as the timer hits zero still arrives in time.
GRACE_SECONDS = 2.0


class LearningError(DomainError):
    """A refused action with a message for the person (and the field it concerns, on forms)."""

    def __init__(self, message: str, status: int = 400, field: str | None = None) -> None:
        super().__init__(message, field, status)


def now_or(now: datetime | None) -> datetime:
    """The service's clock: tests inject ``now``; the web passes nothing and gets the real time."""
    if now is None:
        return utcnow()
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def local_day(now: datetime) -> date:
    return now.astimezone(ZoneInfo(get_settings().timezone)).date()


def practice_per_day() -> int:
    """Questions (and so points at most) per member per day: QG_PRACTICE_PER_DAY, default 5."""
    try:
        return max(1, min(50, int(os.environ.get("QG_PRACTICE_PER_DAY", "5"))))
    except ValueError:
        return 5


def is_department(viewer: Viewer | None) -> bool:
    """The organisation department (区委组织部: the assessor role) and admins keep the bank and competitions."""
    return viewer is not None and viewer.is_staff and viewer.has_role(Role.assessor, Role.admin)


def require_department(viewer: Viewer | None) -> Viewer:
    if viewer is None or not is_department(viewer):
        raise LearningError(_("只有区委组织部可以管理题库和竞赛"), 403)
    return viewer


def is_member(viewer: Viewer | None) -> bool:
    return viewer is not None and viewer.is_resident and viewer.is_party_member


def require_member(viewer: Viewer | None) -> Viewer:
    if viewer is None or not is_member(viewer):
        raise LearningError(_("仅限经组织部认定的党员参加学习和竞赛"), 403)
    return viewer


def normalise_text(text: str) -> str:
    """Fill-in answers compare after width folding (NFKC), case folding and without spaces or end punctuation."""
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    return "".join(folded.split()).strip("。.，,；;！!")


def is_correct(kind: str, answer: list[Any], chosen: list[Any]) -> bool:
    if kind == "fill":
        given = normalise_text(str(chosen[0])) if chosen else ""
        return bool(given) and given in {normalise_text(str(a)) for a in answer}
    if kind == "judge":
        return bool(chosen) and bool(chosen[0]) == bool(answer[0])
    return bool(chosen) and sorted(set(chosen)) == sorted(set(answer))  # multi: all and only the right ones


def parse_chosen(kind: str, option_count: int, choices: list[str], text: str,
                 order: list[int] | None = None) -> list[Any]:
    """The form's answer as stored: original option indexes, [bool], or [text]. Raises when nothing usable
    was sent. A choice arrives as its position on the member's page; ``order`` (the page's shuffle) maps it
    back, so the page never shows which original option a box stands for."""
    if kind == "fill":
        value = (text or "").strip()[:200]
        if not value:
            raise LearningError(_("请填写答案"), field="answer")
        return [value]
    if kind == "judge":
        if not choices or choices[0] not in ("1", "0"):
            raise LearningError(_("请选择“正确”或“错误”"), field="answer")
        return [choices[0] == "1"]
    picked: set[int] = set()
    for c in choices:
        if not c.isdigit() or int(c) >= option_count:
            raise LearningError(_("所选答案不在本题选项中"), field="answer")
        picked.add(order[int(c)] if order else int(c))
    if not picked:
        raise LearningError(_("请选择答案"), field="answer")
    if kind == "single" and len(picked) > 1:
        raise LearningError(_("单选题只能选一个答案"), field="answer")
    return sorted(picked)


def answer_text(kind: str, options: list[str], answer: list[Any]) -> str:
    """The right answer for people: the right option texts (their letters differ per member), '正确', or the
    accepted fill-ins."""
    if kind == "judge":
        return _("正确") if answer and answer[0] else _("错误")
    if kind == "fill":
        return " / ".join(str(a) for a in answer)
    return "；".join(options[i] for i in answer if 0 <= i < len(options))


def display_options(options: list[str], order: list[int]) -> list[DisplayOption]:
    """Options in the member's order. The submitted value is the position on the page; ``index`` (the
    original option) stays on the server (templates do not render it)."""
    return [{"value": pos, "index": i, "letter": LETTERS[pos], "text": options[i]} for pos, i in enumerate(order)]
