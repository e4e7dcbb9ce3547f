"""Demo content for party-member learning: a bank of 50 questions (party knowledge and the district's own
policy), branches for the demo party members, one finished competition with results and one running.
Idempotent: questions are found by stem, competitions by title, members by phone."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from backend.accounts.tables import Account, AccountKind
from backend.db import fetch_tuples, utcnow, write_transaction
from backend.learning.tables import Attempt, AttemptAnswer, Competition, CompetitionQuestion, MemberBranch, Question
from backend.organisation.tables import Unit

# kind, category, difficulty (1 易 2 中 3 难), stem, options, answer (option indexes / [true|false] / accepted
# fill-ins), explanation, source: the same fields as the bank's import template.
QUESTIONS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "demo_questions.json").read_text("utf-8"))

PARTY_MEMBERS: list[tuple[str, str, str]] = [  # phone, name, branch community code
    ("13800000002", "张党员", "LX-1"), ("13800000003", "刘党员", "LX-2"),
    ("13800000011", "李红梅", "LX-1"), ("13800000012", "王建国", "LX-1"), ("13800000013", "赵秀兰", "LX-1"),
    ("13800000014", "陈志强", "LX-2"), ("13800000015", "杨桂英", "LX-2"), ("13800000016", "周明", "MQ-1"),
    ("13800000017", "吴玉珍", "MQ-1"), ("13800000018", "郑卫东", "MQ-1"), ("13800000019", "孙丽华", "WM-1"),
    ("13800000020", "马永刚", "WM-1"),
]
FINISHED_TITLE = "迎泽区“学党章、守党规”知识竞赛"
RUNNING_TITLE = "“为民服务我先行”党员学习周赛"


async def load_learning_demo() -> dict[str, int]:
    now = utcnow()
    async with write_transaction():
        existing = {r["stem"] for r in await Question.select(Question.stem)}
        new = [Question(**q) for q in QUESTIONS if q["stem"] not in existing]
        if new:
            await Question.insert(*new)
        accounts: dict[str, int] = {}
        for phone, name, code in PARTY_MEMBERS:
            acc = await Account.select(Account.id).where(Account.phone == phone).first()
            if acc is None:
                row = Account(kind=AccountKind.resident.value, phone=phone, name=name, is_party_member=True)
                await row.save()
                acc = {"id": row.id}
            accounts[phone] = acc["id"]
            unit = await Unit.select(Unit.id).where(Unit.code == code).first()
            if unit is not None and not await MemberBranch.exists().where(MemberBranch.account == acc["id"]):
                await MemberBranch(account=acc["id"], unit=unit["id"]).save()
        ids = [r[0] for r in await fetch_tuples("SELECT id FROM question ORDER BY id")]
        by_stem = {r["stem"]: r["id"] for r in await Question.select(Question.id, Question.stem)}
        party_rules = [by_stem[q["stem"]] for q in QUESTIONS if q["category"] == "党章党规"]
        rng = random.Random(20)
        if not await Competition.exists().where(Competition.title == FINISHED_TITLE):
            comp = Competition(title=FINISHED_TITLE, description="全区党员参加，党章党规专题。", scope="all",
                               starts_at=now - timedelta(days=14), ends_at=now - timedelta(days=7),
                               seconds_per_question=30, question_count=10)
            await comp.save()
            chosen = rng.sample(party_rules, 10)
            await CompetitionQuestion.insert(*[CompetitionQuestion(competition=comp.id, question=q, position=i)
                                               for i, q in enumerate(chosen)])
            await _results(comp, chosen, list(accounts.items())[2:], rng)
        if not await Competition.exists().where(Competition.title == RUNNING_TITLE):
            comp = Competition(title=RUNNING_TITLE, description="本周学习内容：党史、理论学习与本区为民服务政策。",
                               scope="all", starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=60),
                               seconds_per_question=30, question_count=10)
            await comp.save()
            chosen = rng.sample([i for i in ids if i not in party_rules], 10)
            await CompetitionQuestion.insert(*[CompetitionQuestion(competition=comp.id, question=q, position=i)
                                               for i, q in enumerate(chosen)])
            await _results(comp, chosen, list(accounts.items())[2:8], rng)
    return {"questions": await Question.count(), "competitions": await Competition.count()}


async def _results(comp: Competition, questions: list[int], members: list[tuple[str, int]],
                   rng: random.Random) -> None:
    """Finished attempts with plausible answers: the boards have something to show."""
    answers = {r["id"]: r for r in await Question.select(Question.id, Question.answer).where(
        Question.id.is_in(questions)).output(load_json=True)}
    for _phone, account_id in members:
        branch = await MemberBranch.select(MemberBranch.unit).where(MemberBranch.account == account_id).first()
        started = comp.starts_at + timedelta(hours=rng.randint(1, 20))
        att = Attempt(competition=comp.id, account=account_id, branch=branch["unit"] if branch else None,
                      seed=rng.randrange(2**62), position=len(questions), started_at=started)
        await att.save()
        score, total_ms, rows = 0, 0, []
        for pos, qid in enumerate(questions):
            correct = rng.random() < 0.75
            ms = rng.randint(4000, 25000)
            score += int(correct)
            total_ms += ms
            rows.append(AttemptAnswer(attempt=att.id, question=qid, position=pos, correct=correct, points=int(correct),
                                      chosen=answers[qid]["answer"] if correct else [], elapsed_ms=ms,
                                      answered_at=started + timedelta(milliseconds=total_ms)))
        await AttemptAnswer.insert(*rows)
        await Attempt.update({Attempt.score: score, Attempt.answered: len(questions), Attempt.time_ms: total_ms,
                              Attempt.finished_at: started + timedelta(milliseconds=total_ms)}).where(
            Attempt.id == att.id)
