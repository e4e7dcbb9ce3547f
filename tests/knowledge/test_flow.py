"""Versions and review, who may edit, expiry flags, feedback, self-served consultations, public pages."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from backend.db import utcnow
from backend.knowledge import service
from backend.knowledge.service import KbError
from backend.knowledge.tables import KbEntry, KbSearch, KbSelfServed, KbVersion
from backend.notify.service import render
from backend.notify.tables import Notification
from backend.requests.tables import Request
from tests.support.factories import unique
from tests.support.knowledge import demo_id, form, published_entry
from tests.support.people import staff, unit


async def _page_text(client, url: str) -> str:
    r = await client.get(url)
    assert r.status_code == 200, (url, r.status_code)
    return re.sub(r"<[^>]+>", " ", r.text)


async def test_draft_review_publish_and_every_edit_is_a_version(client) -> None:
    owner = await unit("LX-1")
    writer, head = await staff("haixi"), await staff("haixi_head")
    title = unique("垃圾清运时间 ")
    entry_id = await service.create_entry(writer, service.parse_entry(form(title, "每天早上七点清运。", owner.id)))
    # a draft is not public
    assert (await client.get(f"/kb/{entry_id}")).status_code == 404
    await service.submit_for_review(writer, entry_id, 1)
    with pytest.raises(KbError) as refused:  # staff may write, only the head (or the command center) publishes
        await service.review(writer, entry_id, 1, approve=True)
    assert refused.value.status == 403
    await service.review(head, entry_id, 1, approve=True)
    assert "每天早上七点清运" in await _page_text(client, f"/kb/{entry_id}")

    # An edit of a published entry is version 2, waiting; readers still see version 1.
    number = await service.edit_entry(writer, entry_id, service.parse_entry(form(title, "改为每天晚上八点清运。",
                                                                                  owner.id)), submit=True)
    assert number == 2
    assert "每天早上七点清运" in await _page_text(client, f"/kb/{entry_id}")
    with pytest.raises(KbError):  # sending back needs a reason
        await service.review(head, entry_id, 2, approve=False)
    await service.review(head, entry_id, 2, approve=False, note="时间请与环卫站核实")
    assert "每天早上七点清运" in await _page_text(client, f"/kb/{entry_id}")
    await service.edit_entry(writer, entry_id, service.parse_entry(form(title, "已核实：每天晚上八点清运。",
                                                                         owner.id)), submit=True)
    await service.review(await staff("zhzx"), entry_id, 3, approve=True)  # the command center may review too
    text = await _page_text(client, f"/kb/{entry_id}")
    assert "每天晚上八点清运" in text and "每天早上七点清运" not in text
    versions = await service.versions(entry_id)
    assert [(v["number"], v["state"]) for v in versions] == [(3, "approved"), (2, "rejected"), (1, "approved")]
    assert all(v["author_name"] == "解社工" and v["created_at"] is not None for v in versions)
    assert versions[1]["review_note"] == "时间请与环卫站核实" and versions[0]["reviewer_name"] == "王调度"
    entry = await service.get_entry(entry_id)
    assert entry["version"] == 3 and entry["status"] == "published"
    assert entry["review_by"] > utcnow().date()  # approval sets a review-by date when there was none


async def test_only_the_owner_unit_and_reviewers_edit(client, new_client) -> None:
    entry_id = await published_entry(unique("权限测试 "))
    other_community = await staff("nanhaijie")  # 南海街一社区: not the owner
    assert not service.can_edit(other_community, (await unit("LX-1")).id)
    with pytest.raises(KbError) as refused:
        await service.edit_entry(other_community, entry_id, service.parse_entry(
            form("改", "改", (await unit("LX-1")).id)))
    assert refused.value.status == 403
    assert not service.can_edit(await staff("zzb"), (await unit("LX-1")).id)  # the assessor only reads
    # over HTTP: another community's staff is refused the edit form and the edit
    await client.login_staff("nanhaijie")
    assert (await client.get(f"/kb/manage/{entry_id}/edit")).status_code == 403
    r = await client.post(f"/kb/manage/{entry_id}/edit", data=form("改", "改", (await unit("LX-1")).id))
    assert r.status_code == 403
    assert len(await service.versions(entry_id)) == 1
    r = await client.post(f"/kb/manage/{entry_id}/versions/1/review", data={"decision": "approve"})
    assert r.status_code == 403
    # residents and the anonymous never reach the staff pages
    async with new_client() as anon:
        r = await anon.get("/kb/manage")
        assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")
    async with new_client() as resident:
        await resident.login_resident("13800000001")
        assert (await resident.get("/kb/manage")).status_code == 403
        assert (await resident.post("/kb/manage/new", data=form("x", "y", 1))).status_code == 403


async def test_staff_write_over_http_and_bad_input_changes_nothing(client) -> None:
    await client.login_staff("haixi")
    owner = await unit("LX-1")
    before = await KbEntry.count()
    r = await client.post("/kb/manage/new", data=form("", "解答", owner.id, source_url="ftp://x",
                                                      expires_on="2026-02-30"))
    assert r.status_code == 400
    assert 'data-testid="error-title"' in r.text and "请填写问题" in r.text
    assert 'data-testid="error-source_url"' in r.text and 'data-testid="error-expires_on"' in r.text
    other = await unit("MQ-1")
    r = await client.post("/kb/manage/new", data=form("别的社区的条目", "x", other.id))
    assert r.status_code == 403 and "只能为本单位" in r.text
    assert await KbEntry.count() == before
    title = unique("HTTP 新建 ")
    r = await client.post("/kb/manage/new", data=form(title, "解答内容", owner.id, action="submit"))
    assert r.status_code == 303
    entry_id = int(r.headers["location"].rsplit("/", 1)[1])
    page = await client.get(f"/kb/manage/{entry_id}")
    assert page.status_code == 200 and "待审核" in page.text and title in page.text
    assert 'data-testid="kb-review-form"' not in page.text  # staff cannot review their own
    versions = await KbVersion.select().where(KbVersion.entry == entry_id)
    assert len(versions) == 1 and versions[0]["state"] == "review"


async def test_expired_or_overdue_entries_are_flagged_to_owner_and_readers(client, new_client) -> None:
    overdue = await published_entry(unique("复核过期 "), review_by=date.today() - timedelta(days=1))
    expired = await published_entry(unique("政策到期 "), expires_on=date.today() - timedelta(days=1))
    fresh = await published_entry(unique("仍然有效 "))
    for entry_id in (overdue, expired):
        text = await _page_text(client, f"/kb/{entry_id}")
        assert "此解答可能已过时" in text
    assert "此解答可能已过时" not in await _page_text(client, f"/kb/{fresh}")
    flagged = {r["id"] for r in await service.flagged_for_owner([(await unit("LX-1")).id])}
    assert {overdue, expired} <= flagged and fresh not in flagged
    async with new_client() as owner:
        await owner.login_staff("haixi")
        text = await _page_text(owner, "/kb/manage")
        assert "需要复核" in text
    # the daily job tells the owner unit's members
    await service.notify_flagged()
    haixi = await staff("haixi")
    notes = await Notification.select().where((Notification.account == haixi.id) & (Notification.kind == "kb_flagged"))
    assert notes and "需要复核" in render(notes[-1])["title"] and notes[-1]["title"] == ""  # a key, rendered when shown
    # the demo has one of each, so the flag shows on the demo site too
    assert "此解答可能已过时" in await _page_text(client, f"/kb/{await demo_id('dibao-standard')}")


async def test_public_pages_show_no_internal_fields(client) -> None:
    entry_id = await published_entry(unique("公开字段 "), keywords="内部搜索词甲乙",
                                     review_by=date.today() + timedelta(days=77))
    row = await service.get_entry(entry_id)
    r = await client.get(f"/kb/{entry_id}")
    assert r.status_code == 200
    assert "内部搜索词甲乙" not in r.text  # keywords are for search only
    assert row["owner_name"] not in r.text  # 海西社区 owns it; the page names only the public "responsible"
    assert str(row["review_by"]) not in r.text
    assert "版本" not in r.text and "审核" not in r.text
    public = await service.public_entry(entry_id)
    assert not {"owner_unit", "review_by", "keywords", "created_by", "latest_version", "from_request"} & set(public)
    # printable and shareable: the page carries its own link
    assert f"/kb/{entry_id}" in r.text and 'data-testid="kb-share"' in r.text


async def test_public_browse_search_and_helpful_counted(client) -> None:
    home = await client.get("/kb")
    assert home.status_code == 200 and "社会救助" in home.text
    cat = await client.get("/kb/c/assistance")
    assert cat.status_code == 200 and "最低生活保障（低保）怎么申请？" in cat.text
    assert (await client.get("/kb/c/nope")).status_code == 404
    # The GET that shows the results writes nothing (issue 18): no search record, no click.
    counts = await KbSearch.count()
    r = await client.get("/kb/search", params={"q": "低保怎么办"})
    assert r.status_code == 200 and await KbSearch.count() == counts
    assert 'action="/kb/search/log"' in r.text and 'action="/kb/search/unanswered"' in r.text
    first = re.search(r'href="/kb/(\d+)" data-entry="\1"', r.text)
    assert first and int(first.group(1)) == await demo_id("dibao-apply")
    entry_id = int(first.group(1))
    # The page's beacon (a POST with the CSRF token) records the search; the server runs it again.
    logged = await client.post("/kb/search/log", data={"q": "低保怎么办", "category": ""})
    assert logged.status_code == 200 and await KbSearch.count() == counts + 1
    search_id = logged.json()["s"]
    # The reader opens the first result: the click is a POST too, counted on the entry's staff page.
    clicks = (await service.click_counts([entry_id])).get(entry_id, 0)
    assert (await client.post(f"/kb/search/{search_id}/click", data={"entry": str(entry_id)})).status_code == 204
    assert (await service.click_counts([entry_id]))[entry_id] == clicks + 1
    assert (await client.post(f"/kb/search/{search_id}/click", data={"entry": "999999"})).status_code == 404
    assert (await client.post("/kb/search/999999/click", data={"entry": str(entry_id)})).status_code == 404
    assert (await client.post("/kb/search/log", data={"q": "  "})).status_code == 400
    assert await KbSearch.count() == counts + 1
    before = await service.get_entry(entry_id)
    r = await client.post(f"/kb/{entry_id}/feedback", data={"helpful": "1", "s": str(search_id)})
    assert r.status_code == 303
    after = await service.get_entry(entry_id)
    assert after["helpful_yes"] == before["helpful_yes"] + 1
    logged = await KbSearch.select().where(KbSearch.id == search_id).first()
    assert logged["clicked_entry"] == entry_id and logged["helpful"] is True and logged["good"]
    assert (await client.post(f"/kb/{entry_id}/feedback", data={"helpful": "maybe"})).status_code == 400
    assert (await client.post("/kb/999999/feedback", data={"helpful": "1"})).status_code == 404


async def test_suggestions_change_nothing_and_self_served_is_not_a_request(client) -> None:
    counts = (await KbSearch.count(), await KbSelfServed.count(), await Request.count())
    r = await client.get("/kb/suggest", params={"description": "楼下饭店油烟太大"})
    assert r.status_code == 200 and "楼下饭店油烟太大，油烟扰民怎么投诉？" in r.text and "这解答了我的问题" in r.text
    assert (await client.get("/kb/suggest", params={"description": "啊"})).text.strip() == ""
    assert (await KbSearch.count(), await KbSelfServed.count(), await Request.count()) == counts
    entry_id = await demo_id("youyan-raomin")
    served_before = await service.self_served_count()
    r = await client.post("/kb/self-served", data={"entry_id": str(entry_id), "question": "楼下饭店油烟太大"},
                          headers={"hx-request": "true"})
    assert r.status_code == 200 and r.headers["hx-redirect"] == f"/kb/{entry_id}?served=1"
    assert await service.self_served_count() == served_before + 1
    assert await Request.count() == counts[2]  # never a request, never a completion
    assert "这条解答解决了您的问题" in await _page_text(client, f"/kb/{entry_id}?served=1")
    assert (await client.post("/kb/self-served", data={"entry_id": "abc"})).status_code == 400
    assert (await client.post("/kb/self-served", data={"entry_id": "999999"})).status_code == 404
    assert await service.self_served_count() == served_before + 1


async def test_command_center_sees_unanswered_questions(client, new_client) -> None:
    question = unique("火星移民补贴") + " 怎么申请"
    for _ in range(3):  # the GET writes nothing; the page's POST records each search
        await client.get("/kb/search", params={"q": question})
        assert (await client.post("/kb/search/log", data={"q": question})).status_code == 200
    gaps = await service.gaps()
    assert any(question.split(" ")[0] in g["example"] and g["searches"] >= 3 for g in gaps)
    # 没有找到答案 (the no-script path): counted too, then on to asking the community.
    other = unique("月球养老补贴") + " 在哪办"
    r = await client.post("/kb/search/unanswered", data={"q": other, "s": ""})
    assert r.status_code == 303 and r.headers["location"] == "/report"
    assert any(other.split(" ")[0] in g["example"] and g["searches"] == 1 for g in await service.gaps())
    async with new_client() as cc:
        await cc.login_staff("zhzx")
        r = await cc.get("/kb/manage/gaps")
        assert r.status_code == 200 and question.split(" ")[0] in r.text
        assert 'data-testid="kb-self-served-count"' in r.text
    await client.login_staff("haixi")
    assert (await client.get("/kb/manage/gaps")).status_code == 403


async def test_synonym_dictionary_admin_pages(client) -> None:
    await client.login_staff("admin")
    r = await client.post("/kb/manage/synonyms", data={"terms": "只有一个词"})
    assert r.status_code == 400 and "至少填写两个" in r.text
    r = await client.post("/kb/manage/synonyms", data={"terms": unique("甲词") + "，" + unique("乙词")})
    assert r.status_code == 303
    page = await client.get("/kb/manage/synonyms")
    assert "甲词" in page.text
    group = next(g for g in await service.synonym_groups() if "甲词" in g["terms"])
    assert (await client.post(f"/kb/manage/synonyms/{group['id']}/delete")).status_code == 303
    await client.login_staff("haixi")
    assert (await client.get("/kb/manage/synonyms")).status_code == 403


async def test_self_served_has_its_own_dashboard_figure(client, new_client) -> None:
    await client.login_staff("zhzx")

    def figure(html: str) -> int:
        m = re.search(r'data-testid="kpi-kb-self-served"><span class="kpi-value">(\d+)<', html)
        assert m, "the dashboard shows the knowledge base's figure"
        return int(m.group(1))

    before = figure((await client.get("/dashboard")).text)
    requests_before = await Request.count()
    async with new_client() as resident:
        r = await resident.post("/kb/self-served", data={"entry_id": str(await demo_id("gongzufang")),
                                                         "question": "公租房怎么申请"})
        assert r.status_code == 303
    assert figure((await client.get("/dashboard")).text) == before + 1
    assert await Request.count() == requests_before


async def test_pages_in_english(client) -> None:
    client.cookies.set("lang", "en")
    r = await client.get("/kb")
    assert "Policy question" in r.text and "Social assistance" in r.text and "Browse by category" in r.text
    r = await client.get(f"/kb/{await demo_id('dibao-apply')}")
    assert "Where to go" in r.text and "Was this answer helpful?" in r.text


def test_worker_runs_the_daily_flag_notice_and_the_vocabulary_refresh() -> None:
    from workers.settings import CRON_JOBS

    names = {job.name for job in CRON_JOBS}
    assert {"cron:notify_flagged_entries", "cron:refresh_kb_terms"} <= names
