"""Review flow and versions; masking and the refusal check; permissions between communities."""

from __future__ import annotations

import pytest

from backend.notices import service
from backend.notices.attachments import Upload
from backend.notices.drafts import NoticeInput
from backend.notices.privacy import exposure_in_table, mask_value, parse_table
from backend.notices.rules import NoticeError
from backend.notices.tables import Notice, NoticeVersion
from tests.support.factories import unique
from tests.support.notices import published, type_id
from tests.support.people import staff, unit

ROSTER = "姓名,身份证号,联系电话,住址,人数\n王某兰,140105195803122021,13912345678,海西小区3号楼2单元501,1\n"


async def test_draft_review_return_and_publish() -> None:
    haixi, reviewer = await staff("haixi"), await staff("haixi_jw")
    lx1 = await unit("LX-1")
    title = unique("党务公开")
    notice_id = await service.create_draft(haixi, lx1.id, NoticeInput(
        type_id=await type_id("party"), title=title, body="发展党员 2 名", period="2026-Q3"))
    assert await service.submit_version(haixi, notice_id) == "review"
    # Staff cannot approve their own draft: only the 居务监督委员会.
    with pytest.raises(NoticeError) as exc:
        await service.review(haixi, notice_id, "approve")
    assert exc.value.status == 403
    with pytest.raises(NoticeError, match="须填写意见"):
        await service.review(reviewer, notice_id, "return", "")
    assert await service.review(reviewer, notice_id, "return", "党费数字请核对") == "returned"
    row = await Notice.select().where(Notice.id == notice_id).first()
    assert row["status"] == "draft" and row["current_version"] == 0
    await service.update_draft(haixi, notice_id, NoticeInput(
        type_id=None, title=title, body="发展党员 2 名，党费已核对", period="2026-Q3"))
    assert await service.submit_version(haixi, notice_id) == "review"
    assert await service.review(reviewer, notice_id, "approve", "同意") == "published"
    row = await Notice.select().where(Notice.id == notice_id).first()
    assert row["status"] == "published" and row["current_version"] == 1 and row["published_at"] is not None
    # Approving twice is refused (nothing in review any more).
    with pytest.raises(NoticeError):
        await service.review(reviewer, notice_id, "approve")


async def test_correction_keeps_the_old_version_visible_with_the_change() -> None:
    notice_id = await published(unique("一般事项"), body="路灯维修 3 处\n经费 1000 元")
    haixi = await staff("haixi")
    await service.start_correction(haixi, notice_id)
    with pytest.raises(NoticeError, match="已有一个"):
        await service.start_correction(haixi, notice_id)
    # While the correction is prepared, residents still read version 1.
    page = await service.notice_page(None, notice_id)
    assert page["version"]["number"] == 1 and page["open_version"] is None
    await service.update_draft(haixi, notice_id, NoticeInput(
        type_id=None, title="更正后的标题", body="路灯维修 3 处\n经费 1200 元", period="2026-Q2",
        change_note="经费金额录入错误，更正为 1200 元"))
    await service.submit_version(haixi, notice_id)
    await service.review(await staff("haixi_jw"), notice_id, "approve")
    page = await service.notice_page(None, notice_id)
    assert page["version"]["number"] == 2 and page["version"]["change_note"].startswith("经费金额")
    assert ("-", "经费 1000 元") in page["diff"] and ("+", "经费 1200 元") in page["diff"]
    old = await service.notice_page(None, notice_id, 1)
    assert old["version"]["status"] == "superseded" and "1000" in old["version"]["body"]
    statuses = [v["status"] for v in await NoticeVersion.select(NoticeVersion.status).where(
        NoticeVersion.notice == notice_id).order_by(NoticeVersion.number)]
    assert statuses == ["superseded", "published"]


def test_masking_of_marked_columns() -> None:
    table = parse_table(ROSTER.encode(), "名单.csv")
    assert table["marks"] == ["", "id", "phone", "address", ""]  # guessed from the headers
    assert mask_value("140105195803122021", "id") == "140105********2021"
    assert mask_value("13912345678", "phone") == "139****5678"
    assert mask_value("海西小区3号楼2单元501", "address") == "海西小区**"
    assert exposure_in_table(table) is None
    table["marks"] = ["", "", "phone", "address", ""]  # the ID column unmarked by mistake
    assert "身份证号" in exposure_in_table(table)
    table["marks"] = ["", "id", "", "", ""]
    assert "手机号" in exposure_in_table(table)
    # Anywhere: a mobile number hidden in a remark column is found too.
    other = parse_table("姓名,备注\n李某,联系13687654321\n".encode(), "x.csv")
    assert other["marks"] == ["", ""] and "手机号" in exposure_in_table(other)
    # Not an ID or a phone: longer digit runs (account numbers) and short numbers pass.
    assert exposure_in_table(parse_table("账号,金额\n62220200001234567890123,760\n".encode(), "x.csv")) is None


