"""Full-text and trigram search over the knowledge base (PostgreSQL only).

``tsv`` is generated from the segmented title (weight A) and body (weight C) with the 'simple'
configuration: the words were already cut by the segmenter, PostgreSQL only has to index them.
``fuzzy`` carries the title in a form pg_trgm can split whatever the database's locale (search.py).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T14:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "knowledge search indexes"

STATEMENTS = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "ALTER TABLE kb_entry ADD COLUMN IF NOT EXISTS tsv tsvector GENERATED ALWAYS AS ("
    " setweight(to_tsvector('simple', coalesce(title_tokens, '')), 'A') ||"
    " setweight(to_tsvector('simple', coalesce(body_tokens, '')), 'C')) STORED",
    "CREATE INDEX IF NOT EXISTS kb_entry_tsv_idx ON kb_entry USING gin (tsv) WHERE status = 'published'",
    "CREATE INDEX IF NOT EXISTS kb_entry_fuzzy_idx ON kb_entry USING gin (fuzzy gin_trgm_ops)"
    " WHERE status = 'published'",
    "CREATE INDEX IF NOT EXISTS kb_entry_category_idx2 ON kb_entry (category, status, published_at DESC)",
    "CREATE UNIQUE INDEX IF NOT EXISTS kb_version_entry_number_idx ON kb_version (entry, number)",
    "CREATE INDEX IF NOT EXISTS kb_search_theme_idx2 ON kb_search (theme, created_at)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="knowledge", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
