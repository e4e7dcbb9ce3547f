import os

from piccolo.conf.apps import AppConfig, table_finder

APP_CONFIG = AppConfig(
    app_name="media",
    migrations_folder_path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "piccolo_migrations"),
    table_classes=table_finder(modules=["backend.media.tables"], exclude_imported=True),
    # Only for its first migration, which linked photos to request events (that link moved to
    # backend.requests.photos); the tables import no request code.
    migration_dependencies=["backend.requests.piccolo_app"],
    commands=[],
)
