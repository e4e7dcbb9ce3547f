"""Wish photos move into media's storage: one ``photo`` row per ``wish_photo`` (their files stay where they are,
under ``wishes/`` in the media folder), then the copied columns are dropped. Raw SQL runs before the drops.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T17:39:16:000000"
VERSION = "1.38.0"
DESCRIPTION = "wish_photo: display_key, thumb_key, width, height move to photo"

MOVE = """
DO $$ DECLARE r record; pid integer; BEGIN
  FOR r IN SELECT id, display_key, thumb_key, width, height, created_at FROM wish_photo
           WHERE photo IS NULL ORDER BY id LOOP
    INSERT INTO photo (display_key, thumb_key, original_key, width, height, created_at)
      VALUES ('wishes/' || r.display_key, 'wishes/' || r.thumb_key, '', r.width, r.height, r.created_at)
      RETURNING id INTO pid;
    UPDATE wish_photo SET photo = pid WHERE id = r.id;
  END LOOP;
END $$
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="wishes", description=DESCRIPTION)

    async def move() -> None:
        await engine_finder().run_ddl(MOVE)

    manager.add_raw(move)

    manager.drop_column(
        table_class_name="WishPhoto",
        tablename="wish_photo",
        column_name="display_key",
        db_column_name="display_key",
        schema=None,
    )

    manager.drop_column(
        table_class_name="WishPhoto",
        tablename="wish_photo",
        column_name="height",
        db_column_name="height",
        schema=None,
    )

    manager.drop_column(
        table_class_name="WishPhoto",
        tablename="wish_photo",
        column_name="thumb_key",
        db_column_name="thumb_key",
        schema=None,
    )

    manager.drop_column(
        table_class_name="WishPhoto",
        tablename="wish_photo",
        column_name="width",
        db_column_name="width",
        schema=None,
    )

    return manager
