"""The demo district: Yingze District, Taiyuan, with synthetic boundaries around 37.86 N, 112.56 E.

Idempotent: every entity is found by its code / username / phone before it is created, so
running it twice changes nothing. Used by the run command and by the tests.
"""

from __future__ import annotations

import json

from backend.accounts.service import hash_password
from backend.accounts.tables import Account, AccountKind, Membership, Role
from backend.db import write_transaction
from backend.demo_people import DEMO_PASSWORD, demo_member, demo_staff
from backend.learning.demo import load_learning_demo
from backend.notices.demo import load_notices_demo
from backend.organisation.service import create_unit
from backend.organisation.tables import Unit
from backend.routing.attributes_demo import load_demo_attributes
from backend.routing.tables import Category, CategoryDuty

# street code, name, [communities (named in the report first, then generated)]
STREETS: list[tuple[str, str, list[str]]] = [
    ("LX", "柳巷街道", ["海西社区", "柳北社区", "柳南社区", "钟楼社区"]),
    ("WM", "文庙街道", ["文庙社区", "府东社区", "起凤社区", "五一社区"]),
    ("MQ", "庙前街道", ["南海街一社区", "庙前社区", "开化寺社区", "解放社区"]),
    ("YZ", "迎泽街道", ["青年路南社区", "迎泽社区", "新建社区", "南宫社区"]),
    ("QD", "桥东街道", ["桃北一社区", "桥东社区", "坝陵社区", "朝阳社区"]),
    ("LJY", "老军营街道", ["桃南二社区", "老军营社区", "红沟社区", "南内环社区"]),
    ("HZ", "郝庄镇", ["双塔寺街二社区", "郝庄社区", "松庄社区", "剪子湾社区"]),
]
# Streets tile a 4 × 2 block of the district; communities tile a street 2 × 2; grids tile a community 2 × 2.
ORIGIN_LON, ORIGIN_LAT = 112.52, 37.845
STREET_W, STREET_H = 0.02, 0.015
GRIDS_PER_SIDE = 2

# department code, name, [(section code, section name)]
DEPARTMENTS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("CGJ", "区城管局", [("CGJ-HWK", "环卫科"), ("CGJ-SRK", "市容科"), ("CGJ-ZFDD", "执法大队")]),
    ("ZJJ", "区住建局", [("ZJJ-SZK", "市政科")]),
    ("SCJ", "区市场监管局", [("SCJ-CYK", "餐饮科")]),
    ("STJ", "区生态环境分局", [("STJ-DQK", "大气科")]),
    ("GAJ", "公安迎泽分局", [("GAJ-ZAK", "治安科")]),
    ("MZJ", "区民政局", [("MZJ-DBK", "低保科")]),
]

# code, name, english, icon, default level, duty section codes
CATEGORIES: list[tuple[str, str, str, str, str, list[str]]] = [
    ("oil_fumes", "油烟", "Oil fumes", "🍳", "community", ["SCJ-CYK", "STJ-DQK"]),
    ("noise", "噪音", "Noise", "🔊", "community", ["GAJ-ZAK"]),
    ("animals", "饲养动物", "Kept animals", "🕊", "community", ["CGJ-SRK"]),
    ("manhole_pipe", "井盖/管道", "Manhole / pipe", "🕳", "community", ["ZJJ-SZK"]),
    ("public_toilet", "公厕", "Public toilet", "🚻", "community", ["CGJ-HWK"]),
    ("street_light", "路灯", "Street light", "💡", "community", ["ZJJ-SZK"]),
    ("garbage", "垃圾", "Garbage", "🗑", "community", ["CGJ-HWK"]),
    ("illegal_building", "违建", "Illegal building", "🏗", "street", ["CGJ-ZFDD"]),
    ("policy", "政策咨询", "Policy question", "📄", "community", ["MZJ-DBK"]),
    ("other", "其他", "Other", "📝", "community", []),
]

