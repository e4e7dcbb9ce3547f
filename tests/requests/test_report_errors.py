"""Bad input: a clear message, the form kept, nothing saved. Never a 500."""

from __future__ import annotations

import re

import pytest

from backend.requests.photos.tables import RequestPhoto as Photo
from backend.requests.tables import Event, Request
from tests.support.factories import fresh_phone
from tests.support.photos import (
    OUTSIDE_POINT,
    bomb_png,
    code_from,
    files,
    image,
    jpeg,
    report_data,
    truncated_jpeg,
)

CASES = {
    "empty description": ({"description": "   "}, (), "请描述您反映的问题"),
    "over-long description": ({"description": "长" * 2001}, (), "描述不能超过 2000 字"),
    "unknown category": ({"category": "999999"}, (), "请选择有效的诉求类别"),
    "unknown kind": ({"kind": "party"}, (), "请选择诉求类型"),
    "outside the district": ({**OUTSIDE_POINT, "community": ""}, (), "不在迎泽区范围内"),
    "no location": ({"community": ""}, (), "请使用定位，或选择所在社区"),
    "too many photos": ({}, tuple(image("JPEG", (40, 30)) for _ in range(10)), "最多上传 9 张照片"),
    "not an image": ({}, (b"%PDF-1.4 this is not a photo",), "不是支持的图片格式"),
    "gif is not accepted": ({}, (image("GIF"),), "不是支持的图片格式"),
    "truncated image": ({}, (truncated_jpeg(),), "文件不完整或已损坏"),
    "decompression bomb": ({}, (bomb_png(),), "像素尺寸过大"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_report_is_refused_and_kept(client, case: str) -> None:
    fields, blobs, message = CASES[case]
    await client.login_resident(fresh_phone())
    data = await report_data(client, description="井盖松动，有人差点摔倒")
    data.update(fields)
    r = await client.post("/report", data=data, files=files(*blobs) or None)
    assert r.status_code == 400, r.text
    assert message in r.text
    assert 'aria-invalid="true"' in r.text
    if case not in ("empty description", "over-long description"):
        assert "井盖松动，有人差点摔倒" in r.text  # what was typed is still there
    assert not await Request.exists().where(Request.idempotency_key == data["idempotency_key"])


async def test_good_photos_are_kept_when_the_form_has_another_error(client) -> None:
    await client.login_resident(fresh_phone())
    data = await report_data(client, description="")
    r = await client.post("/report", data=data, files=files(jpeg(), jpeg()))
    assert r.status_code == 400 and 'data-testid="kept-photos"' in r.text and "已保存 2 张照片" in r.text
    assert 'name="drafted" value="1"' in r.text  # the re-shown form says its photos wait in a draft
    data |= {"description": "补上描述后再提交", "drafted": "1"}
    r = await client.post("/report", data=data)
    assert r.status_code == 303
    req = await Request.objects().where(Request.idempotency_key == data["idempotency_key"]).first()
    assert await Photo.count().where(Photo.request == req.id) == 2


async def test_staff_action_errors(client, new_client) -> None:
    await client.login_resident(fresh_phone())
    data = await report_data(client)
    code = code_from((await client.post("/report", data=data)).headers["location"])
    req = await Request.objects().where(Request.code == code).first()
    n_events = await Event.count().where(Event.request == req.id)
    async with new_client() as w:
        await w.login_staff("wg_lx_1_1")
        # Not allowed in this state: resolve before accepting.
        r = await w.post(f"/staff/requests/{req.id}/resolve", data={"version": str(req.version), "note": "好了"})
        assert r.status_code == 409 and "不能办结" in r.text
        # A return needs a reason.
        r = await w.post(f"/staff/requests/{req.id}/return", data={"version": str(req.version), "note": " "})
        assert r.status_code == 400 and "退回必须填写理由" in r.text and 'aria-invalid="true"' in r.text
        # A stale version.
        r = await w.post(f"/staff/requests/{req.id}/accept", data={"version": str(req.version + 5)})
        assert r.status_code == 409 and "该诉求刚刚被他人更新" in r.text
        # No version at all.
        r = await w.post(f"/staff/requests/{req.id}/accept", data={})
        assert r.status_code == 400 and "表单已失效" in r.text
        # A bad photo with a progress note.
        r = await w.post(f"/staff/requests/{req.id}/progress", data={"version": str(req.version), "note": "已到现场"},
                         files=files(truncated_jpeg()))
        assert r.status_code == 400 and "文件不完整或已损坏" in r.text and "已到现场" in r.text
    after = await Request.objects().where(Request.id == req.id).first()
    assert after.status == "assigned" and after.version == req.version
    assert await Event.count().where(Event.request == req.id) == n_events
    assert await Photo.count().where(Photo.request == req.id) == 0


async def test_comment_without_content_is_refused(client) -> None:
    await client.login_resident(fresh_phone())
    data = await report_data(client)
    code = code_from((await client.post("/report", data=data)).headers["location"])
    r = await client.post(f"/r/{code}/comment", data={"note": ""})
    assert r.status_code == 400 and "请填写补充内容" in r.text


async def test_every_bad_field_is_marked_at_once(client) -> None:
    """The service checks a report once and answers every field error together: three bad fields, three
    marked fields, each with its own message, and nothing saved."""
    await client.login_resident(fresh_phone())
    data = await report_data(client, description="路灯不亮")
    data.update({"kind": "party", "category": "999999", "description": "长" * 2001})
    r = await client.post("/report", data=data)
    assert r.status_code == 400, r.text
    for message in ("请选择诉求类型", "请选择有效的诉求类别", "描述不能超过 2000 字（当前 2001 字）"):
        assert message in r.text
    marked = re.findall(r'data-testid="error-([\w-]+)"', r.text)
    assert sorted(marked) == ["category", "description", "kind"]  # each field marked, nothing else
    assert 'aria-describedby="kind-err"' in r.text and 'aria-describedby="description-err"' in r.text
    assert not await Request.exists().where(Request.idempotency_key == data["idempotency_key"])


async def test_every_bad_field_is_marked_in_english(client) -> None:
    """The service's messages are message ids, shown in the reader's language when the page is rendered."""
    await client.login_resident(fresh_phone())
    await client.post("/prefs", data={"lang": "en", "next": "/"})
    data = await report_data(client, description="路灯不亮")
    data.update({"kind": "party", "category": "999999", "description": "长" * 2001})
    r = await client.post("/report", data=data)
    assert r.status_code == 400, r.text
    assert "Please choose the kind of request" in r.text, r.text
    assert "Please choose a valid category" in r.text
    assert "at most 2000 characters (now 2001)" in r.text
    assert "请选择诉求类型" not in r.text and "请选择有效的诉求类别" not in r.text
    assert sorted(re.findall(r'data-testid="error-([\w-]+)"', r.text)) == ["category", "description", "kind"]
