"""Piccolo's view of the schema is the schema: no table or column exists that tables.py does not declare,
and ``piccolo migrations new --auto`` on this tree finds nothing to do."""

from __future__ import annotations

from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.conf.apps import Finder

from backend.db import fetch_tuples


async def test_auto_migration_finds_no_changes() -> None:
    for app_config in Finder().get_app_registry().app_configs.values():
        statements = await AutoMigrationManager(auto_input="y").get_alter_statements(app_config=app_config)
        pending = [s for alter in statements for s in alter.statements]
        assert pending == [], f"{app_config.app_name}: tables.py and the migrations differ: {pending}"


# Kept by raw SQL because Piccolo cannot declare them (tsvector columns, GENERATED ... STORED columns, tables
# a trigger keeps); each is created in its app's SQL migration, which says why.
RAW_ONLY = {
    ("kb_entry", "tsv"),  # generated tsvector of the segmented title and answer (knowledge search)
    *{("kb_title", c) for c in ("entry", "category", "published_at", "tsv_title")},  # trigger-kept narrow index table
    *{("kb_term", c) for c in ("word", "ndoc", "ndoc_title", "fuzzy")},  # search vocabulary, generated trigram key
}


async def test_every_table_and_column_is_declared() -> None:
    declared = {
        (table._meta.tablename, column._meta.db_column_name)
        for app_config in Finder().get_app_registry().app_configs.values()
        for table in app_config.table_classes
        for column in table._meta.columns
    }
    in_database = {
        (t, c) for t, c in await fetch_tuples(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name <> 'migration'")  # Piccolo's own bookkeeping table
    }
    assert in_database - declared - RAW_ONLY == set(), "columns in the database that no tables.py declares"
    assert RAW_ONLY <= in_database, "a raw-only column listed here no longer exists: remove it from RAW_ONLY"
    assert declared - in_database == set(), "declared columns the migrations do not create"