# username, name, public title, unit code, role, designated
NAMED_STAFF: list[tuple[str, str, str, str, str, bool]] = [
    ("admin", "系统管理员", "管理员", "YZQ", Role.admin.value, False),
    ("zhzx", "王调度", "指挥中心调度员", "YZQ-ZHZX", Role.dispatcher.value, True),
    ("zhzx_head", "李主任", "指挥中心主任", "YZQ-ZHZX", Role.unit_head.value, False),
    ("zzb", "赵考核", "组织部考核员", "YZQ-ZZB", Role.assessor.value, False),
    ("liuxiang", "孙平台", "街道平台工作人员", "LX", Role.street_staff.value, True),
    ("liuxiang_head", "周主任", "街道办主任", "LX", Role.unit_head.value, False),
    ("miaoqian", "吴平台", "街道平台工作人员", "MQ", Role.street_staff.value, True),
    ("miaoqian_head", "郑主任", "街道办主任", "MQ", Role.unit_head.value, False),
    ("haixi", "解社工", "社区工作人员", "LX-1", Role.community_staff.value, True),
    ("haixi_head", "钱书记", "社区党委书记", "LX-1", Role.unit_head.value, False),
    ("nanhaijie", "冯社工", "社区工作人员", "MQ-1", Role.community_staff.value, True),
    ("hwk", "陈科员", "环卫科科员", "CGJ-HWK", Role.department_staff.value, True),
    ("hwk_head", "褚科长", "环卫科科长", "CGJ-HWK", Role.unit_head.value, False),
    ("cgj_head", "卫局长", "城管局局长", "CGJ", Role.unit_head.value, False),
]

RESIDENTS: list[tuple[str, str, bool]] = [
    ("13800000001", "安大姐", False),
    ("13800000002", "张党员", True),
    ("13800000003", "刘党员", True),
]

GRID_WORKER_NAMES = "韩鹏 张伟 王芳 李娜 刘洋 陈静 杨帆 赵磊 黄敏 周杰 吴霞 徐刚 孙丽 马超 朱琳 胡军".split()