async def test_publishing_refuses_an_unmasked_id_number_and_changes_nothing() -> None:
    haixi = await staff("haixi")
    lx1 = await unit("LX-1")
    notice_id = await service.create_draft(haixi, lx1.id, NoticeInput(
        type_id=await type_id("dibao"), title=unique("低保公示"), body="名单如下", period="2026-Q3"),
        [Upload(ROSTER.encode(), "名单.csv")])
    version = await service.open_version(notice_id)
    att = (await service.attachments_of(version["id"]))[0]
    await service.update_draft(haixi, notice_id, NoticeInput(type_id=None, title=version["title"], body="名单如下",
                                                             period="2026-Q3"), marks={att["id"]: ["", "", "", "", ""]})
    with pytest.raises(NoticeError, match="身份证号") as exc:
        await service.submit_version(haixi, notice_id)
    assert exc.value.status == 422
    assert (await service.open_version(notice_id))["status"] == "draft"
    # Marked again: submitted, approved, and the published table shows masked values only.
    await service.update_draft(haixi, notice_id, NoticeInput(type_id=None, title=version["title"], body="名单如下",
                                                             period="2026-Q3"),
                               marks={att["id"]: ["", "id", "phone", "address", ""]})
    await service.submit_version(haixi, notice_id)
    await service.review(await staff("haixi_jw"), notice_id, "approve")
    page = await service.notice_page(None, notice_id)
    cells = [c for row in page["tables"][0]["shown"]["rows"] for c in row]
    assert "140105********2021" in cells and "139****5678" in cells and "140105195803122021" not in cells
    row = await Notice.select(Notice.search_text).where(Notice.id == notice_id).first()
    assert "195803122021" not in row["search_text"]  # nor can anyone search for the number


async def test_a_phone_number_in_the_body_is_refused() -> None:
    haixi = await staff("haixi")
    notice_id = await service.create_draft(haixi, (await unit("LX-1")).id, NoticeInput(
        type_id=await type_id("decisions"), title=unique("决议"), body="联系人电话 13912345678"))
    with pytest.raises(NoticeError, match="手机号"):
        await service.submit_version(haixi, notice_id)


async def test_a_community_publishes_only_its_own() -> None:
    lx1 = await unit("LX-1")
    nanhaijie, haixi = await staff("nanhaijie"), await staff("haixi")
    data = NoticeInput(type_id=await type_id("ordinary"), title=unique("一般事项"), body="x", period="2026-Q2")
    for who, where in ((nanhaijie, lx1), (await staff("liuxiang"), lx1), (await staff("wg_lx_1_1"), lx1)):
        with pytest.raises(NoticeError) as exc:
            await service.create_draft(who, where.id, data)
        assert exc.value.status == 403
    notice_id = await service.create_draft(haixi, lx1.id, data)
    with pytest.raises(NoticeError):
        await service.submit_version(nanhaijie, notice_id)
    await service.submit_version(haixi, notice_id)
    with pytest.raises(NoticeError) as exc:  # another community's 居务监督委员会 cannot approve it
        await service.review(await staff("nanhaijie_jw"), notice_id, "approve")
    assert exc.value.status == 403


async def test_other_residents_read_published_notices_but_not_drafts(client) -> None:
    notice_id = await published(unique("公开的事项"))
    draft_id = await service.create_draft(await staff("haixi"), (await unit("LX-1")).id, NoticeInput(
        type_id=await type_id("ordinary"), title=unique("草稿事项"), body="未公开", period="2026-Q2"))
    await client.login_resident("13800000001")
    assert (await client.get(f"/notices/{notice_id}")).status_code == 200
    r = await client.get(f"/notices/{draft_id}")
    assert r.status_code == 404 and "草稿事项" not in r.text
    # Staff of another community: also 404, and cannot open the edit form.
    await client.post("/logout")
    await client.login_staff("nanhaijie")
    assert (await client.get(f"/notices/{draft_id}")).status_code == 404
    assert (await client.get(f"/notices/{draft_id}/edit")).status_code == 404
    assert (await client.post(f"/notices/{draft_id}/edit", data={"title": "x"})).status_code == 404
    # The community's own staff and its 居务监督委员会 see the draft.
    for who in ("haixi", "haixi_jw"):
        await client.post("/logout")
        await client.login_staff(who)
        r = await client.get(f"/notices/{draft_id}")
        assert r.status_code == 200 and "未公开" in r.text


