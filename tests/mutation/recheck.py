"""Re-check the survivors of a mutation run against tests written since: each surviving mutant is applied to
the work tree's current file (by its changed lines' text, so code that moved since the run still matches),
the given tests run, and the file is put back. A mutant whose lines are no longer in the file is reported
as such (apply it by hand).

Usage: ``python -m tests.mutation.recheck test-artifacts/mutation/stats-kpis.session [--lines 225,252] -- tests/x.py``
(``--lines``: only the survivors at these lines of the run's file.) Prints one line per survivor: killed /
SURVIVED / not found, and the counts. A stop (SIGTERM, Ctrl-C) puts the mutated file back first.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def survivors(session: Path) -> list[tuple[str, int, str, list[str], list[str]]]:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome

    with use_db(str(session), WorkDB.Mode.open) as db:
        rows = [(str(item.mutations[0].module_path), item.mutations[0].start_pos[0], item.mutations[0].operator_name,
                 result.diff or "") for item, result in db.completed_work_items
                if result.test_outcome == TestOutcome.SURVIVED]
    out = []
    for module, line, op, diff in sorted(rows, key=lambda r: r[1]):
        lines = diff.splitlines()
        # (cosmic-ray's diffs also remove and add the file's last, empty line: not part of the change)
        old = [ln[1:] for ln in lines if ln.startswith("-") and not ln.startswith("---") and ln[1:].strip()]
        new = [ln[1:] for ln in lines if ln.startswith("+") and not ln.startswith("+++") and ln[1:].strip()]
        out.append((module, line, op.removeprefix("core/"), old, new))
    return out


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the finally below restores the file
    split = argv.index("--")
    head, tests = argv[:split], argv[split + 1:]
    lines: set[int] = set()
    if "--lines" in head:
        i = head.index("--lines")
        lines = {int(n) for n in head[i + 1].split(",")}
        del head[i:i + 2]
    sessions = [Path(a) for a in head]
    counts = {"killed": 0, "SURVIVED": 0, "not found": 0}
    for session in sessions:
        for module, line, op, old, new in survivors(session):
            if lines and line not in lines:
                continue
            path = ROOT / module
            source = path.read_text()
            before, after = "\n".join(old) + "\n", "\n".join(new) + "\n"
            if source.count(before) != 1:
                outcome = "not found"
            else:
                path.write_text(source.replace(before, after))
                try:
                    run = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                                          *tests], cwd=ROOT, capture_output=True, text=True)
                finally:
                    path.write_text(source)
                outcome = "SURVIVED" if run.returncode == 0 else "killed"
            counts[outcome] += 1
            print(f"{outcome:9} {module}:{line} {op}: {' / '.join(o.strip() for o in old)[:110]}", flush=True)
    print(counts)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
