"""Public statistics show no personal data; exports open with openpyxl and match the table."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from urllib.parse import urlencode

from openpyxl import load_workbook

from backend.db import utcnow
from backend.ratings import service as ratings
from backend.stats import kpis, present, service
from backend.stats.service import Filters
from tests.stats.test_kpis import build
from tests.support.factories import fresh_phone
from tests.support.history import History, fresh_category, hours
from tests.support.people import resident


async def test_public_stats_show_figures_and_no_personal_data(client) -> None:
    cat = await fresh_category()
    phone = fresh_phone()
    secret_name, secret_phone, secret_addr = "张秘密", "13912345678", "秘密小区9号楼3单元"
    h = await History.submit(cat.id, utcnow() - hours(5), reporter=await resident(phone), contact_name=secret_name,
                             contact_phone=secret_phone, address=secret_addr)
    await h.do("accept", utcnow() - hours(4))
    await h.do("resolve", utcnow() - hours(1))
    await ratings.rate(h.id, h.reporter, "satisfied")
    private = await History.submit(cat.id, utcnow() - hours(5), is_public=False)
    await private.do("accept", utcnow() - hours(4))
    await private.do("resolve", utcnow() - hours(1))

    r = await client.get("/public/stats")  # anonymous
    assert r.status_code == 200
    assert 'data-testid="pub-accepted"' in r.text and "满意度" in r.text and "在社区层面解决" in r.text
    assert cat.name in r.text  # by category
    assert "柳巷街道" in r.text  # by street
    assert f'data-code="{h.code}"' in r.text  # recently resolved, public
    assert private.code not in r.text  # not public: not listed
    for leak in (secret_name, secret_phone, secret_addr, phone, phone[:3] + "****" + phone[-4:], "测试诉求"):
        assert leak not in r.text, leak
    accepted = int(re.search(r'data-testid="pub-accepted">(\d+)<', r.text).group(1))
    year = utcnow().astimezone(service.tz()).year
    facts = await service.cohort_facts(Filters(start=date(year, 1, 1), end=utcnow().astimezone(service.tz()).date()))
    assert accepted == kpis.compute(facts).accepted
    bad = await client.get("/public/stats?year=abc")
    assert bad.status_code == 400 and "年份" in bad.text
    home = await client.get("/")
    assert 'href="/public/stats"' in home.text


async def test_exports_open_with_openpyxl_and_match_the_table(client) -> None:
    h = await build()
    await client.login_staff("zhzx")
    q = {"start": "2025-03-01", "end": "2025-03-31", "category": str(h["cat"].id)}
    board = await service.dashboard(Filters(start=date(2025, 3, 1), end=date(2025, 3, 31),
                                            category_id=h["cat"].id), ["/"])
    expected = present.kpi_table(board.kpis)

    r = await client.get("/dashboard/kpis.xlsx?" + urlencode(q))
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(r.content), read_only=True).active
    rows = [list(row) for row in ws.iter_rows(values_only=True)]
    header = rows.index(present.KPI_HEADER)
    got = [[("" if v is None else v) for v in row] for row in rows[header + 1:]]
    assert got == expected
    by_label = {row[0]: row[1] for row in got}
    assert by_label["受理数"] == 5 and by_label["办结数"] == 3 and by_label["办结率"] == 0.6

    r = await client.get("/dashboard/kpis.csv?" + urlencode(q))
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert ["受理数", "5", "件/次"] == lines[lines.index(present.KPI_HEADER) + 1][:3]

    for metric, names in (("completed", "abd"), ("accepted", "abdef"), ("not_rated", "b")):
        codes = {h[n].code for n in names}
        r = await client.get("/dashboard/requests.xlsx?" + urlencode(q | {"metric": metric}))
        assert r.status_code == 200
        ws = load_workbook(io.BytesIO(r.content), read_only=True).active
        rows = list(ws.iter_rows(values_only=True))
        assert list(rows[0]) == present.REQUEST_HEADER
        assert {row[0] for row in rows[1:]} == codes, metric
        r = await client.get("/dashboard/requests.csv?" + urlencode(q | {"metric": metric}))
        lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert {line[0] for line in lines[1:]} == codes
    # No personal data in exports either (the reporter's phone is on the request row).
    assert h["a"].reporter.phone not in r.content.decode("utf-8-sig")


async def test_a_large_export_streams_in_chunks(client) -> None:
    """Many chunks are produced one at a time (chunked queries), not one giant body built in memory."""
    h = await build()
    f = Filters(start=date(2025, 3, 1), end=date(2025, 3, 31), category_id=h["cat"].id)
    parts = [p async for p in service.requests_behind(f, "submitted", chunk=2)]
    assert [len(p) for p in parts] == [2, 2, 2]
    chunks = [c async for c in present.csv_requests(f, "submitted", utcnow())]
    assert len(chunks) >= 2
    await client.login_staff("zhzx")
    async with client.stream("GET", "/dashboard/requests.csv?" + urlencode(
            {"start": "2025-03-01", "end": "2025-03-31", "category": str(h["cat"].id), "metric": "submitted"})) as r:
        assert r.status_code == 200 and "content-length" not in r.headers
        body = b"".join([c async for c in r.aiter_bytes()])
    assert body.decode("utf-8-sig").count("\n") == 7
