from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from enum import Enum
from piccolo.columns.column_types import Varchar

ID = "2026-12-01T14:57:03:871376"
VERSION = "1.38.0"
DESCRIPTION = "request status: duplicate (issue 17)"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="requests", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="Request",
        tablename="request",
        column_name="status",
        db_column_name="status",
        params={
            "choices": Enum(
                "Status",
                {
                    "submitted": "submitted",
                    "assigned": "assigned",
                    "accepted": "accepted",
                    "resolved": "resolved",
                    "returned": "returned",
                    "closed": "closed",
                    "withdrawn": "withdrawn",
                    "duplicate": "duplicate",
                },
            )
        },
        old_params={
            "choices": Enum(
                "Status",
                {
                    "submitted": "submitted",
                    "assigned": "assigned",
                    "accepted": "accepted",
                    "resolved": "resolved",
                    "returned": "returned",
                    "closed": "closed",
                    "withdrawn": "withdrawn",
                },
            )
        },
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
