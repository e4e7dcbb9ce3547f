"""What residents send to the official account: replay protection, knowledge-base answers, subscription events.

Replay protection. In plain mode WeChat's signature covers only (token, timestamp, nonce), not the body: whoever
saw one signed request could send any body with its query string. So a request is taken once: its timestamp
must be within ``WINDOW`` of our clock and its (timestamp, nonce) not seen before; and a message is handled once
(WeChat retries an unanswered one three times): by ``MsgId``, or for events by sender + ``CreateTime``, as
WeChat advises. Both seen-sets are in Redis, shared by every web process. A repeat is answered "success"
(WeChat's "nothing to say"): the resident hears the answer once and nothing happens twice.
"""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET

from backend.knowledge import search
from backend.knowledge import service as kb
from backend.redis import redis_client
from backend.wechat import service, subscribe

log = logging.getLogger("qungong.wechat")
WINDOW = 300  # seconds between WeChat's timestamp and our clock
MSG_TTL = 3600  # WeChat retries within seconds; an hour covers any retry
MAX_HITS = 3  # a text reply is at most 2048 bytes


def fresh(timestamp: str, now: float | None = None) -> bool:
    try:
        return abs((now or time.time()) - int(timestamp)) <= WINDOW
    except ValueError:
        return False


def _msg_key(msg: dict[str, str]) -> str:
    dedup = msg.get("MsgId") or f"{msg.get('FromUserName', '')}:{msg.get('CreateTime', '')}:{msg.get('Event', '')}"
    return f"wechat:msg:{dedup[:200]}"


async def first_time(timestamp: str, nonce: str, msg: dict[str, str]) -> bool:
    """True for the first delivery of this request and this message, False for a replay or a retry."""
    r = redis_client()
    if not await r.set(f"wechat:nonce:{timestamp}:{nonce[:64]}", "1", nx=True, ex=2 * WINDOW):
        log.info("wechat: nonce seen again, replay ignored")
        return False
    if not await r.set(_msg_key(msg), "1", nx=True, ex=MSG_TTL):
        log.info("wechat: message %s delivered again, answered once", _msg_key(msg))
        return False
    return True


async def not_handled(msg: dict[str, str]) -> None:
    """Handling failed (an error, not an answer): WeChat's retry of this message may try again."""
    await redis_client().delete(_msg_key(msg))


async def knowledge_reply(text: str, base_url: str) -> str:
    """The best published knowledge-base answers for a resident's words, with links; the report link always."""
    report = f'<a href="{base_url}/report">我要反映</a>'
    text = text.strip()
    found = await search.search(text, limit=20, coverage=True) if len(text) >= 2 else []
    # What residents ask here counts in the unanswered-themes list too (logged from this one search).
    await kb.log_search(text, hits=found if len(text) >= 2 else None)
    hits = [h for h in found if h.matched][:MAX_HITS]
    if not hits:
        return f"您好，已收到您的消息。暂未找到相关解答。要反映问题或求助，请点击 {report}，我们会尽快处理。"
    lines = [f'{i}. <a href="{base_url}/kb/{h.id}">{h.title[:40]}</a>' for i, h in enumerate(hits, 1)]
    return "为您找到以下解答：\n" + "\n".join(lines) + f"\n\n没有解决您的问题？请点击 {report}。"


async def reply_for(tree: ET.Element, base_url: str) -> str:
    """The answer to a message: a text gets knowledge-base answers, a follow the report link, a subscription
    event is recorded; anything else "success" (WeChat's "nothing to say")."""
    msg = {child.tag: (child.text or "") for child in tree}
    kind, event = msg.get("MsgType"), msg.get("Event", "")
    if kind == "event" and event.lower() == "subscribe":
        content = f'欢迎关注迎泽群工！有困难、有建议，请点击 <a href="{base_url}/report">我要反映</a>。'
    elif kind == "text":
        content = await knowledge_reply(msg.get("Content", ""), base_url)
    elif kind == "event" and event in subscribe.EVENTS:
        await subscribe.record_event(tree)
        return "success"
    else:
        return "success"
    return service.text_reply(msg.get("FromUserName", ""), msg.get("ToUserName", ""), content)
