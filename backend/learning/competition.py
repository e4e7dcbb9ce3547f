"""Competitions: creation with a drawn question set, who may take part, one attempt per member, questions
and options shuffled per member from the attempt's seed, and the per-question time kept by the server.

The clock of a question starts in a POST (starting the attempt, or answering the previous question), never
in a GET. An answer arriving after the question's deadline (plus a little network slack) is recorded as
timed out and scores nothing, whatever the page claims; a member who lost the connection comes back to the
same question with the time it has left. Every write happens under the attempt's row lock, and the answer
row's unique (attempt, question) key makes a double submit count once.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from backend.accounts.service import Viewer
from backend.db import fetch_prepared, fetch_tuples, write_transaction
from backend.i18n import gettext as _
from backend.learning.common import (
    GRACE_SECONDS,
    LearningError,
    display_options,
    is_correct,
    now_or,
    parse_chosen,
    require_department,
    require_member,
)
from backend.learning.rows import (
    AttemptRow,
    BranchRow,
    CompetitionRow,
    HistoryRow,
    ListedCompetition,
    MemberCompetition,
    PlayQuestion,
    QuestionRow,
    ReviewRow,
)
from backend.learning.tables import (
    Attempt,
    Competition,
    CompetitionQuestion,
    CompetitionUnit,
    MemberBranch,
    Question,
)
from backend.organisation.tables import Unit

MAX_QUESTIONS = 100


def status_of(comp: CompetitionRow, now: datetime) -> str:
    if now < comp["starts_at"]:
        return "upcoming"
    return "running" if now < comp["ends_at"] else "finished"


# ---------------------------------------------------------------- creation (the department)


@dataclass
class DrawRule:
    category: str = ""  # "" = any category
    difficulty: int = 0  # 0 = any difficulty
    count: int = 0


@dataclass
class CompetitionInput:
    title: str = ""
    description: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    seconds_per_question: int | None = None
    rules: list[DrawRule] = field(default_factory=list)
    unit_ids: list[int] = field(default_factory=list)  # empty: every party member


async def create(viewer: Viewer, inp: CompetitionInput, now: datetime | None = None,
                 rng: random.Random | None = None) -> int:
    """Check the form, draw the question set, store it all in one transaction."""
    require_department(viewer)
    title = inp.title.strip()
    if not title or len(title) > 100 or "\x00" in title:
        raise LearningError(_("请填写竞赛名称（100 字以内）"), field="title")
    if len(inp.description) > 2000 or "\x00" in inp.description:
        raise LearningError(_("说明不超过 2000 字"), field="description")
    if inp.starts_at is None:
        raise LearningError(_("请填写开始时间"), field="starts_at")
    if inp.ends_at is None or inp.ends_at <= inp.starts_at:
        raise LearningError(_("结束时间应晚于开始时间"), field="ends_at")
    if inp.ends_at <= now_or(now):
        raise LearningError(_("结束时间已过，请重新填写"), field="ends_at")
    seconds = inp.seconds_per_question
    if seconds is None or not 5 <= seconds <= 600:
        raise LearningError(_("每题限时应为 5–600 秒"), field="seconds_per_question")
    rules = [r for r in inp.rules if r.count]
    if not rules:
        raise LearningError(_("请至少设置一组抽题条件（分类、难度、题数）"), field="rules")
    if any(r.count < 0 for r in rules) or sum(r.count for r in rules) > MAX_QUESTIONS:
        raise LearningError(_("题数应为 1–{n} 道").format(n=MAX_QUESTIONS), field="rules")
    units = []
    if inp.unit_ids:
        units = await Unit.select(Unit.id).where(Unit.id.is_in(list(set(inp.unit_ids))))
        if len(units) != len(set(inp.unit_ids)):
            raise LearningError(_("所选单位不存在"), field="units")
    rng = rng or random.Random()
    picked: list[int] = []
    for r in rules:
        query = Question.select(Question.id).where(Question.active == True)
        if r.category:
            query = query.where(Question.category == r.category)
        if r.difficulty:
            query = query.where(Question.difficulty == r.difficulty)
        pool = [row["id"] for row in await query.order_by(Question.id) if row["id"] not in picked]
        if len(pool) < r.count:
            raise LearningError(_("题库中符合条件（{c}）的题目只有 {n} 道，不够抽取 {k} 道").format(
                c=r.category or _("全部分类"), n=len(pool), k=r.count), field="rules")
        picked += rng.sample(pool, r.count)
    async with write_transaction():
        comp = Competition(title=title, description=inp.description.strip(), starts_at=inp.starts_at,
                           ends_at=inp.ends_at, seconds_per_question=seconds,
                           scope="units" if units else "all", question_count=len(picked), created_by=viewer.id)
        await comp.save()
        await CompetitionQuestion.insert(*[CompetitionQuestion(competition=comp.id, question=q, position=i)
                                           for i, q in enumerate(picked)])
        if units:
            await CompetitionUnit.insert(*[CompetitionUnit(competition=comp.id, unit=u["id"]) for u in units])
    return int(comp.id)


# ---------------------------------------------------------------- who takes part


# A competition and its question set never change once created (there is no edit), so each process keeps
# them after the first read: two queries fewer on every answer and question page.
_COMPETITIONS: dict[int, CompetitionRow] = {}
_QUESTION_IDS: dict[int, list[int]] = {}
_CACHE_SIZE = 200


def _remember(cache: dict[int, Any], key: int, value: Any) -> None:
    if len(cache) >= _CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value


async def get(competition_id: int) -> CompetitionRow:
    if competition_id in _COMPETITIONS:
        return _COMPETITIONS[competition_id]
    comp = await Competition.select().where(Competition.id == competition_id).first()
    if comp is None:
        raise LearningError(_("竞赛不存在"), 404)
    _remember(_COMPETITIONS, competition_id, comp)
    return comp


async def scope_paths(competition_id: int) -> list[str]:
    rows = await fetch_tuples("SELECT u.path FROM competition_unit cu JOIN unit u ON u.id = cu.unit "
                              "WHERE cu.competition = {} ORDER BY u.path", competition_id)
    return [r[0] for r in rows]


# The answering path's statements, prepared once per connection (fetch_prepared): during a competition
# every member runs them once a question, and a Piccolo query costs more to build than to run.
_BRANCH = "SELECT u.id, u.name, u.path FROM member_branch mb JOIN unit u ON u.id = mb.unit WHERE mb.account = $1"
_ATTEMPT = "SELECT * FROM attempt WHERE competition = $1 AND account = $2"
_QUESTION = "SELECT id, kind, stem, options, category, answer FROM question WHERE id = $1"
_INSERT_ANSWER = (
    "INSERT INTO attempt_answer (attempt, question, position, chosen, correct, timed_out, points, elapsed_ms, "
    "answered_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9) ON CONFLICT (attempt, question) DO NOTHING "
    "RETURNING id")
_ADVANCE = ("UPDATE attempt SET position = position + 1, score = score + $1, answered = answered + 1, "
            "time_ms = time_ms + $2, current_started_at = $3, finished_at = $4 WHERE id = $5")


async def branch_of(account_id: int) -> BranchRow | None:
    rows = await fetch_prepared(_BRANCH, account_id)
    return {"id": rows[0][0], "name": rows[0][1], "path": rows[0][2]} if rows else None


async def _question(question_id: int) -> QuestionRow:
    import json

    rows = await fetch_prepared(_QUESTION, question_id)
    assert rows
    q = dict(rows[0])
    q["options"], q["answer"] = json.loads(q["options"]), json.loads(q["answer"])
    return cast(QuestionRow, q)


async def may_take_part(viewer: Viewer, comp: CompetitionRow) -> tuple[bool, BranchRow | None]:
    """(may take part, the member's branch). All-member competitions admit members without a branch."""
    branch = await branch_of(viewer.id)
    if comp["scope"] == "all":
        return True, branch
    paths = await scope_paths(comp["id"])
    return branch is not None and any(branch["path"].startswith(p) for p in paths), branch


def question_order(question_ids: list[int], seed: int) -> list[int]:
    """The member's order of the competition's questions: fixed by the attempt's seed (resume sees the same)."""
    order = list(question_ids)
    random.Random(seed).shuffle(order)
    return order


def option_order(option_count: int, seed: int, question_id: int) -> list[int]:
    order = list(range(option_count))
    random.Random(f"{seed}:{question_id}").shuffle(order)
    return order


async def _question_ids(competition_id: int) -> list[int]:
    if competition_id in _QUESTION_IDS:
        return _QUESTION_IDS[competition_id]
    rows = await fetch_tuples("SELECT question FROM competition_question WHERE competition = {} ORDER BY position",
                              competition_id)
    ids = [r[0] for r in rows]
    if ids:
        _remember(_QUESTION_IDS, competition_id, ids)
    return ids


async def list_for_member(viewer: Viewer, now: datetime | None = None) -> list[MemberCompetition]:
    now = now_or(now)
    comps = await Competition.select().order_by(Competition.starts_at, ascending=False).limit(50)
    attempts = {r["competition"]: r for r in await Attempt.select(
        Attempt.competition, Attempt.score, Attempt.finished_at, Attempt.answered).where(Attempt.account == viewer.id)}
    out = []
    for c in comps:
        ok, _branch = await may_take_part(viewer, c)
        if ok or c["id"] in attempts:
            out.append(c | {"status": status_of(c, now), "attempt": attempts.get(c["id"])})
    return out


async def list_all(now: datetime | None = None) -> list[ListedCompetition]:
    now = now_or(now)
    rows = await fetch_tuples("SELECT competition, count(*) FROM attempt GROUP BY competition")
    counts = dict(rows)
    comps = await Competition.select().order_by(Competition.starts_at, ascending=False).limit(200)
    return [c | {"status": status_of(c, now), "participants": counts.get(c["id"], 0)} for c in comps]


# ---------------------------------------------------------------- the attempt


async def _locked_attempt(competition_id: int, account_id: int) -> AttemptRow | None:
    rows = await fetch_prepared(_ATTEMPT + " FOR UPDATE", competition_id, account_id)
    return cast(AttemptRow, dict(rows[0])) if rows else None


async def start(viewer: Viewer, competition_id: int, now: datetime | None = None) -> int:
    """Begin (or, if begun and not finished, resume) the member's one attempt. Starts the first question's clock."""
    require_member(viewer)
    now = now_or(now)
    comp = await get(competition_id)
    ok, branch = await may_take_part(viewer, comp)
    if not ok:
        raise LearningError(_("本次竞赛仅限指定支部的党员参加"), 403)
    status = status_of(comp, now)
    existing = await Attempt.select(Attempt.id, Attempt.finished_at).where(
        (Attempt.competition == competition_id) & (Attempt.account == viewer.id)).first()
    if existing is not None:
        if existing["finished_at"] is not None:
            raise LearningError(_("每位党员只能参加一次，您已完成本次竞赛"), 409)
        if status == "finished":
            raise LearningError(_("竞赛已结束"), 409)
        return int(existing["id"])  # resume: the clock of the current question keeps running
    if status == "upcoming":
        raise LearningError(_("竞赛尚未开始"), 409)
    if status == "finished":
        raise LearningError(_("竞赛已结束"), 409)
    rows = await fetch_tuples(
        "INSERT INTO attempt (competition, account, branch, seed, position, current_started_at, score, answered, "
        "time_ms, started_at) VALUES ({}, {}, {}, {}, 0, {}, 0, 0, 0, {}) "
        "ON CONFLICT (competition, account) DO NOTHING RETURNING id",
        competition_id, viewer.id, branch["id"] if branch else None, secrets.randbits(62), now, now)
    if rows:
        return int(rows[0][0])
    again = await Attempt.select(Attempt.id).where(
        (Attempt.competition == competition_id) & (Attempt.account == viewer.id)).first()
    assert again is not None  # a concurrent start won the race: resume that one
    return int(again["id"])


@dataclass
class PlayState:
    comp: CompetitionRow
    status: str  # competition status
    attempt: AttemptRow | None
    may_take_part: bool
    question: PlayQuestion | None = None  # the current question, shuffled for this member
    number: int = 0
    total: int = 0
    seconds_left: float = 0.0
    expired: bool = False  # the current question's time is up (the next POST records it as timed out)


async def play_state(viewer: Viewer, competition_id: int, now: datetime | None = None, *,
                     admitted: bool | None = None) -> PlayState:
    """What the member sees now. Reads only: nothing starts or ends on a GET. ``admitted``: the caller has
    already checked that the member may take part."""
    require_member(viewer)
    now = now_or(now)
    comp = await get(competition_id)
    ok = admitted if admitted is not None else (await may_take_part(viewer, comp))[0]
    found = await fetch_prepared(_ATTEMPT, competition_id, viewer.id)
    att = cast(AttemptRow, dict(found[0])) if found else None
    st = PlayState(comp=comp, status=status_of(comp, now), attempt=att, may_take_part=ok,
                   total=comp["question_count"])
    if att is None or att["finished_at"] is not None or st.status != "running":
        return st
    order = question_order(await _question_ids(competition_id), att["seed"])
    if att["position"] >= len(order) or att["current_started_at"] is None:
        return st
    q = await _question(order[att["position"]])
    del q["answer"]  # the page never carries the right answer
    deadline = att["current_started_at"] + timedelta(seconds=comp["seconds_per_question"])
    order = option_order(len(q["options"]), att["seed"], q["id"])
    st.question = q | {"display": display_options(q["options"], order)}
    st.number = att["position"] + 1
    st.seconds_left = max(0.0, (deadline - now).total_seconds())
    st.expired = now > deadline + timedelta(seconds=GRACE_SECONDS)
    return st


@dataclass
class AnswerOutcome:
    timed_out: bool
    finished: bool
    score: int


async def submit(viewer: Viewer, competition_id: int, question_id: int | None, choices: list[str], text: str,
                 now: datetime | None = None) -> AnswerOutcome:
    """Record the answer to the member's current question (or its time-out) and start the next question's clock."""
    require_member(viewer)
    now = now_or(now)
    comp = await get(competition_id)
    question_ids = await _question_ids(competition_id)
    if now >= comp["ends_at"]:
        # Close the attempt where it stands (its score so far counts on the final board), then refuse.
        await Attempt.update({Attempt.finished_at: comp["ends_at"], Attempt.current_started_at: None}).where(
            (Attempt.competition == competition_id) & (Attempt.account == viewer.id)
            & Attempt.finished_at.is_null())
        raise LearningError(_("竞赛已结束，本次提交未计分"), 409)
    async with write_transaction():
        att = await _locked_attempt(competition_id, viewer.id)
        if att is None:
            raise LearningError(_("请先开始答题"), 409)
        if att["finished_at"] is not None:
            raise LearningError(_("您已完成本次竞赛，答案不再计分"), 409)
        order = question_order(question_ids, att["seed"])
        if question_id is None or question_id not in order:
            raise LearningError(_("这道题不在您的试卷中，未计分"), 400)
        index = order.index(question_id)
        if index < att["position"]:
            raise LearningError(_("本题已经提交过，不会重复计分"), 409)
        if index > att["position"] or att["current_started_at"] is None:
            raise LearningError(_("请先回答当前题目"), 409)
        limit = timedelta(seconds=comp["seconds_per_question"])
        elapsed = now - att["current_started_at"]
        timed_out = elapsed > limit + timedelta(seconds=GRACE_SECONDS)
        chosen: list[Any] = []
        correct = False
        if not timed_out:
            q = await _question(question_id)
            shown = option_order(len(q["options"]), att["seed"], question_id)
            try:
                chosen = parse_chosen(q["kind"], len(q["options"]), choices, text, shown)
            except LearningError:
                if elapsed < limit:
                    raise  # in time: ask again for an answer
                timed_out = True  # the page's timer sent the form at zero with nothing chosen
            correct = not timed_out and is_correct(q["kind"], q["answer"], chosen)
        points = 1 if correct else 0
        elapsed_ms = int(min(elapsed, limit).total_seconds() * 1000)
        inserted = await fetch_prepared(_INSERT_ANSWER, att["id"], question_id, index, _json(chosen), correct,
                                        timed_out, points, elapsed_ms, now)
        if not inserted:
            raise LearningError(_("本题已经提交过，不会重复计分"), 409)
        last = index + 1 >= len(order)
        await fetch_prepared(_ADVANCE, points, elapsed_ms, None if last else now, now if last else None, att["id"])
    return AnswerOutcome(timed_out=timed_out, finished=last, score=att["score"] + points)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


async def review(viewer: Viewer, competition_id: int, now: datetime | None = None) -> list[ReviewRow]:
    """After the end: the member's answers with the right ones and the explanations."""
    comp = await get(competition_id)
    if status_of(comp, now_or(now)) != "finished":
        return []
    rows = await fetch_tuples(
        "SELECT q.id, q.kind, q.stem, q.options, q.answer, q.explanation, q.source, aa.chosen, aa.correct, "
        "aa.timed_out FROM attempt a JOIN attempt_answer aa ON aa.attempt = a.id JOIN question q ON q.id = aa.question "
        "WHERE a.competition = {} AND a.account = {} ORDER BY aa.position", competition_id, viewer.id)
    import json

    from backend.learning.common import answer_text

    out = []
    for qid, kind, stem, options, answer, explanation, source, chosen, correct, timed_out in rows:
        options, answer, chosen = (json.loads(v) if isinstance(v, str) else v for v in (options, answer, chosen))
        out.append({"id": qid, "kind": kind, "stem": stem, "right_answer": answer_text(kind, options, answer),
                    "explanation": explanation, "source": source, "correct": correct, "timed_out": timed_out,
                    "chosen": answer_text(kind, options, chosen) if chosen else ""})
    return out


async def member_history(viewer: Viewer) -> list[HistoryRow]:
    rows = await fetch_tuples(
        "SELECT c.id, c.title, c.question_count, a.score, a.answered, a.started_at, a.finished_at FROM attempt a "
        "JOIN competition c ON c.id = a.competition WHERE a.account = {} ORDER BY a.started_at DESC", viewer.id)
    return [{"id": r[0], "title": r[1], "total": r[2], "score": r[3], "answered": r[4], "started_at": r[5],
             "finished_at": r[6]} for r in rows]


async def set_branch(viewer: Viewer, account_id: int, unit_id: int) -> None:
    """The department puts a party member into the branch of a community (or removes them with unit 0)."""
    from backend.accounts.tables import Account

    require_department(viewer)
    acc = await Account.select(Account.is_party_member).where(Account.id == account_id).first()
    if acc is None or not acc["is_party_member"]:
        raise LearningError(_("该账号不是已认定的党员"), 404)
    if not unit_id:
        await MemberBranch.delete().where(MemberBranch.account == account_id)
        return
    unit = await Unit.select(Unit.kind).where(Unit.id == unit_id).first()
    if unit is None or unit["kind"] != "community":
        raise LearningError(_("党支部应设在社区"), field="unit")
    await fetch_tuples(
        "INSERT INTO member_branch (account, unit, set_by, set_at) VALUES ({}, {}, {}, now()) "
        "ON CONFLICT (account) DO UPDATE SET unit = EXCLUDED.unit, set_by = EXCLUDED.set_by, set_at = now()",
        account_id, unit_id, viewer.id)
