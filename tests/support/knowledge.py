"""Shared helpers for the knowledge base tests: demo entry ids and a published entry made for one test."""

from __future__ import annotations

from datetime import date
from typing import Any

from backend.knowledge import service
from backend.knowledge.tables import KbEntry
from tests.support.people import staff, unit


async def demo_id(key: str) -> int:
    row = await KbEntry.select(KbEntry.id).where(KbEntry.demo_key == key).first()
    assert row is not None, key
    return row["id"]


def form(title: str, answer: str, owner_unit_id: int, **extra: Any) -> dict[str, str]:
    return {"title": title, "answer": answer, "category": "other", "owner_unit": str(owner_unit_id),
            **{k: str(v) for k, v in extra.items()}}


async def published_entry(title: str, answer: str = "测试解答内容。", *, review_by: date | None = None,
                          **extra: Any) -> int:
    """An entry of 海西社区 (LX-1) written by its staff and approved by its head."""
    owner = await unit("LX-1")
    writer, head = await staff("haixi"), await staff("haixi_head")
    data = service.parse_entry(form(title, answer, owner.id, review_by=review_by or "", **extra))
    assert not data.errors, data.errors
    entry_id = await service.create_entry(writer, data, submit=True)
    await service.review(head, entry_id, 1, approve=True)
    if review_by is not None:  # approval moves a past review-by date a year on; put it back for the test
        await KbEntry.update({KbEntry.review_by: review_by}).where(KbEntry.id == entry_id)
    return entry_id