async def test_bad_input_is_refused_with_the_field_marked() -> None:
    haixi = await staff("haixi")
    lx1 = await unit("LX-1")
    cases = [
        (NoticeInput(type_id=None, title="x", body=""), "type"),
        (NoticeInput(type_id=await type_id("ordinary"), title="", body="", period="2026-Q2"), "title"),
        (NoticeInput(type_id=await type_id("ordinary"), title="x", body="", period=""), "period"),
        (NoticeInput(type_id=await type_id("ordinary"), title="x", body="", period="2026-11"), "period"),
        (NoticeInput(type_id=await type_id("environment"), title="x", body=""), "type"),  # a village-only type
        (NoticeInput(type_id=await type_id("decisions"), title="x", body="", valid_from="2026-12-10",
                     valid_until="2026-12-01"), "valid_until"),
    ]
    before = await Notice.count()
    for data, field in cases:
        with pytest.raises(NoticeError) as exc:
            await service.create_draft(haixi, lx1.id, data)
        assert exc.value.field == field, (data, exc.value.message)
    with pytest.raises(NoticeError) as exc:
        await service.create_draft(haixi, lx1.id, NoticeInput(type_id=await type_id("decisions"), title="x", body=""),
                                   [Upload(b"not an image at all", "a.exe")])
    assert exc.value.field == "files"
    assert await Notice.count() == before


async def test_resident_search_finds_chinese_words() -> None:
    word = unique("测试")
    notice_id = await published(f"海西社区老旧小区加装电梯项目公示{word}", code="assets",
                                body="本季度完成 3 号楼电梯加装，资金来源为专项补助。")
    lx1 = await unit("LX-1")
    for q in ("加装电梯", "电梯", "专项补助"):
        found = await service.browse(service.Browse(lx1.id, q=q))
        assert notice_id in [r["id"] for r in found["rows"]], q
    found = await service.browse(service.Browse(lx1.id, q="垃圾分类电梯不存在的词组合"))
    assert notice_id not in [r["id"] for r in found["rows"]]
    # Another community's board does not list it.
    assert notice_id not in [r["id"] for r in (await service.browse(service.Browse((await unit("MQ-1")).id,
                                                                                     q="电梯")))["rows"]]
    by_type = await service.browse(service.Browse(lx1.id, type_id=await type_id("assets")))
    assert notice_id in [r["id"] for r in by_type["rows"]]
    by_period = await service.browse(service.Browse(lx1.id, period="2026-Q2"))
    assert notice_id in [r["id"] for r in by_period["rows"]]
    other_period = await service.browse(service.Browse(lx1.id, period="2025"))
    assert notice_id not in [r["id"] for r in other_period["rows"]]


async def test_attachments_pdf_xlsx_images_and_board_photo(client) -> None:
    import io

    from openpyxl import Workbook
    from PIL import Image

    from tests.support.photos import jpeg

    wb = Workbook()
    ws = wb.active
    ws.append(["项目", "金额（元）", "经办人手机"])
    ws.append(["楼道照明维修", 3400, 13687654321])
    buf = io.BytesIO()
    wb.save(buf)
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    notice_id = await published(unique("集体资产"), code="assets", uploads=[
        Upload(buf.getvalue(), "明细.xlsx"), Upload(pdf, "合同.pdf"), Upload(jpeg(), "现场.jpg")])
    page = await service.notice_page(None, notice_id)
    table = page["tables"][0]["shown"]
    assert table["headers"] == ["项目", "金额（元）", "经办人手机"]
    assert table["rows"] == [["楼道照明维修", "3400", "136****4321"]]  # the phone column guessed and masked
    assert [a["filename"] for a in page["pdfs"]] == ["合同.pdf"] and len(page["images"]) == 1
    r = await client.get(f"/notices/files/{page['pdfs'][0]['id']}/full")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content == pdf
    r = await client.get(f"/notices/files/{page['images'][0]['id']}/thumb")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert "exif" not in Image.open(io.BytesIO(r.content)).info  # metadata stripped (GPS of the camera)
    # The board photo: staff of the community only, after publication.
    with pytest.raises(NoticeError):
        await service.add_board_photo(await staff("nanhaijie"), notice_id, Upload(jpeg(), "board.jpg"))
    await client.login_staff("haixi")
    r = await client.post(f"/notices/{notice_id}/board-photo", files={"photo": ("board.jpg", jpeg(), "image/jpeg")})
    assert r.status_code == 303
    page = await service.notice_page(None, notice_id)
    assert len(page["board"]) == 1
    html = (await client.get(f"/notices/{notice_id}")).text
    assert 'data-testid="board-photos"' in html


async def test_a_type_without_review_publishes_at_once_and_the_committee_never_handles_requests() -> None:
    from backend.routing.service import designated_person

    haixi = await staff("haixi")
    lx1 = await unit("LX-1")
    notice_id = await service.create_draft(haixi, lx1.id, NoticeInput(
        type_id=await type_id("service"), title=unique("办事指南"), body="低保申请：带身份证和户口本到社区。",
        period="2026"))
    assert await service.submit_version(haixi, notice_id) == "published"
    # A community whose only member is its 居务监督委员会: no one there is named to handle requests.
    from backend.accounts.tables import Account, AccountKind, Membership
    from backend.organisation.service import create_unit

    c = await create_unit(name=unique("社区"), kind="community", code=unique("S-"), parent_id=(await unit("LX")).id)
    acc = Account(kind=AccountKind.staff.value, username=unique("jw"), name="监委")
    await acc.save()
    await Membership(account=acc.id, unit=c.id, role="supervisor").save()
    assert await designated_person(c.id) is None
