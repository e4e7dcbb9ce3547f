"""What Piccolo cannot express: the GIN index of the Chinese full-text search (over the rjieba-segmented
text, 'simple' configuration), partial indexes of the overdue sweep, and the seed catalogue of notice
types (realistic entries an admin can change; inserted once, never overwritten)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.querystring import QueryString

ID = "2026-12-01T14:57:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search index, sweep indexes, seed catalogue"

INDEXES = {
    "notice_search_idx": "notice USING gin (to_tsvector('simple', search_text))",
    "notice_unit_published_idx": "notice (unit, published_at DESC) WHERE status = 'published'",
    "notice_duty_open_yellow_idx": "notice_duty (due_at) WHERE fulfilled_at IS NULL AND yellow_lit_at IS NULL",
    "notice_duty_open_red_idx": "notice_duty (red_at) WHERE fulfilled_at IS NULL AND red_lit_at IS NULL",
    "notice_duty_unfulfilled_idx": "notice_duty (unit, notice_type) WHERE fulfilled_at IS NULL",
}

ORGANIC_LAW = "《中华人民共和国村民委员会组织法》第三十条"
# code, name, English, level, basis, cadence, due day, grace days, publisher, needs review, sort
TYPES = [
    ("finance", "村（居）委会财务收支", "Committee revenue and expenditure", "all",
     ORGANIC_LAW + "：涉及财务的事项至少每六个月公布一次，财务收支较多的每月公布一次；城市社区参照执行居务公开。",
     "monthly", 10, 10, "村（居）民委员会", True, 10),
    ("dibao", "低保及各类补贴对象（仅公示姓名）", "Subsistence allowance and subsidy recipients (names only)", "all",
     "《社会救助暂行办法》《最低生活保障审核确认办法》：审核确认结果在申请人所在村（社区）公布，"
     "不得公开身份证号、电话等个人信息。",
     "quarterly", 20, 10, "村（居）民委员会", True, 20),
    ("assets", "集体资产和限额以上项目", "Collective assets and projects over the threshold", "all",
     ORGANIC_LAW + "：集体经济项目的立项、承包方案，集体资产处置等事项。", "quarterly", 20, 10,
     "村（居）民委员会", True, 30),
    ("decisions", "村（居）民会议及代表会议决议", "Resolutions of residents' (villagers') meetings", "all",
     ORGANIC_LAW + "：一般事项至少每季度公布一次，集体财务往来较多的，财务收支情况应当每月公布一次；"
     "涉及村民利益的重大事项应当随时公布。", "immediate", 5, 5, "村（居）民委员会", True, 40),
    ("party", "党务公开", "Party affairs", "all", "《中国共产党党务公开条例（试行）》", "quarterly", 20, 10,
     "社区（村）党组织", True, 50),
    ("service", "服务承诺和办事指南", "Service commitments and guides", "all",
     "居务公开目录：便民服务事项、办理流程和时限。", "yearly", 31, 15, "社区（村）党群服务中心", False, 60),
    ("environment", "人居环境整治项目", "Living-environment improvement projects", "village",
     "农村人居环境整治提升行动方案：项目内容、资金和进度逐项公开。", "event", 5, 5, "村民委员会", True, 70),
    ("ordinary", "村（居）务一般事项", "Ordinary affairs of the community (village)", "all",
     ORGANIC_LAW + "：一般事项至少每季度公布一次。", "quarterly", 20, 10, "村（居）民委员会", True, 80),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notices", description=DESCRIPTION)

    async def run() -> None:
        db = engine_finder()
        for name, target in INDEXES.items():
            await db.run_ddl(f"CREATE INDEX {name} ON {target}")
        for code, name, en, level, basis, cadence, due, grace, publisher, review, sort in TYPES:
            await db.run_querystring(QueryString(
                "INSERT INTO notice_type (code, name, name_en, level, basis, cadence, due_day, grace_days, publisher,"
                " needs_review, active, sort, updated_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, true, {},"
                " now()) ON CONFLICT (code) DO NOTHING",
                code, name, en, level, basis, cadence, due, grace, publisher, review, sort))

    async def back() -> None:
        for name in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
