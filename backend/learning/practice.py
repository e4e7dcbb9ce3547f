"""Daily practice: N questions a day per member (QG_PRACTICE_PER_DAY), one point per right answer, so at
most N points a day; the right answer and its explanation are shown after each question."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime

from asyncpg.exceptions import UniqueViolationError

from backend.accounts.service import Viewer
from backend.db import fetch_tuples
from backend.i18n import gettext as _
from backend.learning.common import (
    LearningError,
    answer_text,
    display_options,
    is_correct,
    local_day,
    now_or,
    parse_chosen,
    practice_per_day,
    require_member,
)
from backend.learning.rows import PracticeHistory, PracticeOutcome, PracticeQuestion
from backend.learning.tables import PracticeAnswer, Question


def shuffled_options(options: list[str], seed: str) -> list[int]:
    order = list(range(len(options)))
    random.Random(seed).shuffle(order)
    return order


async def todays_questions(account_id: int, day: date) -> list[int]:
    """The day's set for a member: the same all day (a reload does not redraw it), different per member."""
    ids = [r[0] for r in await fetch_tuples("SELECT id FROM question WHERE active ORDER BY id")]
    rng = random.Random(f"practice:{account_id}:{day.isoformat()}")
    return rng.sample(ids, min(practice_per_day(), len(ids)))


@dataclass
class PracticeState:
    day: date
    total: int
    answered: int
    points: int
    question: PracticeQuestion | None  # the next question to show, None when the day's set is done


async def state(viewer: Viewer, now: datetime | None = None) -> PracticeState:
    require_member(viewer)
    day = local_day(now_or(now))
    todays = await todays_questions(viewer.id, day)
    done = {r["question"]: r for r in await PracticeAnswer.select(PracticeAnswer.question, PracticeAnswer.points)
            .where((PracticeAnswer.account == viewer.id) & (PracticeAnswer.day == day))}
    points = sum(r["points"] for r in done.values())
    pending = [q for q in todays if q not in done]
    question = None
    if pending and len(done) < len(todays):
        row = await Question.select().where(Question.id == pending[0]).output(load_json=True).first()
        if row is not None:
            order = shuffled_options(row["options"], f"{viewer.id}:{day}:{row['id']}")
            question = row | {"display": display_options(row["options"], order),
                              "number": len(done) + 1}
    return PracticeState(day=day, total=len(todays), answered=len(done), points=points, question=question)


async def answer(viewer: Viewer, question_id: int, choices: list[str], text: str,
                 now: datetime | None = None) -> PracticeOutcome:
    """Score one practice answer. Only a question of today's set, once; the day's cap is the set's size."""
    require_member(viewer)
    day = local_day(now_or(now))
    if question_id not in await todays_questions(viewer.id, day):
        raise LearningError(_("这道题不在您今天的练习中"), 400)
    q = await Question.select().where(Question.id == question_id).output(load_json=True).first()
    if q is None:
        raise LearningError(_("题目不存在"), 404)
    order = shuffled_options(q["options"], f"{viewer.id}:{day}:{question_id}")
    chosen = parse_chosen(q["kind"], len(q["options"]), choices, text, order)
    correct = is_correct(q["kind"], q["answer"], chosen)
    try:
        await PracticeAnswer(account=viewer.id, day=day, question=question_id, chosen=chosen, correct=correct,
                             points=1 if correct else 0, answered_at=now_or(now)).save()
    except UniqueViolationError as exc:  # the (account, day, question) key: a double submit counts once
        raise LearningError(_("这道题今天已经答过了"), 409) from exc
    return {"question": q, "correct": correct, "right_answer": answer_text(q["kind"], q["options"], q["answer"]),
            "chosen": chosen}


async def history(viewer: Viewer) -> PracticeHistory:
    rows = await fetch_tuples(
        "SELECT day, count(*), sum(points) FROM practice_answer WHERE account = {} GROUP BY day ORDER BY day DESC "
        "LIMIT 30", viewer.id)
    total = await fetch_tuples("SELECT coalesce(sum(points), 0) FROM practice_answer WHERE account = {}", viewer.id)
    return {"days": [{"day": d, "answered": n, "points": p} for d, n, p in rows], "total": total[0][0]}
