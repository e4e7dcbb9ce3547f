"""Per-category extra questions: managed by admins, asked and stored by the report form, shown to staff."""

from __future__ import annotations

import re

from backend.requests.tables import Request
from backend.routing.tables import Category, CategoryAttribute
from tests.support.factories import fresh_phone, unique
from tests.support.photos import HAIXI_POINT, code_from, report_data


async def _animals() -> int:
    row = await Category.select(Category.id).where(Category.code == "animals").first()
    return row["id"]


async def test_report_form_shows_the_questions_and_marks_bad_answers(client) -> None:
    cat = await _animals()
    r = await client.get("/report")
    assert f'data-category-attributes="{cat}"' in r.text and "饲养的是什么动物？" in r.text
    assert f'name="cattr-{cat}-effects" value="droppings"' in r.text
    await client.login_resident(fresh_phone())
    before = await Request.count()
    data = await report_data(client, category=cat, **HAIXI_POINT)
    data[f"cattr-{cat}-effects"] = ["smell", "fire"]  # "fire" is not an option; the required question is unanswered
    r = await client.post("/report", data=data)
    assert r.status_code == 400
    assert re.search(rf'data-testid="error-cattr-{cat}-animal">请填写「饲养的是什么动物？」', r.text)
    assert f'data-testid="error-cattr-{cat}-effects"' in r.text and "fire" in r.text
    assert 'value="smell" checked' in r.text  # what was chosen stays chosen
    assert await Request.count() == before


async def test_answers_are_stored_and_shown_to_staff_and_resident(client, new_client) -> None:
    cat = await _animals()
    await client.login_resident(fresh_phone())
    data = await report_data(client, category=cat, **HAIXI_POINT)
    data |= {f"cattr-{cat}-animal": "cat", f"cattr-{cat}-effects": ["smell", "noise"],
             f"cattr-{cat}-place": "楼顶鸽笼", "cattr-999999-x": "ignored"}
    r = await client.post("/report", data=data)
    assert r.status_code == 303, r.text
    code = code_from(r.headers["location"])
    req = await Request.objects().where(Request.code == code).output(load_json=True).first()
    assert req.attributes == {"animal": "cat", "effects": ["smell", "noise"], "place": "楼顶鸽笼"}
    mine = await client.get(f"/r/{code}")
    assert "猫" in mine.text and "气味、噪音" in mine.text
    async with new_client() as w:
        await w.login_staff("wg_lx_1_1")
        page = await w.get(f"/staff/requests/{req.id}")
        assert 'data-testid="attribute-answers"' in page.text and "楼顶鸽笼" in page.text


async def test_other_categories_ignore_the_questions(client) -> None:
    await client.login_resident(fresh_phone())
    data = await report_data(client, **HAIXI_POINT)  # garbage: no questions
    r = await client.post("/report", data=data)
    assert r.status_code == 303


async def test_admin_adds_and_removes_a_question(client) -> None:
    await client.login_staff("admin")
    cat = await Category.select(Category.id).where(Category.code == "street_light").first()
    url = f"/admin/categories/{cat['id']}/attributes"
    assert (await client.get(url)).status_code == 200
    r = await client.post(url, data={"code": "bad code!", "datatype": "singlevaluelist", "description": "",
                                      "values": "", "order": "0"})
    assert r.status_code == 400
    for field in ("code", "description", "values", "order"):
        assert f'data-testid="error-{field}"' in r.text, field
    code = unique("pole_")
    r = await client.post(url, data={"code": code, "datatype": "singlevaluelist", "description": "灯杆编号颜色？",
                                      "values": "red=红色=Red\nblue=蓝色", "order": "2", "required": "1"})
    assert r.status_code == 303
    row = await CategoryAttribute.objects().where(CategoryAttribute.code == code).output(load_json=True).first()
    assert row.required and row.values == [{"key": "red", "name": "红色", "name_en": "Red"},
                                           {"key": "blue", "name": "蓝色"}]
    page = await client.get(url)
    assert code in page.text and "灯杆编号颜色？" in page.text
    r = await client.post(f"{url}/{row.id}/delete")
    assert r.status_code == 303 and not await CategoryAttribute.exists().where(CategoryAttribute.id == row.id)
    # Residents and other staff may not.
    async with client.__class__(transport=client._transport, base_url="http://testserver") as other:
        await other.login_staff("haixi")
        assert (await other.get(url)).status_code == 403
