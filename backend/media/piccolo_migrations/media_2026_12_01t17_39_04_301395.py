"""Photos belong to their owners: the link to a request's event moves to ``request_photo`` (app request_photos).

The links are carried over in ``photo_request_carry`` (raw SQL runs before the columns are dropped); the
request_photos app's second migration moves them into ``request_photo`` and drops the carrier. No row is lost.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T17:39:04:301395"
VERSION = "1.38.0"
DESCRIPTION = "photo: the request and event columns move to request_photo"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="media", description=DESCRIPTION
    )

    async def carry() -> None:
        await engine_finder().run_ddl(
            "CREATE TABLE IF NOT EXISTS photo_request_carry AS "
            "SELECT id AS photo, request, event FROM photo WHERE request IS NOT NULL")

    manager.add_raw(carry)

    manager.drop_column(
        table_class_name="Photo",
        tablename="photo",
        column_name="event",
        db_column_name="event",
        schema=None,
    )

    manager.drop_column(
        table_class_name="Photo",
        tablename="photo",
        column_name="request",
        db_column_name="request",
        schema=None,
    )

    return manager
