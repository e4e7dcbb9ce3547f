""""My requests" a page at a time: the newest 20, then older pages by the last one shown; the rating reminder
counts every resolved request, on whatever page it is."""

from __future__ import annotations

import re

from backend.db import utcnow
from backend.routing.tables import Category
from tests.support.factories import fresh_phone
from tests.support.history import History, hours
from tests.support.people import resident


def _codes(html: str) -> list[str]:
    return re.findall(r'<a class="list-item" href="/r/([A-Z0-9]+)" data-testid="my-request">', html)


async def test_my_requests_come_twenty_at_a_time_newest_first(client) -> None:
    phone = fresh_phone()
    reporter = await resident(phone)
    cat = await Category.objects().where(Category.code == "garbage").first()
    start = utcnow() - hours(30)
    made = [await History.submit(cat.id, start + hours(i), reporter=reporter) for i in range(23)]
    oldest = made[0]
    await oldest.do("accept", start + hours(24))
    await oldest.do("resolve", start + hours(25))  # resolved, on the second page
    await client.login_resident(phone)

    first = await client.get("/my")
    assert first.status_code == 200
    assert _codes(first.text) == [h.code for h in reversed(made)][:20]
    assert "您有 1 件诉求已办结" in first.text  # counted although its row is on the next page
    older = re.search(r'href="(/my\?before=\d+)" rel="next" data-testid="my-older">更早的诉求<', first.text)
    assert older is not None and 'data-testid="my-newest"' not in first.text

    second = await client.get(older.group(1))
    assert _codes(second.text) == [h.code for h in reversed(made)][20:]
    assert f'href="/r/{oldest.code}#rate" data-testid="rate-link"' in second.text
    assert 'data-testid="my-older"' not in second.text
    assert 'href="/my" data-testid="my-newest">最新的诉求<' in second.text

    beyond = await client.get("/my", params={"before": str(made[0].id)})
    assert beyond.status_code == 200 and _codes(beyond.text) == [] and "没有更早的诉求。" in beyond.text
    for bad in ("abc", "0", "99999999999"):
        r = await client.get("/my", params={"before": bad})
        assert r.status_code == 400, bad


async def test_a_resident_sees_only_their_own_requests_on_every_page(client) -> None:
    cat = await Category.objects().where(Category.code == "garbage").first()
    other = await History.submit(cat.id, utcnow() - hours(2), reporter=await resident(fresh_phone()))
    phone = fresh_phone()
    mine = await History.submit(cat.id, utcnow() - hours(1), reporter=await resident(phone))
    await client.login_resident(phone)
    for url in ("/my", f"/my?before={mine.id + 1}", f"/my?before={other.id + 1}"):
        assert other.code not in (await client.get(url)).text
    assert _codes((await client.get("/my")).text) == [mine.code]
