"""The keys that make a double submit count once, and the live board's index (Piccolo's columns cannot
declare a unique key over several columns):

- ``practice_answer_key``: one practice answer per member, day and question;
- ``attempt_key``: one attempt per member and competition (the start's ON CONFLICT target);
- ``attempt_answer_key``: one answer per attempt and question (the answer's ON CONFLICT target);
- ``attempt_board``: the individual board read in rank order.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "learning keys and board index"

INDEXES = {
    "practice_answer_key": "UNIQUE INDEX practice_answer_key ON practice_answer (account, day, question)",
    "attempt_key": "UNIQUE INDEX attempt_key ON attempt (competition, account)",
    "attempt_answer_key": "UNIQUE INDEX attempt_answer_key ON attempt_answer (attempt, question)",
    "attempt_board": "INDEX attempt_board ON attempt (competition, score DESC, time_ms, id)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="learning", description=DESCRIPTION)

    async def run() -> None:
        for statement in INDEXES.values():
            await engine_finder().run_ddl(f"CREATE {statement}")

    async def back() -> None:
        for name in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