def rect(lon: float, lat: float, w: float, h: float) -> str:
    ring = [[lon, lat], [lon + w, lat], [lon + w, lat + h], [lon, lat + h], [lon, lat]]
    return json.dumps({"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]})


async def _unit(code: str, **kwargs: object) -> Unit:
    found = await Unit.objects().where(Unit.code == code).first()
    if found is not None:
        return found
    return await create_unit(code=code, **kwargs)  # type: ignore[arg-type]


async def load_demo() -> dict[str, int]:
    """Create (or complete) the demo district. Returns counts of what exists afterwards."""
    pw = hash_password(DEMO_PASSWORD)
    async with write_transaction():
        district = await _unit("YZQ", name="迎泽区", kind="district", name_en="Yingze District",
                               boundary=rect(ORIGIN_LON, ORIGIN_LAT, STREET_W * 4, STREET_H * 2))
        await _unit("YZQ-ZHZX", name="区级指挥中心", kind="command_center", parent_id=district.id, sort=0)
        await _unit("YZQ-ZZB", name="区委组织部", kind="office", parent_id=district.id, sort=1)
        grid_no = 0
        for i, (scode, sname, communities) in enumerate(STREETS):
            slon = ORIGIN_LON + (i % 4) * STREET_W
            slat = ORIGIN_LAT + (i // 4) * STREET_H
            street = await _unit(scode, name=sname, kind="street", parent_id=district.id, sort=10 + i,
                                 boundary=rect(slon, slat, STREET_W, STREET_H))
            cw, ch = STREET_W / 2, STREET_H / 2
            for j, cname in enumerate(communities):
                clon, clat = slon + (j % 2) * cw, slat + (j // 2) * ch
                community = await _unit(f"{scode}-{j + 1}", name=cname, kind="community", parent_id=street.id,
                                        sort=j, boundary=rect(clon, clat, cw, ch))
                gw, gh = cw / GRIDS_PER_SIDE, ch / GRIDS_PER_SIDE
                for k in range(GRIDS_PER_SIDE * GRIDS_PER_SIDE):
                    gcode = f"{scode}-{j + 1}-{k + 1}"
                    grid = await _unit(gcode, name=f"{cname}第{k + 1}网格", kind="grid", parent_id=community.id,
                                       sort=k, boundary=rect(clon + (k % GRIDS_PER_SIDE) * gw,
                                                             clat + (k // GRIDS_PER_SIDE) * gh, gw, gh))
                    worker_name = GRID_WORKER_NAMES[grid_no % len(GRID_WORKER_NAMES)]
                    grid_no += 1
                    worker = await demo_staff(f"wg_{gcode.lower().replace('-', '_')}", worker_name, "网格员", pw)
                    await demo_member(worker, grid, Role.grid_worker.value, True)
        for d, (dcode, dname, sections) in enumerate(DEPARTMENTS):
            dept = await _unit(dcode, name=dname, kind="department", parent_id=district.id, sort=100 + d)
            for s, (sec_code, sec_name) in enumerate(sections):
                await _unit(sec_code, name=sec_name, kind="section", parent_id=dept.id, sort=s)
        for username, name, title, unit_code, role, designated in NAMED_STAFF:
            unit = await Unit.objects().where(Unit.code == unit_code).first()
            assert unit is not None, unit_code
            acc = await demo_staff(username, name, title, pw)
            await demo_member(acc, unit, role, designated)
        for sort, (code, name, name_en, icon, level, duties) in enumerate(CATEGORIES):
            cat = await Category.objects().where(Category.code == code).first()
            if cat is None:
                cat = Category(code=code, name=name, name_en=name_en, icon=icon, default_level=level, sort=sort)
                await cat.save()
                for duty in duties:
                    unit = await Unit.objects().where(Unit.code == duty).first()
                    assert unit is not None, duty
                    await CategoryDuty(category=cat.id, unit=unit.id).save()
        for phone, name, party in RESIDENTS:
            if not await Account.exists().where(Account.phone == phone):
                await Account(kind=AccountKind.resident.value, phone=phone, name=name, is_party_member=party).save()
        await load_demo_attributes()  # the categories' extra questions (Open311 service definitions)
    from backend.knowledge.demo import load_demo_knowledge  # policy Q&A demo entries (issue 18)

    await load_demo_knowledge()
    await load_notices_demo()  # 村居公开: supervisors, sample notices of 海西社区, the overdue sweep
    await load_learning_demo()  # party-member learning: the question bank, branches, competitions
    return {
        "units": await Unit.count(),
        "accounts": await Account.count(),
        "memberships": await Membership.count(),
        "categories": await Category.count(),
    }


DEMO_LOGINS: list[tuple[str, str, str]] = [
    ("居民 resident", "手机 13800000001", "验证码显示在页面上 (demo code shown on the page)"),
    ("党员 party member", "手机 13800000002", "验证码显示在页面上"),
    ("网格员 grid worker (海西社区第1网格)", "wg_lx_1_1", DEMO_PASSWORD),
    ("社区工作人员 community staff (海西社区)", "haixi", DEMO_PASSWORD),
    ("街道工作人员 street staff (柳巷街道)", "liuxiang", DEMO_PASSWORD),
    ("指挥中心调度员 dispatcher", "zhzx", DEMO_PASSWORD),
    ("部门工作人员 department staff (区城管局环卫科)", "hwk", DEMO_PASSWORD),
    ("单位负责人 unit head (海西社区)", "haixi_head", DEMO_PASSWORD),
    ("居务监督委员会 supervision committee (海西社区)", "haixi_jw", DEMO_PASSWORD),
    ("考核人员 assessor (区委组织部)", "zzb", DEMO_PASSWORD),
    ("管理员 admin", "admin", DEMO_PASSWORD),
]
