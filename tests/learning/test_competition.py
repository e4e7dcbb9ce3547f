"""Competitions: the server keeps the time per question (an injected clock), one attempt per member,
shuffles per member, refuses tampered or late answers, and counts every answer once under load."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from backend.learning import competition
from backend.learning.common import LearningError
from backend.learning.tables import Attempt, AttemptAnswer, Competition
from tests.support.learning import choice, current_question, member, questions, running_competition
from tests.support.people import staff


async def _attempt(viewer, cid) -> dict:
    return await Attempt.select().where((Attempt.competition == cid) & (Attempt.account == viewer.id)).first()


async def test_answers_within_the_time_score_and_late_ones_do_not() -> None:
    cid, t0 = await running_competition(n=3, seconds=20)
    viewer = await member()
    await competition.start(viewer, cid, t0)
    q1, right = await choice(viewer, cid, t0 + timedelta(seconds=5))
    out = await competition.submit(viewer, cid, q1, right, "", t0 + timedelta(seconds=19))
    assert not out.timed_out and out.score == 1
    # The second question's clock started with that answer; 30 s later it is over, whatever the page says.
    t1 = t0 + timedelta(seconds=19)
    q2 = await current_question(viewer, cid, t1)
    st = await competition.play_state(viewer, cid, t1 + timedelta(seconds=30))
    assert st.expired and st.seconds_left == 0
    out = await competition.submit(viewer, cid, q2, ["0"], "", t1 + timedelta(seconds=30))
    assert out.timed_out and out.score == 1  # right answer, too late: nothing scored
    row = await AttemptAnswer.select().where(AttemptAnswer.question == q2).first()
    assert row["timed_out"] and row["points"] == 0
    # The third question, answered wrong in time, finishes the attempt.
    t2 = t1 + timedelta(seconds=30)
    q3, wrong = await choice(viewer, cid, t2, right=False)
    out = await competition.submit(viewer, cid, q3, wrong, "", t2 + timedelta(seconds=3))
    assert out.finished and out.score == 1
    att = await _attempt(viewer, cid)
    assert att["finished_at"] is not None and att["answered"] == 3 and att["time_ms"] == 19000 + 20000 + 3000


async def test_resume_keeps_the_time_left_and_the_order() -> None:
    cid, t0 = await running_competition(n=4, seconds=60)
    viewer = await member()
    await competition.start(viewer, cid, t0)
    st = await competition.play_state(viewer, cid, t0 + timedelta(seconds=25))
    # The connection drops; 10 s later the member is back: same question, 25 s left (not a fresh minute).
    again = await competition.start(viewer, cid, t0 + timedelta(seconds=35))
    assert again == (await _attempt(viewer, cid))["id"]
    resumed = await competition.play_state(viewer, cid, t0 + timedelta(seconds=35))
    assert resumed.question["id"] == st.question["id"] and resumed.question["display"] == st.question["display"]
    assert resumed.seconds_left == pytest.approx(25)


async def test_one_attempt_per_member() -> None:
    cid, t0 = await running_competition(n=1)
    viewer = await member()
    await competition.start(viewer, cid, t0)
    q = await current_question(viewer, cid, t0)
    await competition.submit(viewer, cid, q, ["0"], "", t0 + timedelta(seconds=2))
    with pytest.raises(LearningError, match="只能参加一次"):
        await competition.start(viewer, cid, t0 + timedelta(seconds=3))
    with pytest.raises(LearningError, match="不再计分"):
        await competition.submit(viewer, cid, q, ["0"], "", t0 + timedelta(seconds=4))
    assert await Attempt.count().where(Attempt.competition == cid) == 1


async def test_tampered_answers_are_refused_and_score_nothing() -> None:
    cid, t0 = await running_competition(n=3)
    viewer = await member()
    with pytest.raises(LearningError, match="请先开始"):
        await competition.submit(viewer, cid, 1, ["0"], "", t0)
    await competition.start(viewer, cid, t0)
    _cat, foreign = await questions(1)
    with pytest.raises(LearningError, match="不在您的试卷中"):
        await competition.submit(viewer, cid, foreign[0], ["0"], "", t0 + timedelta(seconds=1))
    st = await competition.play_state(viewer, cid, t0)
    order = competition.question_order(await competition._question_ids(cid), (await _attempt(viewer, cid))["seed"])
    assert order[0] == st.question["id"]
    with pytest.raises(LearningError, match="当前题目"):  # skipping ahead to a later question
        await competition.submit(viewer, cid, order[2], ["0"], "", t0 + timedelta(seconds=1))
    _q, right = await choice(viewer, cid, t0)
    await competition.submit(viewer, cid, order[0], right, "", t0 + timedelta(seconds=2))
    with pytest.raises(LearningError, match="不会重复计分"):  # the same question again
        await competition.submit(viewer, cid, order[0], right, "", t0 + timedelta(seconds=3))
    att = await _attempt(viewer, cid)
    assert att["score"] == 1 and att["answered"] == 1


async def test_answers_after_the_end_are_refused() -> None:
    cid, t0 = await running_competition(n=2, seconds=600)
    viewer = await member()
    await competition.start(viewer, cid, t0)
    q = await current_question(viewer, cid, t0)
    end = (await Competition.select(Competition.ends_at).where(Competition.id == cid).first())["ends_at"]
    with pytest.raises(LearningError, match="竞赛已结束"):
        await competition.submit(viewer, cid, q, ["0"], "", end + timedelta(seconds=1))
    att = await _attempt(viewer, cid)
    assert att["score"] == 0 and att["finished_at"] is not None
    late = await member()
    with pytest.raises(LearningError, match="竞赛已结束"):
        await competition.start(late, cid, end + timedelta(seconds=1))


async def test_not_yet_started_and_not_eligible() -> None:
    cid, t0 = await running_competition(n=1, unit_codes=("MQ",))  # only the branches under 庙前街道
    outsider = await member(branch="LX-1")
    with pytest.raises(LearningError) as err:
        await competition.start(outsider, cid, t0)
    assert err.value.status == 403
    insider = await member(branch="MQ-1")
    await competition.start(insider, cid, t0)
    not_party = await member(party=False)
    with pytest.raises(LearningError) as err:
        await competition.start(not_party, cid, t0)
    assert err.value.status == 403
    cid2, t2 = await running_competition(n=1)
    await Competition.update({Competition.starts_at: t2 + timedelta(hours=1)}).where(Competition.id == cid2)
    with pytest.raises(LearningError, match="尚未开始"):
        await competition.start(insider, cid2, t2)


async def test_questions_and_options_are_shuffled_per_member_and_stable() -> None:
    cid, t0 = await running_competition(n=8)
    a, b = await member(), await member()
    for v in (a, b):
        await competition.start(v, cid, t0)
    ids = await competition._question_ids(cid)
    seed_a, seed_b = (await _attempt(a, cid))["seed"], (await _attempt(b, cid))["seed"]
    assert sorted(competition.question_order(ids, seed_a)) == sorted(ids)
    assert competition.question_order(ids, seed_a) == competition.question_order(ids, seed_a)
    assert competition.question_order(ids, seed_a) != competition.question_order(ids, seed_b)
    orders = {tuple(competition.option_order(4, seed_a, q)) for q in ids}
    assert len(orders) > 1  # options are not in one fixed order either


async def test_creation_is_checked_and_only_by_the_department() -> None:
    category, _ids = await questions(3)
    dept = await staff("zzb")
    from backend.db import utcnow

    now = utcnow()
    good = competition.CompetitionInput(title="测试赛", starts_at=now, ends_at=now + timedelta(hours=1),
                                        seconds_per_question=30, rules=[competition.DrawRule(category, 0, 3)])
    for bad, field in [
        (competition.CompetitionInput(**{**good.__dict__, "title": ""}), "title"),
        (competition.CompetitionInput(**{**good.__dict__, "ends_at": now - timedelta(hours=2)}), "ends_at"),
        (competition.CompetitionInput(**{**good.__dict__, "seconds_per_question": 2}), "seconds_per_question"),
        (competition.CompetitionInput(**{**good.__dict__, "rules": [competition.DrawRule(category, 0, 4)]}), "rules"),
        (competition.CompetitionInput(**{**good.__dict__, "unit_ids": [999999999]}), "units"),
    ]:
        with pytest.raises(LearningError) as err:
            await competition.create(dept, bad, now=now)
        assert err.value.field == field
    with pytest.raises(LearningError) as err:
        await competition.create(await member(), good, now=now)
    assert err.value.status == 403
    cid = await competition.create(dept, good, now=now)
    assert sorted(await competition._question_ids(cid)) == sorted(_ids)


async def test_200_members_answering_at_once_count_every_answer_once() -> None:
    n_questions = 3
    cid, t0 = await running_competition(n=n_questions, seconds=600)
    members = await asyncio.gather(*[member(branch=None) for _ in range(200)])
    await asyncio.gather(*[competition.start(m, cid, t0) for m in members])

    async def answer_all(m) -> int:
        accepted = 0
        for step in range(n_questions):
            now = t0 + timedelta(seconds=step + 1)
            q, right = await choice(m, cid, now)
            # Every member double-submits each answer at the same moment: exactly one counts.
            results = await asyncio.gather(*[competition.submit(m, cid, q, right, "", now) for _ in range(2)],
                                           return_exceptions=True)
            ok = [r for r in results if not isinstance(r, Exception)]
            refused = [r for r in results if isinstance(r, LearningError)]
            assert len(ok) == 1 and len(refused) == 1, results
            accepted += 1
        return accepted

    counts = await asyncio.gather(*[answer_all(m) for m in members])
    assert counts == [n_questions] * 200
    rows = await Attempt.select(Attempt.score, Attempt.answered, Attempt.finished_at).where(Attempt.competition == cid)
    assert len(rows) == 200
    assert all(r["score"] == n_questions and r["answered"] == n_questions and r["finished_at"] for r in rows)
    stored = await AttemptAnswer.count().where(AttemptAnswer.attempt.competition == cid)
    assert stored == 200 * n_questions


async def test_an_empty_answer_is_asked_again_in_time_and_a_timeout_at_zero() -> None:
    cid, t0 = await running_competition(n=2, seconds=20)
    viewer = await member()
    await competition.start(viewer, cid, t0)
    q = await current_question(viewer, cid, t0)
    with pytest.raises(LearningError, match="请选择"):
        await competition.submit(viewer, cid, q, [], "", t0 + timedelta(seconds=5))
    # The page's timer sends the form at zero with nothing chosen: recorded as timed out, the next one begins.
    out = await competition.submit(viewer, cid, q, [], "", t0 + timedelta(seconds=20.5))
    assert out.timed_out and not out.finished and out.score == 0
    assert await current_question(viewer, cid, t0 + timedelta(seconds=21)) != q


@pytest.mark.parametrize("kind", ["judge", "fill", "multi"])
async def test_every_question_type_runs_to_the_end(kind: str) -> None:
    cid, t0 = await running_competition(n=6, seconds=30, kind=kind)
    viewer = await member()
    await competition.start(viewer, cid, t0)
    right = {"judge": (["1"], ""), "fill": ([], "答案")}
    for i in range(6):
        now = t0 + timedelta(seconds=i + 1)
        if kind == "multi":
            st = await competition.play_state(viewer, cid, now)
            values = [str(o["value"]) for o in st.question["display"] if o["index"] in (0, 1)]
            q, answer = st.question["id"], (values, "")
        else:
            q, answer = await current_question(viewer, cid, now), right[kind]
        out = await competition.submit(viewer, cid, q, *answer, now)
        assert out.finished == (i == 5) and out.score == i + 1
