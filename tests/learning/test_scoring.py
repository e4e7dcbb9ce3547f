"""Scoring of each question type, and daily practice (one point a right answer, a daily cap, once per question)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.learning import practice
from backend.learning.common import LearningError, is_correct, parse_chosen
from backend.learning.tables import PracticeAnswer, Question
from tests.support.learning import member


def test_single_choice() -> None:
    assert is_correct("single", [2], parse_chosen("single", 4, ["2"], ""))
    assert not is_correct("single", [2], parse_chosen("single", 4, ["1"], ""))
    with pytest.raises(LearningError, match="只能选一个"):
        parse_chosen("single", 4, ["1", "2"], "")
    with pytest.raises(LearningError, match="不在本题选项"):
        parse_chosen("single", 4, ["4"], "")
    with pytest.raises(LearningError, match="请选择"):
        parse_chosen("single", 4, [], "")


def test_multiple_choice_needs_all_and_only_the_right_options() -> None:
    assert is_correct("multi", [0, 2, 3], parse_chosen("multi", 4, ["3", "0", "2"], ""))
    assert not is_correct("multi", [0, 2, 3], parse_chosen("multi", 4, ["0", "2"], ""))  # one missing
    assert not is_correct("multi", [0, 2, 3], parse_chosen("multi", 4, ["0", "1", "2", "3"], ""))  # one too many


def test_true_false() -> None:
    assert is_correct("judge", [False], parse_chosen("judge", 0, ["0"], ""))
    assert not is_correct("judge", [False], parse_chosen("judge", 0, ["1"], ""))
    with pytest.raises(LearningError):
        parse_chosen("judge", 0, ["maybe"], "")


def test_fill_in_accepts_any_listed_answer_ignoring_width_case_and_spaces() -> None:
    answer = ["二十四", "24", "Party"]
    assert is_correct("fill", answer, parse_chosen("fill", 0, [], " ２４ "))  # full-width digits
    assert is_correct("fill", answer, parse_chosen("fill", 0, [], "二十四。"))
    assert is_correct("fill", answer, parse_chosen("fill", 0, [], "p a r t y"))
    assert not is_correct("fill", answer, parse_chosen("fill", 0, [], "48"))
    with pytest.raises(LearningError, match="请填写"):
        parse_chosen("fill", 0, [], "   ")


async def _right_choice(viewer, qid: int, day) -> tuple[list[str], str]:
    """The form values of the right answer as the member's page shows them (options in the page's order)."""
    q = await Question.select().where(Question.id == qid).output(load_json=True).first()
    if q["kind"] == "fill":
        return [], q["answer"][0]
    if q["kind"] == "judge":
        return ["1" if q["answer"][0] else "0"], ""
    order = practice.shuffled_options(q["options"], f"{viewer.id}:{day}:{qid}")
    return [str(pos) for pos, i in enumerate(order) if i in q["answer"]], ""


async def test_daily_practice_scores_and_caps(monkeypatch) -> None:
    monkeypatch.setenv("QG_PRACTICE_PER_DAY", "3")
    viewer = await member()
    day1 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Taiyuan
    st = await practice.state(viewer, day1)
    assert (st.total, st.answered, st.points) == (3, 0, 0)
    todays = await practice.todays_questions(viewer.id, st.day)
    assert st.question["id"] == todays[0]
    # right, wrong, right
    choices, text = await _right_choice(viewer, todays[0], st.day)
    result = await practice.answer(viewer, todays[0], choices, text, day1)
    assert result["correct"] and result["question"]["explanation"] is not None and result["right_answer"]
    with pytest.raises(LearningError, match="已经答过"):  # a double submit counts once
        await practice.answer(viewer, todays[0], choices, text, day1)
    q1 = await Question.select(Question.kind, Question.options).where(Question.id == todays[1]).output(
        load_json=True).first()
    right, _t = await _right_choice(viewer, todays[1], st.day)
    if q1["kind"] == "fill":
        wrong: tuple[list[str], str] = ([], "完全不对")
    elif q1["kind"] == "judge":
        wrong = (["0" if right == ["1"] else "1"], "")
    else:
        wrong = ([next(str(p) for p in range(len(q1["options"])) if str(p) not in right)], "")
    result = await practice.answer(viewer, todays[1], *wrong, day1)
    assert not result["correct"]
    choices, text = await _right_choice(viewer, todays[2], st.day)
    await practice.answer(viewer, todays[2], choices, text, day1)
    st = await practice.state(viewer, day1)
    assert (st.answered, st.points, st.question) == (3, 2, None)  # the day's cap is reached
    # A question outside today's set scores nothing.
    other = await Question.select(Question.id).where(Question.id.not_in(todays)).first()
    with pytest.raises(LearningError, match="不在您今天的练习中"):
        await practice.answer(viewer, other["id"], ["0"], "x", day1)
    assert await PracticeAnswer.count().where(PracticeAnswer.account == viewer.id) == 3
    # The next local day is a new set.
    st = await practice.state(viewer, day1 + timedelta(days=1))
    assert (st.answered, st.points) == (0, 0) and st.question is not None


async def test_practice_is_for_verified_party_members_only() -> None:
    plain = await member(party=False)
    with pytest.raises(LearningError) as err:
        await practice.state(plain)
    assert err.value.status == 403
