"""Messages to the official account: knowledge-base answers, and each signed request taken once (replays)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

from backend.knowledge.tables import KbEntry, KbSearch
from backend.wechat import service
from tests.wechat.test_wechat import ROOT, signed, text_message

BASE = "http://127.0.0.1:8000"


async def post(client, body: str, params: dict[str, str] | None = None):
    return await client.request("POST", "/wechat/callback", params=params or signed(), content=body.encode())


async def test_a_question_gets_the_best_published_answers_with_links(client, wechat) -> None:
    r = await post(client, text_message("请问低保怎么申请？"))
    assert r.status_code == 200, r.text
    reply = service.parse_xml(r.content)["Content"]
    entry = await KbEntry.select(KbEntry.id, KbEntry.title).where(KbEntry.demo_key == "dibao-apply").first()
    # The best answer first, linked to its public page; the report link stays.
    assert reply.startswith("为您找到以下解答：\n1. ")
    assert f'1. <a href="{BASE}/kb/{entry["id"]}">{entry["title"]}</a>' in reply
    assert f'<a href="{BASE}/report">我要反映</a>' in reply
    assert len(reply.encode()) < 2048  # WeChat's limit for a text reply
    # The question is counted like a search on the site (for the unanswered-themes list).
    logged = await KbSearch.select(KbSearch.query, KbSearch.top_entry).order_by(KbSearch.id, ascending=False).first()
    assert logged == {"query": "请问低保怎么申请？", "top_entry": entry["id"]}


async def test_no_matching_answer_gives_the_report_link(client, wechat) -> None:
    r = await post(client, text_message("火星探测器发射了吗"))
    reply = service.parse_xml(r.content)["Content"]
    assert "暂未找到相关解答" in reply and "/kb/" not in reply
    assert f'<a href="{BASE}/report">我要反映</a>' in reply


async def test_a_replayed_request_is_answered_once(client, wechat) -> None:
    params, body = signed(), text_message("低保标准是多少")
    first = await post(client, body, params)
    assert "为您找到以下解答" in service.parse_xml(first.content)["Content"]
    # The same signed query string again (a replay), with the same or with another body: nothing more.
    again = await post(client, body, params)
    assert again.status_code == 200 and again.text == "success"
    forged_body = await post(client, text_message("另一条伪造的消息"), params)
    assert forged_body.text == "success"


async def test_wechat_retrying_a_message_gets_one_answer(client, wechat) -> None:
    # WeChat retries an unanswered message with a new query string but the same MsgId.
    body = text_message("低保标准是多少", msg_id=time.time_ns())
    assert "为您找到" in (await post(client, body)).text
    assert (await post(client, body)).text == "success"


async def test_an_old_signed_request_is_refused(client, wechat) -> None:
    r = await post(client, text_message(), signed(ts=int(time.time()) - 3600))
    assert r.status_code == 403 and "stale" in r.text


async def test_the_seen_set_is_shared_by_every_process(client, wechat) -> None:
    params, body = signed(), text_message("低保怎么申请")
    assert "为您找到" in (await post(client, body, params)).text
    # Another web process (here: a separate Python process) sees the same nonce as already used.
    code = ("import asyncio\nfrom backend.wechat import messages\n"
            f"print(asyncio.run(messages.first_time({params['timestamp']!r}, {params['nonce']!r}, {{}})))")
    out = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", code], env=dict(os.environ), cwd=ROOT,
                                  capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


async def test_a_message_whose_handling_failed_may_be_retried(client, wechat) -> None:
    from backend.wechat import messages

    async def broken(*_args):
        raise RuntimeError("database away")

    body = text_message("低保怎么申请", msg_id=time.time_ns())
    working, messages.knowledge_reply = messages.knowledge_reply, broken
    try:
        r = await post(client, body)
        assert r.status_code == 500
    except RuntimeError:
        pass  # (a test client may re-raise the app's error; WeChat sees a 500 and retries)
    finally:
        messages.knowledge_reply = working
    r = await post(client, body)  # WeChat's retry: new nonce, same MsgId — answered now
    assert "为您找到以下解答" in service.parse_xml(r.content)["Content"]
