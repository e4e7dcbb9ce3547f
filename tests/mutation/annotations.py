"""Where a module's code is only type annotations, which a mutation cannot change the behaviour of.

Every module of the project starts with ``from __future__ import annotations``: annotations stay strings that
nothing evaluates, so cosmic-ray's ``X | None`` → ``X & None`` there, and its ``*`` → ``/`` on the bare ``*``
that starts keyword-only parameters (every caller passes those by keyword, which both forms accept), are
equivalent by construction. The run skips them (``run.py``); ``python -m tests.mutation.annotations
SESSION...`` tells how many mutants of saved sessions they were.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

Pos = tuple[int, int]  # (line, column in characters), 1-based line, 0-based column: cosmic-ray's start_pos


def _char_col(lines: list[str], line: int, byte_col: int) -> int:
    return len(lines[line - 1].encode()[:byte_col].decode(errors="ignore"))


def annotation_spans(source: str) -> list[tuple[Pos, Pos]]:
    """The (start, end) of every annotation: parameters', return types' and annotated assignments'."""
    lines = source.splitlines()
    spans = []
    for node in ast.walk(ast.parse(source)):
        notes: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            notes.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            notes.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            notes.append(node.annotation)
        for n in notes:
            if n is not None and n.end_lineno is not None and n.end_col_offset is not None:
                spans.append(((n.lineno, _char_col(lines, n.lineno, n.col_offset)),
                              (n.end_lineno, _char_col(lines, n.end_lineno, n.end_col_offset))))
    return spans


def is_annotation_only(source: str, operator: str, start: Pos, spans: list[tuple[Pos, Pos]] | None = None) -> bool:
    """Whether a mutant at ``start`` only changes an annotation or the bare ``*`` of a signature."""
    if operator.endswith("ReplaceBinaryOperator_Mul_Div"):
        text = source.splitlines()[start[0] - 1][start[1]:]
        if re.match(r"\*\s*,", text):
            return True
    return any(lo <= start < hi for lo, hi in (spans if spans is not None else annotation_spans(source)))


def main(argv: list[str]) -> int:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome

    root = Path(__file__).resolve().parents[2]
    for session in argv:
        total = killed = skipped = skipped_killed = 0
        with use_db(session, WorkDB.Mode.open) as db:
            for item, result in db.completed_work_items:
                if result.test_outcome is None:
                    continue  # filtered out before the run
                m = item.mutations[0]
                source = (root / str(m.module_path)).read_text()
                total += 1
                dead = result.test_outcome != TestOutcome.SURVIVED
                killed += dead
                if is_annotation_only(source, m.operator_name, tuple(m.start_pos)):
                    skipped += 1
                    skipped_killed += dead
        print(f"{session}: {total} tested, {killed} killed; {skipped} only annotations ({skipped_killed} of them "
              f"killed); without them {killed - skipped_killed} of {total - skipped}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
