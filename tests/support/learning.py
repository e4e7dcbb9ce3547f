"""Learning test helpers: party members in branches, a running competition, XLSX files."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

from openpyxl import Workbook

from backend.accounts.service import Viewer, load_viewer, resident_for_phone
from backend.accounts.tables import Account
from backend.db import utcnow
from backend.learning import competition
from backend.learning.bank import TEMPLATE_HEADERS
from backend.learning.tables import MemberBranch, Question
from tests.support.factories import fresh_phone, unique
from tests.support.people import staff, unit


async def member(phone: str | None = None, branch: str | None = "LX-1", party: bool = True) -> Viewer:
    phone = phone or fresh_phone()
    acc = await resident_for_phone(phone)
    await Account.update({Account.is_party_member: party}).where(Account.id == acc.id)
    if branch:
        u = await unit(branch)
        await MemberBranch.delete().where(MemberBranch.account == acc.id)
        await MemberBranch(account=acc.id, unit=u.id).save()
    viewer = await load_viewer(acc.id)
    assert viewer is not None
    return viewer


async def questions(n: int, kind: str = "single", category: str | None = None) -> tuple[str, list[int]]:
    """n fresh active questions of one kind in a category of their own; answer = first option / true / '答案'."""
    category = category or unique("测试")[:40]
    rows = []
    for i in range(n):
        options = ["对的", "错的一", "错的二", "错的三"] if kind in ("single", "multi") else []
        answer: list[Any] = {"single": [0], "multi": [0, 1], "judge": [True], "fill": ["答案"]}[kind]
        rows.append(Question(kind=kind, category=category, difficulty=1, stem=f"{category} 第{i}题", options=options,
                             answer=answer, explanation="因为如此", source="测试"))
    await Question.insert(*rows)
    found = await Question.select(Question.id).where(Question.category == category).order_by(Question.id)
    ids = [r["id"] for r in found]
    return category, ids


async def running_competition(n: int = 5, seconds: int = 30, now: datetime | None = None,
                              unit_codes: tuple[str, ...] = (), kind: str = "single") -> tuple[int, datetime]:
    now = now or utcnow()
    category, _ids = await questions(n, kind)
    dept = await staff("zzb")
    unit_ids = [(await unit(c)).id for c in unit_codes]
    cid = await competition.create(dept, competition.CompetitionInput(
        title=unique("竞赛"), starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1),
        seconds_per_question=seconds, rules=[competition.DrawRule(category=category, count=n)], unit_ids=unit_ids),
        now=now)
    return cid, now


async def current_question(viewer: Viewer, cid: int, now: datetime) -> int:
    st = await competition.play_state(viewer, cid, now)
    assert st.question is not None
    return int(st.question["id"])


async def choice(viewer: Viewer, cid: int, now: datetime, right: bool = True) -> tuple[int, list[str]]:
    """The current question and the page value of its right option (the helper's questions: the first
    original option) or of a wrong one. Pages show positions, not original options."""
    st = await competition.play_state(viewer, cid, now)
    assert st.question is not None
    values = [str(o["value"]) for o in st.question["display"] if (o["index"] == 0) == right]
    return int(st.question["id"]), values[:1]


def xlsx(rows: list[list[Any]], headers: list[str] | None = None) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(headers if headers is not None else TEMPLATE_HEADERS)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def row(kind: str, stem: str, options: list[str] | None = None, answer: str = "A", category: str = "测试分类",
        difficulty: str = "易") -> list[Any]:
    opts = (options or []) + [""] * (6 - len(options or []))
    return [kind, category, difficulty, stem, *opts, answer, "解析", "出处"]
