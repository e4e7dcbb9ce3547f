"""A living demo district: a year of realistic history, generated once.

Every request is made by the same services that make real ones (``submit``, ``transition``, ``rate``,
the light clocks and the explanation tasks), replayed at their historical times: events, assignments,
lights, explanations and ratings are exactly what a year of use would have left. Nothing is announced
while it is written (no arq jobs, no pushes). Idempotent: each request carries the idempotency key
``demo-h-NNNNN`` and is skipped when it exists, so a second run changes nothing (and an interrupted run
resumes). Seeded, so every machine gets the same district.

``QG_DEMO_HISTORY=N`` sets the number of requests (default 3,000; 0 skips it). ``python -m backend.cli demo``
loads the newest ``QG_DEMO_HISTORY_NOW`` of them (default 300: the last weeks, so the dashboard, the light board
and the queues are alive at once) before the site starts; the worker's ``demo_history_fill`` job makes the older
rest in the background after the site is up, newest first, with the dashboard's rollup after each chunk. Its
progress is read from the database (the requests made so far) and shown on ``/admin``. The test run does not
load it (tests/demo loads a sample).

Speed (profiled with cProfile and pg_stat_statements): about 100 statements per request, ~6 ms of them inside
PostgreSQL; the rest is the Python side of building the queries and the round trips, and the daily code's
advisory lock that serialises the submissions. Hence the split: a short synchronous part and the background.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from backend.accounts.service import Viewer, hash_password, load_viewer
from backend.accounts.tables import Account, AccountKind, Membership, Role
from backend.db import utcnow, without_side_effects, write_transaction
from backend.demo_people import DEMO_PASSWORD, demo_member, demo_staff
from backend.lights import explanations, flips
from backend.lights.tables import Explanation, ExplanationStatus
from backend.organisation.tables import Unit
from backend.ratings import service as ratings
from backend.requests import service as requests
from backend.requests.service import NewRequest, RequestError
from backend.requests.tables import Request
from backend.routing.tables import Category, CategoryDuty

log = logging.getLogger("qungong.demo")
KEY_PREFIX = "demo-h-"
DEFAULT_REQUESTS = 3000  # about 8 a day; each made by the real services (≈ 40–110 ms each)
DEFAULT_NOW = 300  # made by `cli setup` before the site starts; the rest by the worker (demo_history_fill)
CHUNK = 200  # the background job's unit of work: a rollup after each, so the dashboard grows as it goes
RESIDENTS = 300
PARTY_MEMBERS = 30
CONCURRENCY = 4  # the CLI's pool has 4 connections

# What residents write, per category code (the seed's typical complaints first).
TEXTS: dict[str, list[str]] = {
    "oil_fumes": ["楼下饭店油烟直排，家里窗户都不敢开", "烧烤店排烟管道对着居民楼", "餐馆油烟净化器长期不开"],
    "noise": ["楼上租户半夜唱歌吵闹", "夜间施工噪音扰民，凌晨还在作业", "广场舞音响太大，影响老人休息"],
    "animals": ["有人在楼顶养鸽子，楼道里放着鸽笼，气味很大", "邻居在楼道养狗，粪便无人清理", "小区流浪猫太多"],
    "manhole_pipe": ["小区门口井盖堵塞，污水外溢", "楼道水管爆裂，一直在漏水", "路边井盖破损，晚上容易踩空"],
    "public_toilet": ["公厕水箱坏了，无法冲水", "公厕没有照明，晚上无法使用", "公厕门锁损坏"],
    "street_light": ["路灯不亮，晚上很黑", "小区路灯白天一直亮着", "路灯杆倾斜，存在安全隐患"],
    "garbage": ["垃圾桶满了好几天没人清运", "楼下堆放建筑垃圾", "垃圾站异味严重"],
    "illegal_building": ["一楼住户私自扩建院墙", "楼顶搭建彩钢房", "小区绿地被圈占搭建"],
    "policy": ["想了解低保申请需要哪些材料", "老年人优待证怎么办理", "残疾人补贴的申请流程是什么"],
    "other": ["小区健身器材损坏", "建议在路口增设减速带", "希望社区多组织老年人活动"],
}
RESULTS = ["已到现场处理完毕", "已协调物业整改到位", "已联系责任单位维修完成", "已约谈当事人，问题已解决",
           "已安排清运，现场已恢复整洁", "已更换损坏设施，恢复正常使用"]
ANSWERS = ["您好，所需材料为身份证、户口本和收入证明，可到社区服务站办理。",
           "您好，可携带身份证到街道便民服务中心办理，当场出证。",
           "您好，请于工作日到社区提交申请表，我们会在 15 个工作日内答复。"]
COMMENTS = {"satisfied": ["处理很及时，谢谢", "社区工作人员很负责", "问题解决了，非常满意", ""],
            "basic": ["基本解决了，希望以后多巡查", "处理还可以，就是慢了点", ""],
            "dissatisfied": ["问题还在，没有真正解决", "只来看了一下，没处理", "过两天又坏了"]}
WISHES = [("一根助行拐杖", "disabled", 120), ("去植物园玩一次", "left_behind_child", 80),
          ("一双新运动鞋", "left_behind_child", 150), ("一台收音机", "elderly", 100),
          ("冬天的一床厚棉被", "dibao", 200), ("一套初中数学辅导书", "hardship", 90),
          ("一个电热水壶", "elderly", 60), ("一副老花镜", "elderly", 50), ("一个新书包", "dibao", 80),
          ("陪老人理一次发", "elderly", 30)]


@dataclass
class Cast:
    """The people the history needs, as viewers (loaded once)."""

    by_account: dict[int, Viewer] = field(default_factory=dict)
    heads: dict[int, Viewer] = field(default_factory=dict)  # unit id -> head
    staffed: set[int] = field(default_factory=set)  # streets and sections with someone to take a request
    dispatcher: Viewer | None = None
    admin: Viewer | None = None
    residents: list[Viewer] = field(default_factory=list)
    members: list[Viewer] = field(default_factory=list)

    async def viewer(self, account_id: int) -> Viewer:
        if account_id not in self.by_account:
            v = await load_viewer(account_id)
            assert v is not None, account_id
            self.by_account[account_id] = v
        return self.by_account[account_id]


async def _cast(complete_staff: bool) -> Cast:
    """The people of the story. ``complete_staff``: first staff every street and section and give every unit
    a head (the demo organisation names a few); otherwise the stories use only the units already staffed."""
    pw = hash_password(DEMO_PASSWORD)
    cast = Cast()
    units = await Unit.select(Unit.id, Unit.code, Unit.name, Unit.kind).where(
        Unit.kind.is_in(["street", "community", "section", "command_center"]))
    for u in units if complete_staff else []:
        code = u["code"].lower().replace("-", "_")
        unit = Unit(_ignore_missing=True, id=u["id"])
        if u["kind"] == "street":
            acc = await demo_staff(f"st_{code}", f"{u['name'][:2]}平台", "街道平台工作人员", pw)
            await demo_member(acc, unit, Role.street_staff.value, False)
        if u["kind"] == "section":
            acc = await demo_staff(f"sec_{code}", f"{u['name'][:2]}科员", f"{u['name']}科员", pw)
            await demo_member(acc, unit, Role.department_staff.value, False)
        head = await demo_staff(f"head_{code}", f"{u['name'][:2]}负责人", "单位负责人", pw)
        await demo_member(head, unit, Role.unit_head.value, False)
    for m in await Membership.select(Membership.account, Membership.unit, Membership.role).where(
            Membership.unit.is_in([u["id"] for u in units])):
        if m["role"] == Role.unit_head.value:
            cast.heads.setdefault(m["unit"], await cast.viewer(m["account"]))
        if m["role"] in (Role.street_staff.value, Role.department_staff.value):
            cast.staffed.add(m["unit"])
    zhzx = await Account.select(Account.id).where(Account.username == "zhzx").first()
    cast.dispatcher = await cast.viewer(zhzx["id"])
    admin = await Account.select(Account.id).where(Account.username == "admin").first()
    cast.admin = await cast.viewer(admin["id"])
    # Residents and party members: one INSERT for the missing, one SELECT for all (viewers built from it).
    people = [(f"1370000{i:04d}", "", False) for i in range(RESIDENTS)] + [
        (f"1371000{i:04d}", f"党员{i + 1:02d}", True) for i in range(PARTY_MEMBERS)]
    phones = [p for p, _n, _m in people]
    have = {r["phone"] for r in await Account.select(Account.phone).where(Account.phone.is_in(phones))}
    missing = [Account(kind=AccountKind.resident.value, phone=p, name=n, is_party_member=m)
               for p, n, m in people if p not in have]
    if missing:
        await Account.insert(*missing)
    await Account.update({Account.is_party_member: True}).where(
        Account.phone.is_in(phones[RESIDENTS:]) & (Account.is_party_member == False))
    rows = {r["phone"]: r for r in await Account.select(
        Account.id, Account.kind, Account.name, Account.phone, Account.username, Account.public_title,
        Account.is_party_member).where(Account.phone.is_in(phones))}
    for i, phone in enumerate(phones):
        v = Viewer(**rows[phone])
        cast.by_account[v.id] = v
        (cast.residents if i < RESIDENTS else cast.members).append(v)
    return cast


class Story:
    """One request's life, replayed in time order; stops where "now" is (recent requests stay open)."""

    def __init__(self, rng: random.Random, cast: Cast, now: datetime) -> None:
        self.rng, self.cast, self.now = rng, cast, now
        self.req: Request | None = None
        self.version = 1
        self.explained: set[int] = set()
        self.pending_red = False
        self.plan: list[tuple[datetime, int, Any]] = []  # (when, order, action) still to happen

    def h(self, lo: float, hi: float) -> timedelta:
        return timedelta(hours=self.rng.uniform(lo, hi))

    def accept_delay(self) -> timedelta:
        x = self.rng.random()  # most within hours; some yellow, a few red (the seed's 24 h / 48 h)
        return self.h(0.1, 10) if x < 0.86 else self.h(10, 24) if x < 0.95 else self.h(24, 47) if x < 0.99 \
            else self.h(48, 70)

    def resolve_delay(self) -> timedelta:
        x = self.rng.random()
        return self.h(1, 48) if x < 0.72 else self.h(48, 118) if x < 0.97 else self.h(120, 160)

    async def catch_up(self, t: datetime) -> None:
        """Everything due before ``t``, in time order: lights at their deadlines; after a red light, the
        command center's call, the head's explanation and its review."""
        assert self.req is not None
        if await flips.light_history(self.req.id, t) or self.pending_red:
            self.pending_red = True  # a red light may have opened an explanation task: follow it from now on
            await self._plan_explanations()
        while self.plan and self.plan[0][0] <= t:
            at, _n, action = self.plan.pop(0)
            await action(at)

    async def _plan_explanations(self) -> None:
        assert self.req is not None and self.cast.dispatcher is not None
        rows = await Explanation.select(Explanation.id, Explanation.unit, Explanation.created_at).where(
            (Explanation.request == self.req.id) & (Explanation.status == ExplanationStatus.open.value))
        cc = self.cast.dispatcher
        for ex in rows:
            if ex["id"] in self.explained:
                continue
            self.explained.add(ex["id"])
            lit, expl_id, head = ex["created_at"], ex["id"], self.cast.heads.get(ex["unit"])
            call_at, submit_at = lit + self.h(0.2, 2), lit + self.h(2, 30)

            async def call(at: datetime, expl_id: int = expl_id) -> None:
                await explanations.log_call(expl_id, cc, called_at=at, callee="单位负责人",
                                      outcome="已电话督办，对方承诺尽快处理", now=at)

            async def explain(at: datetime, expl_id: int = expl_id, head: Viewer | None = head) -> None:
                assert head is not None
                await explanations.submit_explanation(
                    expl_id, head, reason="近期同类诉求集中，人手不足，未能在时限内处理",
                    measures="已安排专人跟进，调整值班安排", promised_at=at + timedelta(days=2), now=at)

            async def review(at: datetime, expl_id: int = expl_id) -> None:
                await explanations.review_explanation(expl_id, cc, decision="accept", comment="", now=at)

            self.plan.append((call_at, len(self.plan), call))
            if head is not None:
                self.plan.append((submit_at, len(self.plan), explain))
                self.plan.append((submit_at + self.h(1, 20), len(self.plan), review))
        self.plan.sort(key=lambda p: (p[0], p[1]))

    async def step(self, t: datetime, action: str, actor: Viewer | None, **kw: Any) -> bool:
        """Apply ``action`` at ``t`` if ``t`` has come; False when the story stops here."""
        assert self.req is not None
        if t >= self.now:
            return False
        await self.catch_up(t)
        result = await requests.transition(self.req.id, action, actor, self.version, now=t, **kw)
        self.version = result.version
        return True

    async def lead_actor(self) -> Viewer:
        assert self.req is not None
        row = await Request.select(Request.current_person).where(Request.id == self.req.id).first()
        return await self.cast.viewer(row["current_person"])

    async def handle(self, t: datetime, answer: bool) -> datetime | None:
        """The lead accepts and resolves (or answers). Returns the resolution time, None if not yet."""
        actor = await self.lead_actor()
        if answer:
            t += self.accept_delay()
            return t if await self.step(t, "answer", actor, note=self.rng.choice(ANSWERS)) else None
        t += self.accept_delay()
        if not await self.step(t, "accept", actor):
            return None
        t += self.resolve_delay()
        return t if await self.step(t, "resolve", actor, note=self.rng.choice(RESULTS)) else None

    async def rate_or_close(self, t: datetime, reporter: Viewer, *, second: bool = False) -> None:
        assert self.req is not None
        x = self.rng.random()
        if x < 0.78:
            t += self.h(0.5, 72)
            if t >= self.now:
                return
            await self.catch_up(t)
            r = self.rng.random()
            score = "satisfied" if (second and r < 0.85) or r < 0.86 else "basic" if second or r < 0.965 \
                else "dissatisfied"
            result = await ratings.rate(self.req.id, reporter, score, self.rng.choice(COMMENTS[score]), now=t)
            self.version = (await Request.select(Request.version).where(Request.id == self.req.id).first())["version"]
            if result.action == "reopen":
                done = await self.handle(t, answer=False)
                if done is not None:
                    await self.rate_or_close(done, reporter, second=True)
            return
        t += timedelta(days=ratings.rating_days(), minutes=5)
        if t < self.now:
            await self.catch_up(t)
            await ratings.auto_close(self.req.id, now=t)

    async def begin(self, i: int, t0: datetime, communities: list[dict[str, Any]],
                    categories: list[dict[str, Any]]) -> None:
        rng = self.rng
        cat = self.category = rng.choices(categories, weights=[c["weight"] for c in categories])[0]
        self.kind = "consultation" if cat["code"] == "policy" else rng.choices(
            ["help", "complaint", "suggestion", "consultation"], weights=[55, 25, 12, 8])[0]
        community = rng.choice(communities)
        self.reporter = rng.choice(self.cast.residents)
        text = rng.choice(TEXTS.get(cat["code"], TEXTS["other"]))
        self.t0 = t0
        self.req, _created = await requests.submit(NewRequest(
            kind=self.kind, category_id=cat["id"], description=text, community_id=community["id"],
            address=f"{community['name']}{rng.randint(1, 30)}号楼", is_public=rng.random() < 0.8,
            idempotency_key=f"{KEY_PREFIX}{i:05d}"), self.reporter, now=t0)

    async def play(self, duties: dict[int, list[int]]) -> None:
        rng, cat, kind, reporter, t = self.rng, self.category, self.kind, self.reporter, self.t0
        if rng.random() < 0.02:  # withdrawn before anyone accepted it
            await self.step(t + self.h(0.1, 3), "withdraw", reporter)
            return
        path = rng.random()
        answer = kind == "consultation"
        street = (await Request.select(Request.street).where(Request.id == self.req.id).first())["street"]
        if not answer and path < 0.16 and street in self.cast.staffed:  # up to the street
            t += self.h(1, 20)
            if not await self.step(t, "escalate", await self.lead_actor(), note="涉及多户，社区协调不成"):
                return
            sections = [u for u in (duties.get(cat["id"]) or [d for ds in duties.values() for d in ds])
                        if u in self.cast.staffed]
            if path < 0.05 and sections:  # the street needs several departments: up to the command center
                t += self.h(1, 20)
                level = (await Request.select(Request.level).where(Request.id == self.req.id).first())["level"]
                # (a street-level category's first escalation already reached the district)
                if level != "district" and not await self.step(t, "escalate", await self.lead_actor(),
                                                               note="需多部门协同处理"):
                    return
                lead = rng.choice(sections)
                assists = [u for u in sections if u != lead][:1] if rng.random() < 0.3 else []
                t += self.h(0.05, 3)
                if not await self.step(t, "dispatch", self.cast.dispatcher, lead_unit_id=lead,
                                       assist_unit_ids=assists, note="请牵头单位三日内办结"):
                    return
                for assist in await _open_assists(self.req.id):
                    at = t + self.h(2, 40)
                    actor = await self.cast.viewer(assist["person"])
                    if not await self.step(at, "assist_report", actor, assignment_id=assist["id"],
                                           note="已配合完成现场处置"):
                        return
                    t = max(t, at)
        done = await self.handle(t, answer)
        if done is None:
            await self.catch_up(self.now)
            return
        await self.rate_or_close(done, reporter)
        await self.catch_up(self.now)


