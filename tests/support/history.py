"""Build request histories through the real services, with explicit timestamps."""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.accounts.service import Viewer
from backend.requests import service
from backend.requests.service import NewRequest
from backend.requests.tables import Request
from backend.routing.tables import Category
from tests.support.factories import unique
from tests.support.people import resident, staff, unit


async def fresh_category(level: str = "community") -> Category:
    """A category used by no other test: figures filtered by it are ours alone."""
    code = unique("kpi")
    cat = Category(code=code, name=f"测试类别{code[-6:]}", default_level=level, sort=999)
    await cat.save()
    return cat


class History:
    """One request moved through its life with injected times."""

    def __init__(self, req: Request, reporter: Viewer) -> None:
        self.req = req
        self.reporter = reporter
        self.id = req.id
        self.code = req.code

    @classmethod
    async def submit(cls, category_id: int, at: datetime, *, community: str = "LX-1", kind: str = "help",
                     reporter: Viewer | None = None, **kw) -> History:
        reporter = reporter or await resident()
        comm = await unit(community)
        req, _ = await service.submit(NewRequest(kind=kind, category_id=category_id, description="测试诉求",
                                                 community_id=comm.id, **kw), reporter, now=at)
        return cls(req, reporter)

    async def version(self) -> int:
        return (await Request.select(Request.version).where(Request.id == self.id).first())["version"]

    async def lead_viewer(self) -> Viewer:
        row = await Request.select(Request.current_person).where(Request.id == self.id).first()
        from backend.accounts.service import load_viewer

        viewer = await load_viewer(row["current_person"])
        assert viewer is not None
        return viewer

    async def do(self, action: str, at: datetime, actor: Viewer | None = None, **kw):
        if actor is None and action in ("accept", "resolve", "answer", "escalate"):
            actor = await self.lead_viewer()
        if action in ("resolve", "escalate", "answer"):
            kw.setdefault("note", "已处理")
        return await service.transition(self.id, action, actor, await self.version(), now=at, **kw)

    async def light(self, color: str, at: datetime, stage: str = "accept") -> int:
        return await service.record(self.id, "light", data={"stage": stage, "color": color}, now=at)


async def worker() -> Viewer:
    return await staff("wg_lx_1_1")


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
