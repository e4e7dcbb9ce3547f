"""The question bank: XLSX import (all or nothing, every bad row with its line number), the template,
form validation, error reports, and that only the organisation department keeps the bank."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from backend.learning import bank
from backend.learning.common import LearningError
from backend.learning.tables import Question, QuestionReport
from tests.support.factories import unique
from tests.support.learning import member, questions, row, xlsx
from tests.support.people import staff


async def test_good_file_imports_every_type() -> None:
    tag = unique("导入")
    data = xlsx([
        row("单选", f"{tag} 单选", ["甲", "乙", "丙"], "B"),
        row("多选", f"{tag} 多选", ["甲", "乙", "丙", "丁"], "A,C,D", difficulty="难"),
        [],  # a blank line is skipped
        row("判断", f"{tag} 判断", answer="错"),
        row("填空", f"{tag} 填空", answer="二十四|24", difficulty="中"),
    ])
    report = await bank.import_xlsx(await staff("zzb"), data)
    assert report.errors == [] and report.created == 4
    got = {q["stem"]: q for q in await Question.select().where(Question.stem.like(f"{tag}%")).output(load_json=True)}
    assert got[f"{tag} 单选"]["answer"] == [1] and got[f"{tag} 单选"]["options"] == ["甲", "乙", "丙"]
    assert got[f"{tag} 多选"]["answer"] == [0, 2, 3] and got[f"{tag} 多选"]["difficulty"] == 3
    assert got[f"{tag} 判断"]["answer"] == [False] and got[f"{tag} 判断"]["options"] == []
    assert got[f"{tag} 填空"]["answer"] == ["二十四", "24"]


async def test_bad_rows_are_listed_with_line_numbers_and_nothing_is_stored() -> None:
    tag = unique("坏行")
    data = xlsx([
        row("单选", f"{tag} 好题", ["甲", "乙"], "A"),  # line 2: fine, but must not be stored either
        row("单选", f"{tag} 答案越界", ["甲", "乙"], "C"),  # line 3
        row("问答", f"{tag} 题型错"),  # line 4
        row("多选", f"{tag} 多选一个答案", ["甲", "乙", "丙"], "B"),  # line 5
        row("判断", f"{tag} 判断答案", answer="也许"),  # line 6
        row("单选", "", ["甲", "乙"], "A"),  # line 7: no stem
        row("单选", f"{tag} 好题", ["甲", "乙"], "A"),  # line 8: duplicate of line 2
        row("填空", f"{tag} 难度", answer="x", difficulty="超难"),  # line 9
    ])
    report = await bank.import_xlsx(await staff("zzb"), data)
    assert report.created == 0
    lines = {line for line, _reason in report.errors}
    assert lines == {3, 4, 5, 6, 7, 8, 9}
    reasons = dict(report.errors)
    assert "选项字母" in reasons[3] and "题型" in reasons[4] and "至少有两个" in reasons[5]
    assert "对" in reasons[6] and "题干" in reasons[7] and "第 2 行" in reasons[8] and "难度" in reasons[9]
    assert not await Question.exists().where(Question.stem.like(f"{tag}%"))


async def test_wrong_template_and_junk_files_are_refused() -> None:
    dept = await staff("zzb")
    with pytest.raises(LearningError, match="模板"):
        await bank.import_xlsx(dept, xlsx([["单选", "x"]], headers=["题目", "答案"]))
    with pytest.raises(LearningError, match="有效的 Excel"):
        await bank.import_xlsx(dept, b"PK\x03\x04 not really a zip")
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:  # a zip, but no workbook in it
        z.writestr("hello.txt", "你好")
    with pytest.raises(LearningError, match="有效的 Excel"):
        await bank.import_xlsx(dept, buf.getvalue())
    with pytest.raises(LearningError, match="请选择"):
        await bank.import_xlsx(dept, b"")
    with pytest.raises(LearningError, match="没有题目"):
        await bank.import_xlsx(dept, xlsx([]))


async def test_template_download_is_the_importable_template(client) -> None:
    await client.login_staff("zzb")
    r = await client.get("/staff/learning/template.xlsx")
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    ws = load_workbook(io.BytesIO(r.content)).worksheets[0]
    assert [c.value for c in ws[1]] == bank.TEMPLATE_HEADERS
    # Its example rows are valid (only their stems are already in the demo bank or not).
    for cells in ws.iter_rows(min_row=2, values_only=True):
        values = [bank._text(v) for v in cells]
        _v, errors = bank.validate(bank.QuestionInput(kind=values[0], category=values[1], difficulty=values[2],
                                                      stem=values[3], options=values[4:10], answer=values[10]))
        assert errors == {}, values


async def test_import_page_shows_the_bad_lines(client) -> None:
    await client.login_staff("zzb")
    tag = unique("页面")
    files = {"file": ("bank.xlsx", xlsx([row("单选", f"{tag} 好", ["甲", "乙"]), row("单选", f"{tag} 坏", ["甲"])]),
                      "application/octet-stream")}
    r = await client.post("/staff/learning/import", files=files)
    assert r.status_code == 400
    assert "第 3 行" in r.text and "没有导入任何题目" in r.text
    assert not await Question.exists().where(Question.stem.like(f"{tag}%"))
    files = {"file": ("bank.xlsx", xlsx([row("单选", f"{tag} 好", ["甲", "乙"])]), "application/octet-stream")}
    r = await client.post("/staff/learning/import", files=files)
    assert r.status_code == 200 and "已导入 1 道题目" in r.text


async def test_only_the_department_keeps_the_bank(client, new_client) -> None:
    tag = unique("权限")
    form = {"kind": "single", "category": "测试", "difficulty": "1", "stem": tag, "option0": "甲", "option1": "乙",
            "answer": "A"}
    await client.login_staff("haixi")  # community staff
    for url in ["/staff/learning", "/staff/learning/competitions/new", "/staff/learning/template.xlsx"]:
        assert (await client.get(url)).status_code == 403, url
    assert (await client.post("/staff/learning/questions", data=form)).status_code == 403
    async with new_client() as party:
        viewer = await member()
        await party.login_resident(viewer.phone)
        assert (await party.get("/staff/learning")).status_code == 403
        assert (await party.post("/staff/learning/questions", data=form)).status_code == 403
    assert not await Question.exists().where(Question.stem == tag)
    async with new_client() as dept:
        await dept.login_staff("zzb")
        bad = await dept.post("/staff/learning/questions", data=form | {"answer": "E"})
        assert bad.status_code == 400 and "选项字母" in bad.text
        ok = await dept.post("/staff/learning/questions", data=form)
        assert ok.status_code == 303
    assert await Question.exists().where(Question.stem == tag)


async def test_members_report_errors_and_the_department_reviews_them(client, new_client) -> None:
    _cat, ids = await questions(1)
    viewer = await member()
    await client.login_resident(viewer.phone)
    r = await client.post(f"/learning/questions/{ids[0]}/report", data={"reason": "选项二其实也对"})
    assert r.status_code == 303
    r = await client.post(f"/learning/questions/{ids[0]}/report", data={"reason": ""})
    assert r.status_code == 400
    async with new_client() as dept:
        await dept.login_staff("zzb")
        page = await dept.get("/staff/learning/reports")
        assert "选项二其实也对" in page.text
        rep = await QuestionReport.select(QuestionReport.id).where(QuestionReport.question == ids[0]).first()
        r = await dept.post(f"/staff/learning/reports/{rep['id']}/resolve", data={"deactivate": "1"})
        assert r.status_code == 303
        assert "选项二其实也对" not in (await dept.get("/staff/learning/reports")).text
    q = await Question.select(Question.active).where(Question.id == ids[0]).first()
    assert q["active"] is False
