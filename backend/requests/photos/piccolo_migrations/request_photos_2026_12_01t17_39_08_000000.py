"""Move the links of photos to request events carried over from media's ``photo`` table into ``request_photo``.

Ids of photos do not change, so every ``/media/{id}/…`` address stays the same.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T17:39:08:000000"
VERSION = "1.38.0"
DESCRIPTION = "request_photo: the links carried over from photo"

MOVE = """
DO $$ BEGIN
  IF to_regclass('photo_request_carry') IS NOT NULL THEN
    INSERT INTO request_photo (photo, request, event)
      SELECT photo, request, event FROM photo_request_carry ORDER BY photo;
    DROP TABLE photo_request_carry;
  END IF;
END $$
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="request_photos", description=DESCRIPTION)

    async def move() -> None:
        await engine_finder().run_ddl(MOVE)

    manager.add_raw(move)
    return manager
