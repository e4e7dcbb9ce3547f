"""What Piccolo's tables cannot express for maps (issue 17):

- ``request_nearby_open``: the nearby-duplicates query's index. A partial GiST index over the open public
  requests only (the predicate matches ``backend.maps.service.OPEN_SQL`` word for word, so the planner uses
  it), keyed by (category, point(lon, lat)): ``btree_gist`` lets the integer category share the GiST key,
  so "same category within a box" is answered inside the index. Geometry-free: a plain ``point`` and a
  bounding box (``<@``), the exact 250 m edge by haversine on the few candidates; no PostGIS needed, and
  unlike an ``earthdistance`` expression index it does not depend on the search_path at restore time.
- ``support_request_account``: one support per resident and request (the ON CONFLICT target).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T14:58:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "nearby index (btree_gist), one support per account"

FORWARDS = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """CREATE INDEX IF NOT EXISTS request_nearby_open ON request USING gist (category, point(lon, lat))
       WHERE is_public AND lat IS NOT NULL AND status IN ('submitted', 'assigned', 'accepted', 'returned')""",
    "CREATE UNIQUE INDEX IF NOT EXISTS support_request_account ON support (request, account)",
]
BACKWARDS = [
    "DROP INDEX IF EXISTS support_request_account",
    "DROP INDEX IF EXISTS request_nearby_open",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="maps", description=DESCRIPTION)

    async def run() -> None:
        for sql in FORWARDS:
            await engine_finder().run_ddl(sql)

    async def back() -> None:
        for sql in BACKWARDS:
            await engine_finder().run_ddl(sql)

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
