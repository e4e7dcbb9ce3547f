"""KPI definitions on hand-made histories with known answers (one fresh category per test)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from unittest.mock import patch
from urllib.parse import urlencode

from backend.ratings import service as ratings
from backend.stats import service
from backend.stats.service import Filters
from tests.support.factories import fresh_phone
from tests.support.history import History, fresh_category, hours
from tests.support.people import staff, unit

T0 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # 10:00 Beijing time, Monday 2025-03-03
NOW = T0 + timedelta(days=20)


async def build() -> dict:
    """Six requests, each showing one rule.

    A satisfied; B dissatisfied → reopened → resolved again → not rated; C withdrawn; D escalated to the
    street and basically satisfied; E still waiting; F accepted, yellow then red light, still open.
    """
    cat = await fresh_category()
    a = await History.submit(cat.id, T0)
    await a.do("accept", T0 + hours(2))
    await a.do("resolve", T0 + hours(10))
    await ratings.rate(a.id, a.reporter, "satisfied", now=T0 + hours(20))

    b = await History.submit(cat.id, T0 + hours(1), kind="complaint")
    await b.do("accept", T0 + hours(6))  # 5 h to accept
    await b.do("resolve", T0 + hours(31))
    await ratings.rate(b.id, b.reporter, "dissatisfied", now=T0 + hours(40))
    await b.do("accept", T0 + hours(45))
    await b.do("resolve", T0 + hours(61))  # last resolution 60 h after submit
    assert await ratings.auto_close(b.id, now=T0 + hours(61) + timedelta(days=8))

    c = await History.submit(cat.id, T0 + hours(2))
    await c.do("withdraw", T0 + hours(3), actor=c.reporter)

    d = await History.submit(cat.id, T0 + timedelta(days=1))
    await d.do("escalate", T0 + timedelta(days=1, hours=1))  # community → street
    await d.do("accept", T0 + timedelta(days=1, hours=4))  # 4 h to accept
    await d.do("resolve", T0 + timedelta(days=1, hours=30))  # 30 h to resolve
    await ratings.rate(d.id, d.reporter, "basic", now=T0 + timedelta(days=2, hours=10))

    e = await History.submit(cat.id, T0 + timedelta(days=2))  # waits: 18 days old at NOW

    f = await History.submit(cat.id, T0 + timedelta(days=18))  # 2 days old at NOW
    await f.light("yellow", T0 + timedelta(days=19))
    await f.light("red", T0 + timedelta(days=19, hours=1))
    await f.do("accept", T0 + timedelta(days=19, hours=2))  # 26 h to accept
    return {"cat": cat, "a": a, "b": b, "c": c, "d": d, "e": e, "f": f}


def period(cat_id: int, **kw) -> Filters:
    return Filters(start=date(2025, 3, 1), end=date(2025, 3, 31), category_id=cat_id, **kw)


async def test_every_definition_on_a_known_history() -> None:
    h = await build()
    board = await service.dashboard(period(h["cat"].id), ["/"], now=NOW)
    k = board.kpis
    assert (k.submitted, k.withdrawn, k.accepted, k.completed) == (6, 1, 5, 3)
    assert k.completion_rate == 3 / 5
    assert (k.ratings, k.ratings_good, k.ratings_bad, k.not_rated) == (3, 2, 1, 1)
    assert k.satisfaction_rate == 2 / 3  # B's "not rated" close adds nothing; its dissatisfied rating stays
    assert (k.community_solved, k.community_share) == (2, 2 / 3)  # D went to the street
    # accept times: A 2 h, B 5 h, D 4 h (after escalation), F 26 h → median (nearest rank) 4 h, p90 26 h
    assert (k.accept_median, k.accept_p90) == (4 * 3600, 26 * 3600)
    # resolve times of completed: A 10 h, B 60 h (last resolution), D 30 h
    assert (k.resolve_median, k.resolve_p90) == (30 * 3600, 60 * 3600)
    assert (k.yellow, k.red) == (1, 1)
    assert (k.reopened, k.resolved_once, k.reopen_rate) == (1, 3, 1 / 3)
    assert k.open == 2 and k.backlog["d1_3"] == 1 and k.backlog["d7_30"] == 1

    async def ids(metric: str) -> set[int]:
        return {x.id async for part in service.requests_behind(period(h["cat"].id), metric, now=NOW) for x in part}

    a, b, c, d, e, f = (h[n].id for n in "abcdef")
    assert await ids("accepted") == {a, b, d, e, f}
    assert await ids("completed") == {a, b, d}
    assert await ids("withdrawn") == {c}
    assert await ids("community") == {a, b}
    assert await ids("not_rated") == {b}
    assert await ids("reopened") == {b}
    assert await ids("red") == {f} == await ids("yellow")
    assert await ids("backlog_d7_30") == {e}
    # Slices: level (after the latest event), kind, and the trend by week.
    street = await service.dashboard(period(h["cat"].id, level="street"), ["/"], now=NOW)
    assert street.kpis.accepted == 1 and street.kpis.completed == 1
    complaints = await service.dashboard(period(h["cat"].id, kind="complaint"), ["/"], now=NOW)
    assert complaints.kpis.accepted == 1 and complaints.kpis.reopened == 1
    weekly = await service.dashboard(period(h["cat"].id, grain="week"), ["/"], now=NOW)
    by_week = {key: kp.accepted for key, kp in weekly.trend}
    assert by_week[date(2025, 3, 3)] == 4 and by_week[date(2025, 3, 17)] == 1
    assert sum(by_week.values()) == 5


async def test_unit_subtree_slice_and_unit_heads_see_their_subtree(client) -> None:
    cat = await fresh_category()
    mine = await History.submit(cat.id, T0, community="LX-1")
    other = await History.submit(cat.id, T0, community="MQ-1")
    haixi = await service.parse_filters({"start": "2025-03-01", "end": "2025-03-31", "category": str(cat.id)},
                                        (await staff("haixi_head")).scope_paths)
    assert haixi.unit_name and haixi.unit_path
    ids = {x.id for x in await service.cohort_facts(haixi)}
    assert mine.id in ids and other.id not in ids

    await client.login_staff("haixi_head")
    q = {"start": "2025-03-01", "end": "2025-03-31", "category": str(cat.id)}
    r = await client.get("/dashboard?" + urlencode(q))
    assert r.status_code == 200
    assert re.search(r'data-key="accepted">.*?data-value="1"', r.text, re.S)
    mq = await unit("MQ")
    r = await client.get("/dashboard?" + urlencode(q | {"unit": str(mq.id)}))
    assert r.status_code == 400 and "不在您的查看范围内" in r.text


async def test_dashboard_page_links_every_number_and_polls(client) -> None:
    h = await build()
    await client.login_staff("zhzx")
    q = {"start": "2025-03-01", "end": "2025-03-31", "category": str(h["cat"].id)}
    r = await client.get("/dashboard?" + urlencode(q))
    assert r.status_code == 200
    for key, value in (("accepted", "5"), ("completed", "3"), ("ratings", "3"), ("not_rated", "1"), ("red", "1")):
        assert re.search(rf'data-key="{key}">.*?data-value="{value}"', r.text, re.S), key
    assert "口径说明" in r.text and "<svg" in r.text and 'hx-trigger="every 15s"' in r.text
    links = set(re.findall(r'href="(/dashboard/requests\?[^"]+)"', r.text))
    assert links and all("metric=" in link for link in links)
    completed = next(link for link in links if "metric=completed" in link and "unit=" not in link
                     and "start=2025-03-01&amp;end=2025-03-31" in link).replace("&amp;", "&")
    listing = await client.get(completed)
    assert listing.status_code == 200
    codes = set(re.findall(r'data-code="([^"]+)"', listing.text))
    assert codes == {h["a"].code, h["b"].code, h["d"].code}
    # the trend's numbers link to their own requests too
    weekly = await client.get("/dashboard?" + urlencode(q | {"grain": "week"}))
    week = re.search(r'href="(/dashboard/requests\?start=2025-03-03&amp;end=2025-03-09[^"]*metric=accepted)"',
                     weekly.text)
    assert week, "a link per week"
    listing = await client.get(week.group(1).replace("&amp;", "&"))
    assert re.search(r'data-testid="total">4<', listing.text)
    # the htmx poll gets just the live block
    part = await client.get("/dashboard?" + urlencode(q), headers={"HX-Request": "true"})
    assert part.status_code == 200 and 'id="live"' in part.text and "<html" not in part.text


async def test_bad_filters_get_a_clear_400(client) -> None:
    await client.login_staff("zzb")
    for params, message in (
        ({"start": "2025-02-30"}, "不是有效日期"),
        ({"start": "2025-03-10", "end": "2025-03-01"}, "不能晚于"),
        ({"grain": "hour"}, "趋势粒度"),
        ({"start": "2000-01-01", "end": "2025-01-01"}, "最长"),
        ({"start": "2020-01-01", "end": "2025-01-01", "grain": "day"}, "个时间段"),
        ({"level": "planet"}, "层级"),
        ({"kind": "x"}, "类型"),
        ({"category": "abc"}, "类别"),
        ({"category": "999999"}, "不存在"),
        ({"unit": "-1"}, "单位"),
    ):
        r = await client.get("/dashboard?" + urlencode(params))
        assert r.status_code == 400 and message in r.text, params
    r = await client.get("/dashboard/requests?metric=nonsense")
    assert r.status_code == 400 and "未知的统计指标" in r.text
    r = await client.get("/dashboard/requests.csv?start=bad")
    assert r.status_code == 400


async def test_who_may_see_the_dashboard(client, new_client) -> None:
    for username, status in (("zhzx", 200), ("zzb", 200), ("admin", 200), ("haixi_head", 200),
                             ("wg_lx_1_1", 403), ("haixi", 403)):
        async with new_client() as c:
            await c.login_staff(username)
            assert (await c.get("/dashboard")).status_code == status, username
    await client.login_resident(fresh_phone())
    assert (await client.get("/dashboard")).status_code == 403
    async with new_client() as anon:
        r = await anon.get("/dashboard")
        assert r.status_code == 303


async def test_the_live_block_shows_a_change_at_the_next_poll(client) -> None:
    """Figures are cached under the newest event id: a change anywhere gives the next poll new figures."""
    cat = await fresh_category()
    await History.submit(cat.id, T0)
    await client.login_staff("zhzx")
    url = "/dashboard?" + urlencode({"start": "2025-03-01", "end": "2025-03-31", "category": str(cat.id)})
    poll = {"HX-Request": "true"}
    first = await client.get(url, headers=poll)
    assert re.search(r'data-key="accepted">.*?data-value="1"', first.text, re.S)
    assert (await client.get(url, headers=poll)).text == first.text  # nothing changed: the cached block
    second = await History.submit(cat.id, T0 + hours(1))
    await second.do("accept", T0 + hours(2))
    after = await client.get(url, headers=poll)
    assert re.search(r'data-key="accepted">.*?data-value="2"', after.text, re.S)


async def test_the_rollup_is_a_cache_of_the_events_never_a_source() -> None:
    from backend.stats import rollup
    from backend.stats.tables import StatsFact
    from workers.stats import stats_catch_up

    h = await build()
    f = period(h["cat"].id)
    await stats_catch_up({})  # the worker's job
    assert await rollup.watermark() == await service.last_event_id()
    row = await StatsFact.select().where(StatsFact.request == h["b"].id).first()
    assert (row["completed"], row["reopens"], row["not_rated"], row["resolve_secs"]) == (1, 1, 1, 60 * 3600)
    assert (await rollup.dashboard(f, ["/"], now=NOW)).kpis == (await service.dashboard(f, ["/"], now=NOW)).kpis
    # A change the worker has not seen yet is still counted (read live from the events).
    await h["f"].light("red", T0 + timedelta(days=19, hours=3))
    fast = await rollup.dashboard(f, ["/"], now=NOW)
    assert fast.kpis.red == 2 and fast.kpis == (await service.dashboard(f, ["/"], now=NOW)).kpis
    # A forged rollup row, or a forged day of the cube, cannot survive the next derivation from the events.
    await StatsFact.update({StatsFact.rated_good: 99}).where(StatsFact.request == h["a"].id)
    day = (await StatsFact.select(StatsFact.submitted_day).where(StatsFact.request == h["a"].id).first())[
        "submitted_day"]
    await StatsFact.raw("UPDATE stats_day SET ratings_good = ratings_good + 50 WHERE submitted_day = {}", day)
    await rollup.refresh([h["a"].id], await service.last_event_id())
    assert (await StatsFact.select(StatsFact.rated_good).where(StatsFact.request == h["a"].id).first())[
        "rated_good"] == 1
    await month_cube_is_its_days()  # the forged day's month was summed again from the healed day
    with patch.object(rollup, "OVERLAP", 0):  # read these requests from the rollup, not live
        await stats_catch_up({})
        whole = replace(f, category_id=None)
        # by month, March (a whole month) is read from the month cube
        for s in (f, whole, replace(f, grain="month"), replace(whole, grain="month")):
            assert (await rollup.dashboard(s, ["/"], now=NOW)).kpis == (await service.dashboard(s, ["/"], now=NOW)).kpis
    await month_cube_is_its_days()


async def month_cube_is_its_days() -> None:
    """The month cube and its histograms hold exactly the day cube's sums by month."""
    from backend.db import fetch_tuples
    from backend.stats.rollup import FACT_SUMS

    cube = ("stats_day", "stats_month", "street, community, kind, category, level",
            ", ".join(f"SUM({c})" for c in FACT_SUMS))
    for table, month_table, key, sums in (cube, ("stats_hist", "stats_month_hist", "street, metric, bucket", "SUM(n)")):
        by_days = await fetch_tuples(f"SELECT substr(submitted_day, 1, 7) || '-01' AS m, {key}, {sums} FROM {table} "
                                     f"GROUP BY m, {key} ORDER BY m, {key}")
        months = await fetch_tuples(f"SELECT submitted_day AS m, {key}, {sums} FROM {month_table} "
                                    f"GROUP BY m, {key} ORDER BY m, {key}")
        assert months == by_days, month_table
