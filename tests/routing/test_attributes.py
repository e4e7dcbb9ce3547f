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


async def test_a_report_reads_its_category_and_questions_once(client) -> None:
    """The form's check and the request service share one read of the category with its questions (the
    service takes the category as read); the stored request has the category's first level and the answers."""
    from unittest.mock import patch

    import asyncpg

    cat = await _animals()
    real = asyncpg.connection.Connection.fetch
    statements: list[tuple[str, tuple]] = []

    async def counted(self, query, *args, **kwargs):
        statements.append((query, args))
        return await real(self, query, *args, **kwargs)

    await client.login_resident(fresh_phone())
    data = await report_data(client, category=cat, **HAIXI_POINT)
    data |= {f"cattr-{cat}-animal": "dog", f"cattr-{cat}-effects": ["noise"]}
    with patch.object(asyncpg.connection.Connection, "fetch", counted):
        r = await client.post("/report", data=data)
    assert r.status_code == 303, r.text
    # the category's row or its questions' rows, by Piccolo or prepared
    reads = [q for q, args in statements if re.search(r'FROM "?category(_attribute)?"?\s', q) and cat in args]
    assert len(reads) == 1, reads
    req = await Request.objects().where(Request.code == code_from(r.headers["location"])).output(
        load_json=True).first()
    assert req.category == cat and req.attributes == {"animal": "dog", "effects": ["noise"]}


async def test_an_inactive_category_is_refused_without_asking_its_questions(client) -> None:
    from tests.support.history import fresh_category

    old = await fresh_category()
    await CategoryAttribute(category=old.id, code="q", datatype="string", required=True, variable=True,
                            description="还要问吗？", order=1, values=[]).save()
    await Category.update({Category.active: False}).where(Category.id == old.id)
    await client.login_resident(fresh_phone())
    before = await Request.count()
    r = await client.post("/report", data=await report_data(client, category=old.id, **HAIXI_POINT))
    assert r.status_code == 400
    assert "请选择有效的诉求类别" in r.text
    assert f'data-testid="error-cattr-{old.id}-q"' not in r.text  # a question of a category one may not choose
    assert await Request.count() == before