async def _open_assists(request_id: int) -> list[dict[str, Any]]:
    from backend.requests.tables import Assignment

    return await Assignment.select(Assignment.id, Assignment.person).where(
        (Assignment.request == request_id) & (Assignment.role == "assist") & (Assignment.is_open == True))


def _jpeg(rng: random.Random) -> bytes:
    from PIL import Image

    img = Image.new("RGB", (480, 360), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return buf.getvalue()


async def _wishes(rng: random.Random, cast: Cast, communities: list[dict[str, Any]], now: datetime) -> int:
    """Micro-wishes in every state, claimed and fulfilled by the demo party members over the year."""
    from backend.wishes import claims, posting
    from backend.wishes.checks import WishInput
    from backend.wishes.tables import Wish

    if await Wish.exists().where(Wish.title.like("%（示例）")):
        return 0
    made = 0
    plan = ["confirmed"] * 22 + ["fulfilled"] * 6 + ["contacted"] * 5 + ["claimed"] * 6 + ["published"] * 18 + \
        ["pending"] * 6 + ["rejected"] * 3 + ["draft"] * 4
    for n, goal in enumerate(plan):
        title, group, value = WISHES[n % len(WISHES)]
        community = communities[n % len(communities)]
        head = cast.heads.get(community["id"]) or cast.admin  # who verifies and confirms for the community
        owner = cast.residents[(n * 7) % len(cast.residents)]
        t = now - timedelta(days=rng.uniform(3, 330)) if goal in ("confirmed", "fulfilled") else \
            now - timedelta(days=rng.uniform(1, 40))
        data = WishInput(title=f"{title}（示例）", story="家中困难，希望得到一点帮助。", group=group, value=str(value),
                         community_id=community["id"], beneficiary_name="王秀兰", honorific="family",
                         beneficiary_phone=f"1372000{n:04d}", beneficiary_address=f"{community['name']}{n}号楼")
        wish_id = await posting.create_wish(owner, data, submit=goal != "draft", now=t)
        made += 1
        if goal in ("draft", "pending"):
            continue
        t += timedelta(hours=rng.uniform(2, 48))
        if goal == "rejected":
            await posting.reject(head, wish_id, "经核实不符合条件", now=t)
            continue
        await posting.approve(head, wish_id, now=t)
        if goal == "published":
            continue
        member = cast.members[n % len(cast.members)]
        t += timedelta(hours=rng.uniform(2, 72))
        await claims.claim(member, wish_id, now=t)
        if goal == "claimed":
            continue
        t += timedelta(hours=rng.uniform(2, 48))
        await claims.record_contact(member, wish_id, "已电话联系受助人家属，约好送达时间", now=t)
        if goal == "contacted":
            continue
        t += timedelta(days=rng.uniform(1, 6))
        await claims.fulfil(member, wish_id, "已送到受助人家中", [(_jpeg(rng), "proof.jpg")], now=t)
        if goal == "fulfilled":
            continue
        t += timedelta(hours=rng.uniform(2, 72))
        await claims.confirm(head, wish_id, thanks_story="谢谢党员同志的关心", now=t)
    return made


def history_size() -> int:
    """How many requests the demo year has (``QG_DEMO_HISTORY``)."""
    return int(os.environ.get("QG_DEMO_HISTORY", DEFAULT_REQUESTS) or 0)


def history_now() -> int:
    """How many of them (the newest) setup makes before the site starts (``QG_DEMO_HISTORY_NOW``)."""
    return int(os.environ.get("QG_DEMO_HISTORY_NOW", DEFAULT_NOW) or 0)


async def history_progress() -> dict[str, int]:
    """The demo year so far, read from the database: {"done": requests made, "total": the year's size}."""
    total = history_size()
    done = await Request.count().where(Request.idempotency_key.like(KEY_PREFIX + "%")) if total > 0 else 0
    return {"done": min(done, total), "total": total}


async def load_history(count: int | None = None, *, seed: int = 2026, now: datetime | None = None,
                       complete_staff: bool = True, limit: int | None = None) -> dict[str, int]:
    """Generate (or complete) the demo district's year, newest requests first; at most ``limit`` of the
    missing ones in this call. Returns what was added. ``complete_staff=False`` leaves the organisation as
    it is (the tests' sample: other tests rely on units nobody staffs)."""
    if count is None:
        count = history_size()
    if count <= 0:
        return {"requests": 0, "wishes": 0}
    started = time.monotonic()
    now = now or utcnow()
    rng = random.Random(seed)
    async with without_side_effects():
        cast = await _cast(complete_staff)
        communities = await Unit.select(Unit.id, Unit.name).where(Unit.kind == "community").order_by(Unit.path)
        cats = await Category.select(Category.id, Category.code).where(Category.active == True).order_by(Category.id)
        weights = {"garbage": 16, "noise": 14, "oil_fumes": 10, "animals": 6, "manhole_pipe": 10, "public_toilet": 5,
                   "street_light": 12, "illegal_building": 5, "policy": 10, "other": 12}
        for c in cats:
            c["weight"] = weights.get(c["code"], 5)
        duties: dict[int, list[int]] = {}
        for d in await CategoryDuty.select(CategoryDuty.category, CategoryDuty.unit):
            duties.setdefault(d["category"], []).append(d["unit"])
        done = {r["idempotency_key"] for r in await Request.select(Request.idempotency_key).where(
            Request.idempotency_key.like(KEY_PREFIX + "%"))}
        # Creation times over the past year, a little busier lately; each request its own seeded story.
        starts = sorted(now - timedelta(days=365 * (rng.random() ** 1.15)) for _ in range(count))
        todo = [(i, t0) for i, t0 in enumerate(starts) if f"{KEY_PREFIX}{i:05d}" not in done]
        # Newest first: a partial year (setup's part, or the background job interrupted) is the recent one,
        # which is what the dashboard's default period, the light board and the queues show.
        todo = sorted(todo, key=lambda it: it[1], reverse=True)[:limit]
        lanes = asyncio.Semaphore(CONCURRENCY)  # stories are independent: a few at once hide the round trips

        async def play(i: int, t0: datetime) -> None:
            async with lanes:
                story = Story(random.Random(seed * 100_000 + i), cast, now)
                await story.begin(i, t0, communities, cats)  # its own transaction (the daily code's lock)
                # The rest in one transaction (its steps join it): one commit, one pooled connection, and
                # no wait for the disk (a lost tail of demo history is made again by the next run).
                async with write_transaction():
                    await Request.raw("SET LOCAL synchronous_commit TO OFF")
                    try:
                        await story.play(duties)
                    except RequestError as exc:  # a rule refused a step: the story ends there, as in life
                        log.warning("demo history %d stopped: %s", i, exc.message)

        marks = [time.monotonic()]
        await asyncio.gather(*(play(i, t0) for i, t0 in todo))
        marks.append(time.monotonic())
        added = len(todo)
        made = await _wishes(rng, cast, communities, now)
        marks.append(time.monotonic())
    from backend.stats.rollup import catch_up

    try:
        await catch_up(budget_seconds=None)  # the dashboard reads the rollup at once
    except Exception:  # Redis not up yet (`scripts/run` sets up before it starts Redis): the worker's cron does it
        log.warning("demo history: the dashboard rollup is left to the worker", exc_info=True)
    marks.append(time.monotonic())
    log.info("demo history: %d requests, %d wishes in %.1f s (people %.1f, requests %.1f, wishes %.1f, "
                "rollup %.1f)", added, made, marks[-1] - started, marks[0] - started, marks[1] - marks[0],
                marks[2] - marks[1], marks[3] - marks[2])
    return {"requests": added, "wishes": made}


async def fill_history(*, complete_staff: bool = True) -> int:
    """The background part: the rest of the year, a chunk at a time (each followed by the rollup), until the
    year is complete. Only in demo mode. Idempotent, resumable: an interrupted fill continues at the next
    start. Returns the requests added."""
    from backend.settings import get_settings

    if not get_settings().demo_mode or history_size() <= 0:
        return 0
    added = 0
    while True:
        made = (await load_history(limit=CHUNK, complete_staff=complete_staff))["requests"]
        added += made
        if made == 0:
            return added
