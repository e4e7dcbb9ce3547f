from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from enum import Enum
from piccolo.columns.column_types import JSONB
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T14:57:53:895274"
VERSION = "1.38.0"
DESCRIPTION = ""


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="requests", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Request",
        tablename="request",
        column_name="attributes",
        db_column_name="attributes",
        column_class_name="JSONB",
        column_class=JSONB,
        params={
            "default": "{}",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.alter_column(
        table_class_name="Request",
        tablename="request",
        column_name="source",
        db_column_name="source",
        params={
            "choices": Enum(
                "Source",
                {
                    "resident": "resident",
                    "on_behalf": "on_behalf",
                    "patrol": "patrol",
                    "open311": "open311",
                },
            )
        },
        old_params={
            "choices": Enum(
                "Source",
                {
                    "resident": "resident",
                    "on_behalf": "on_behalf",
                    "patrol": "patrol",
                },
            )
        },
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
