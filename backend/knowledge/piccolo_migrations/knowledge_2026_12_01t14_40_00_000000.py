"""Full-text search over the knowledge base, and its vocabulary for typo correction (PostgreSQL only).

``tsv`` is generated from the segmented title (weight A) and body (weight C) with the 'simple' configuration:
the words were already cut by the segmenter, PostgreSQL only has to index them. ``kb_title`` (kept by a
trigger: one narrow row per published entry with its title and keywords) is where the search draws candidates
from cheaply; only those are ranked on the full text (search.py).

``kb_term`` is the vocabulary of the published entries (ts_stat), with how many entries and titles hold each
word; its ``fuzzy`` column is the word as pg_trgm can compare it: pg_trgm only splits "word" characters into
trigrams, and under the C locale Chinese characters are not word characters (similarity('低保', '低包') = 0),
so kb_fuzzy() writes each character as a three-letter ASCII word (its code point in base 36).
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
    # Narrow rows: ranking a thousand title matches reads a few dozen pages here, a thousand in kb_entry.
    "CREATE TABLE IF NOT EXISTS kb_title (entry integer PRIMARY KEY REFERENCES kb_entry (id) ON DELETE CASCADE,"
    " category varchar(30) NOT NULL, published_at timestamptz, tsv_title tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS kb_title_tsv_idx ON kb_title USING gin (tsv_title)",
    """CREATE OR REPLACE FUNCTION kb_title_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status = 'published' THEN
        INSERT INTO kb_title (entry, category, published_at, tsv_title)
        VALUES (NEW.id, NEW.category, NEW.published_at, to_tsvector('simple', coalesce(NEW.title_tokens, '')))
        ON CONFLICT (entry) DO UPDATE SET category = EXCLUDED.category, published_at = EXCLUDED.published_at,
                                          tsv_title = EXCLUDED.tsv_title;
      ELSE
        DELETE FROM kb_title WHERE entry = NEW.id;
      END IF;
      RETURN NULL;
    END $$""",
    "DROP TRIGGER IF EXISTS kb_title_sync ON kb_entry",
    "CREATE TRIGGER kb_title_sync AFTER INSERT OR UPDATE OF status, category, published_at, title_tokens"
    " ON kb_entry FOR EACH ROW EXECUTE FUNCTION kb_title_sync()",
    "CREATE INDEX IF NOT EXISTS kb_entry_category_idx2 ON kb_entry (category, status, published_at DESC)",
    "CREATE UNIQUE INDEX IF NOT EXISTS kb_version_entry_number_idx ON kb_version (entry, number)",
    "CREATE INDEX IF NOT EXISTS kb_search_theme_idx2 ON kb_search (theme, created_at)",
    """CREATE OR REPLACE FUNCTION kb_fuzzy(w text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT CASE WHEN w ~ '^[0-9a-z]*$' THEN w ELSE array_to_string(ARRAY(
        SELECT substr(a, ascii(c) % 36 + 1, 1) || substr(a, ascii(c) / 36 % 36 + 1, 1)
               || substr(a, ascii(c) / 1296 % 36 + 1, 1)
        FROM regexp_split_to_table(w, '') WITH ORDINALITY AS t(c, i),
             (SELECT '0123456789abcdefghijklmnopqrstuvwxyz'::text AS a) alphabet
        ORDER BY i), ' ') END
    $$""",
    "CREATE TABLE IF NOT EXISTS kb_term (word text PRIMARY KEY, ndoc integer NOT NULL, ndoc_title integer NOT NULL,"
    " fuzzy text GENERATED ALWAYS AS (kb_fuzzy(word)) STORED)",
    "CREATE INDEX IF NOT EXISTS kb_term_fuzzy_idx ON kb_term USING gin (fuzzy gin_trgm_ops)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="knowledge", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
