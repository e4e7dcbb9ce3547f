"""Leaderboards: individual (score, then less time) and by party branch (average score of those who took
part, and participation rate = participants / the branch's eligible members).

The live board is computed at most once per interval for all web processes: the result is kept in Redis
with the time it was computed; whoever finds it stale takes a short Redis lock and recomputes it while the
others keep serving the previous copy.
"""

from __future__ import annotations

import io
import json
import time
from datetime import datetime

from openpyxl import Workbook

from backend.accounts.service import mask_phone
from backend.db import fetch_tuples
from backend.learning.common import now_or
from backend.learning.competition import get, status_of
from backend.learning.rows import Board, BoardBranch, BoardPerson, CompetitionRow
from backend.redis import redis_client

LIVE_SECONDS = 2.0  # how old a live board may be
TOP = 50


def _who(name: str, phone: str | None) -> str:
    return name or mask_phone(phone or "")


async def individual(competition_id: int, limit: int | None = TOP) -> list[BoardPerson]:
    rows = await fetch_tuples(
        "SELECT a.account, acc.name, acc.phone, u.name, a.score, a.answered, a.time_ms, a.finished_at IS NOT NULL "
        "FROM attempt a JOIN account acc ON acc.id = a.account LEFT JOIN unit u ON u.id = a.branch "
        "WHERE a.competition = {} ORDER BY a.score DESC, a.time_ms, a.id" + (f" LIMIT {int(limit)}" if limit else ""),
        competition_id)
    return [{"rank": i + 1, "account": r[0], "name": _who(r[1], r[2]), "branch": r[3] or "", "score": r[4],
             "answered": r[5], "seconds": round(r[6] / 1000, 1), "finished": r[7]} for i, r in enumerate(rows)]


async def branches(competition_id: int) -> list[BoardBranch]:
    rows = await fetch_tuples(
        """
        WITH comp AS (SELECT scope FROM competition WHERE id = {}),
        members AS (
            SELECT mb.unit, count(*) AS n FROM member_branch mb
            JOIN account acc ON acc.id = mb.account AND acc.is_party_member
            JOIN unit u ON u.id = mb.unit
            WHERE (SELECT scope FROM comp) = 'all' OR EXISTS (
                SELECT 1 FROM competition_unit cu JOIN unit s ON s.id = cu.unit
                WHERE cu.competition = {} AND u.path LIKE s.path || '%')
            GROUP BY mb.unit),
        parts AS (
            SELECT branch AS unit, count(*) AS p, sum(score) AS total FROM attempt
            WHERE competition = {} AND branch IS NOT NULL GROUP BY branch)
        SELECT u.id, u.name, coalesce(m.n, 0), coalesce(p.p, 0), coalesce(p.total, 0)
        FROM members m FULL JOIN parts p ON p.unit = m.unit JOIN unit u ON u.id = coalesce(m.unit, p.unit)
        """, competition_id, competition_id, competition_id)
    out: list[BoardBranch] = []
    for unit_id, name, members, participants, total in rows:
        members = max(members, participants)  # a member moved to another branch after taking part still counts
        out.append({"rank": 0, "unit": unit_id, "name": name, "members": members, "participants": participants,
                    "average": round(total / participants, 2) if participants else 0.0,
                    "rate": round(participants / members, 4) if members else 0.0})
    out.sort(key=lambda b: (-b["average"], -b["rate"], b["name"]))
    for i, b in enumerate(out):
        b["rank"] = i + 1
    return out


async def compute(competition_id: int, now: datetime | None = None) -> Board:
    comp = await get(competition_id)
    people = await individual(competition_id)
    count = await fetch_tuples("SELECT count(*) FROM attempt WHERE competition = {}", competition_id)
    return {"competition": competition_id, "status": status_of(comp, now_or(now)), "individual": people,
            "branches": await branches(competition_id), "participants": count[0][0],
            "computed_at": time.time()}


async def board(competition_id: int, now: datetime | None = None) -> Board:
    """The board as all processes share it (Redis), at most LIVE_SECONDS old while the competition runs."""
    r = redis_client()
    key = f"learning:board:{competition_id}"
    cached = await r.get(key)
    data = json.loads(cached) if cached else None
    if data is not None and (data["status"] == "finished" or time.time() - data["computed_at"] < LIVE_SECONDS):
        return data
    if data is not None and not await r.set(key + ":lock", "1", nx=True, ex=5):
        return data  # someone else is recomputing: the copy a moment old will do
    data = await compute(competition_id, now)
    await r.set(key, json.dumps(data, ensure_ascii=False), ex=3600)
    await r.delete(key + ":lock")
    return data


def export_xlsx(comp: CompetitionRow, people: list[BoardPerson], teams: list[BoardBranch]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "个人排名"
    ws.append([comp["title"]])
    ws.append(["名次", "姓名", "党支部", "得分", "已答题数", "用时（秒）", "是否完成"])
    for p in people:
        ws.append([p["rank"], p["name"], p["branch"], p["score"], p["answered"], p["seconds"],
                   "是" if p["finished"] else "否"])
    ws2 = wb.create_sheet("支部排名")
    ws2.append([comp["title"]])
    ws2.append(["名次", "党支部", "党员人数", "参赛人数", "参与率", "平均分"])
    for b in teams:
        ws2.append([b["rank"], b["name"], b["members"], b["participants"], b["rate"], b["average"]])
        ws2.cell(row=ws2.max_row, column=5).number_format = "0.0%"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
