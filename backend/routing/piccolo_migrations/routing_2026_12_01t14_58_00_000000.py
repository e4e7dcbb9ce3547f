"""A category's attribute codes are unique within the category (Piccolo cannot declare a two-column unique)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T14:58:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "category_attribute (category, code) unique"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="routing", description=DESCRIPTION)

    async def run() -> None:
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX category_attribute_code ON category_attribute (category, code)")

    async def back() -> None:
        await engine_finder().run_ddl("DROP INDEX IF EXISTS category_attribute_code")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
