"""Low items of issue 15: a non-author editing an unpublished wish (10), invalid UTF-8 in a multipart
text field (11)."""

from __future__ import annotations

import pytest

from backend.wishes import posting as service
from backend.wishes.tables import Wish
from tests.support.factories import fresh_phone
from tests.support.people import unit
from tests.support.wishes import published_wish, resident_viewer, wish_input

EDIT = {"title": "改掉的标题", "story": "x", "group": "disabled", "value": "1", "beneficiary_name": "甲",
        "beneficiary_phone": "13800000009", "beneficiary_address": "某地", "honorific": "male"}


@pytest.mark.parametrize("submit", [False, True])
async def test_editing_someone_elses_unpublished_wish_is_a_404(client, submit: bool) -> None:
    community = await unit("LX-1")
    author = await resident_viewer()
    wish_id = await service.create_wish(author, wish_input(community.id), submit=submit)  # draft / pending
    await client.login_resident(fresh_phone())
    r = await client.post(f"/wishes/{wish_id}/edit", data=EDIT | {"community": str(community.id)})
    assert r.status_code == 404 and "改掉的标题" not in r.text
    row = await Wish.select(Wish.title).where(Wish.id == wish_id).first()
    assert row["title"] != "改掉的标题"
    # The same answer as for a wish that does not exist at all: nothing reveals it exists.
    missing = await client.post("/wishes/999999999/edit", data=EDIT | {"community": str(community.id)})
    assert missing.status_code == 404


async def test_editing_someone_elses_published_wish_is_a_404(client) -> None:
    wish_id = await published_wish()
    await client.login_resident(fresh_phone())
    r = await client.post(f"/wishes/{wish_id}/edit", data=EDIT)
    assert r.status_code == 404


@pytest.mark.parametrize("path", ["/report", "/staff/report", "/wishes/new", "/login/code", "/logout"])
async def test_invalid_utf8_in_a_multipart_field_is_a_400(client, path: str) -> None:
    await client.csrf()
    body = (b"--x\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n\xff\xfe\xfa bad\r\n"
            b"--x\r\nContent-Disposition: form-data; name=\"_csrf_token\"\r\n\r\n"
            + client.cookies["csrftoken"].encode() + b"\r\n--x--\r\n")
    r = await client.post(path, content=body, headers={"content-type": "multipart/form-data; boundary=x",
                                                       "x-csrftoken": ""})
    assert r.status_code == 400, (path, r.status_code)
    assert "格式不正确" in r.text or "请求有误" in r.text
