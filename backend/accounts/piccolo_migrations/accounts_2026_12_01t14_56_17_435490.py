from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from enum import Enum
from piccolo.columns.column_types import Varchar

ID = "2026-12-01T14:56:17:435490"
VERSION = "1.38.0"
DESCRIPTION = ""


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="accounts", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="Membership",
        tablename="membership",
        column_name="role",
        db_column_name="role",
        params={
            "choices": Enum(
                "Role",
                {
                    "grid_worker": "grid_worker",
                    "community_staff": "community_staff",
                    "street_staff": "street_staff",
                    "dispatcher": "dispatcher",
                    "department_staff": "department_staff",
                    "unit_head": "unit_head",
                    "assessor": "assessor",
                    "admin": "admin",
                    "supervisor": "supervisor",
                },
            )
        },
        old_params={
            "choices": Enum(
                "Role",
                {
                    "grid_worker": "grid_worker",
                    "community_staff": "community_staff",
                    "street_staff": "street_staff",
                    "dispatcher": "dispatcher",
                    "department_staff": "department_staff",
                    "unit_head": "unit_head",
                    "assessor": "assessor",
                    "admin": "admin",
                },
            )
        },
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
