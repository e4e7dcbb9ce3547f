"""Demo data of 村居公开: the 居务监督委员会 of two communities, and notices of 海西社区 published through
the real flow (draft → review → published), so the board, the tables and the overdue lights have content.
Idempotent: a notice is made only when its title is absent."""

from __future__ import annotations

from backend.accounts.service import hash_password, load_viewer
from backend.accounts.tables import Role
from backend.demo_people import DEMO_PASSWORD, demo_member, demo_staff
from backend.notices import attachments, drafts, duties, publishing, questions, rules
from backend.notices import cadence as cad
from backend.notices.tables import Notice, NoticeType
from backend.organisation.tables import Unit

# username, name, public title, community code
SUPERVISORS = [("haixi_jw", "何监督", "居务监督委员会主任", "LX-1"),
               ("nanhaijie_jw", "苗监督", "居务监督委员会主任", "MQ-1")]

FINANCE_CSV = """项目,收入（元）,支出（元）,说明
上级拨付办公经费,12000,,区财政
党组织服务群众经费,8000,,
办公用品,,1260.50,打印纸、墨盒
楼道照明维修,,3400,3 号楼、5 号楼
敬老慰问,,2800,重阳节慰问 28 户
"""
DIBAO_CSV = """姓名,身份证号,联系电话,住址,保障人数,月保障金额（元）
王某兰,140105195803122021,13912345678,海西小区3号楼2单元501,1,760
李某国,140105196411053318,13687654321,海西小区5号楼1单元302,2,1520
赵某芬,14010519700218402X,15034567890,海西街18号院2排6号,3,2280
"""


async def load_notices_demo() -> None:
    pw = hash_password(DEMO_PASSWORD)
    for username, name, title, code in SUPERVISORS:
        unit = await Unit.objects().where(Unit.code == code).first()
        if unit is not None:
            await demo_member(await demo_staff(username, name, title, pw), unit, Role.supervisor.value, False)
    await questions.question_category()
    haixi = await Unit.objects().where(Unit.code == "LX-1").first()
    staff = await _viewer("haixi")
    reviewer = await _viewer("haixi_jw")
    if haixi is None or staff is None or reviewer is None:
        return
    today = rules.today()
    types = {t["code"]: t for t in await NoticeType.select()}
    month = cad.last_ended("monthly", today)
    quarter = cad.last_ended("quarterly", today)
    samples = [
        ("finance", f"海西社区{month.label}财务收支公开", month.key,
         "现将本社区本月财务收支情况公开如下，如有疑问请在本页提问或到社区居务监督委员会反映。",
         [attachments.Upload(FINANCE_CSV.encode(), "财务收支明细.csv")]),
        ("dibao", f"海西社区{quarter.label}城乡低保对象公示", quarter.key,
         "根据《最低生活保障审核确认办法》，现将本季度低保对象公示如下。公示期 7 天，如有异议请向社区反映。",
         [attachments.Upload(DIBAO_CSV.encode(), "低保对象名单.csv")]),
    ]
    for code, title, period, body, uploads in samples:
        if code not in types or await Notice.exists().where((Notice.unit == haixi.id) & (Notice.title == title)):
            continue
        notice_id = await drafts.create_draft(staff, haixi.id, drafts.NoticeInput(
            type_id=types[code]["id"], title=title, body=body, period=period), uploads)
        await publishing.submit_version(staff, notice_id)
        if types[code]["needs_review"]:
            await publishing.review(reviewer, notice_id, "approve", "已核对原始凭证")
    party_title = f"海西社区党委{quarter.label}党务公开"
    if "party" in types and not await Notice.exists().where(Notice.title == party_title):
        notice_id = await drafts.create_draft(staff, haixi.id, drafts.NoticeInput(
            type_id=types["party"]["id"], title=party_title, period=quarter.key,
            body="一、发展党员情况：本季度确定入党积极分子 2 名。\n二、党费收缴：应缴 86 人，实缴 86 人。"))
        await publishing.submit_version(staff, notice_id)  # waits for the 居务监督委员会
    await duties.sweep()


async def _viewer(username: str):  # type: ignore[no-untyped-def]
    from backend.accounts.tables import Account

    acc = await Account.select(Account.id).where(Account.username == username).first()
    return await load_viewer(acc["id"]) if acc else None
