"""Mutation testing of the rules behind the published figures, the lights, the claims and the permissions
(issue 24): cosmic-ray mutates one line at a time of each target in tests/mutation/targets.toml and runs
only the fast tests that cover it; a mutant whose tests still pass "survives".

Usage (through scripts/mutate): ``python -m tests.mutation.run [name-substring ...] [--jobs N] [--list]``.

Why so: cosmic-ray runs each mutant in a fresh ``pytest`` process (our async fixtures keep one event loop
and connection pool per run, which mutmut 3's forking of one test process would share between mutants).
The run happens in a throwaway copy of the work tree (mutants are written to disk), against one embedded
PostgreSQL per job holding a migrated template database that each mutant's run copies (tests/conftest.py,
``QG_TEST_TEMPLATE``) instead of migrating from empty.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.mutation.annotations import annotation_spans, is_annotation_only

ROOT = Path(__file__).resolve().parents[2]
TARGETS = Path(__file__).with_name("targets.toml")
OUT = ROOT / "test-artifacts" / "mutation"
# plugins the tests do not use cost seconds per mutant
PYTEST = "-m pytest -x -q -p no:cacheprovider -p no:faker -p no:anyio -p no:platformdirs -W ignore"


@dataclass
class Target:
    module: str
    tests: list[str]
    only: list[str] | None = None
    name: str = ""
    results: dict[str, int] = field(default_factory=dict)
    survivors: list[str] = field(default_factory=list)


def load_targets() -> tuple[list[Target], list[str]]:
    cfg = tomllib.loads(TARGETS.read_text())
    targets = [Target(t["module"], t["tests"], t.get("only"),
                      name=t["module"].removeprefix("backend/").removesuffix(".py").replace("/", "-"))
               for t in cfg["target"]]
    return targets, cfg["operators"]["exclude"]


def line_ranges(path: Path, names: list[str] | None) -> list[tuple[int, int]]:
    """The lines of the named top-level definitions (functions, classes, assignments) of ``path``."""
    tree = ast.parse(path.read_text())
    if names is None:
        return [(1, 10**9)]
    found: dict[str, tuple[int, int]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found[node.name] = (node.lineno, node.end_lineno or node.lineno)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    found[t.id] = (node.lineno, node.end_lineno or node.lineno)
    missing = [n for n in names if n not in found]
    if missing:  # a split moved them: the config must follow (tests/mutation/targets.toml)
        raise SystemExit(f"{path}: no top-level {', '.join(missing)} — update tests/mutation/targets.toml")
    return [found[n] for n in names]


def copy_tree(dest: Path) -> None:
    """The work tree as it is (committed or not), without data, the venv or artifacts."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for f in files:
        if not f or not (ROOT / f).is_file():
            continue
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dest / f)


class Job:
    """One worker: a copy of the tree, an embedded PostgreSQL and a template database."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.tree = base / "tree"
        self.tree.mkdir(parents=True)
        copy_tree(self.tree)
        from backend.embedded import EmbeddedPostgres
        from tests.support.services import RedisServer

        self.pg = EmbeddedPostgres(base / "pgdata", options="-c fsync=off -c synchronous_commit=off "
                                   "-c full_page_writes=off -c max_connections=200")
        self.pg.start()
        self.server_url = self.pg.url("postgres")
        self.pg.create_database("qg_template")
        self.redis = RedisServer(base)
        env = self.env() | {"DATABASE_URL": self.pg.url("qg_template"), "REDIS_URL": self.redis.url}
        subprocess.run([sys.executable, "-m", "tests.mutation.template"], cwd=self.tree, env=env, check=True)
        self.redis.stop()

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "QG_DATA_DIR")}
        return env | {"DATABASE_URL": self.server_url, "QG_TEST_TEMPLATE": "qg_template",
                      "PICCOLO_CONF": "backend.piccolo_conf", "PYTHONDONTWRITEBYTECODE": "1"}

    def stop(self) -> None:
        self.pg.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


def run_target(job: Job, t: Target, exclude: list[str], log, deadline: float) -> None:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    tree, env = job.tree, job.env()
    if time.monotonic() > deadline:
        t.results = {"not_run": "all"}
        log(f"[{t.name}] not run: the time budget is spent")
        return
    cmd = f"{sys.executable} {PYTEST} {' '.join(t.tests)}"
    started = time.monotonic()
    base = subprocess.run(cmd.split(), cwd=tree, env=env, capture_output=True, text=True)
    took = time.monotonic() - started
    if base.returncode != 0:
        log(f"[{t.name}] the tests fail WITHOUT a mutant; fix them first:\n{base.stdout[-3000:]}")
        t.results = {"error": 1}
        return
    timeout = round(took * 3 + 30)
    # cosmic-ray's own work file (its format, kept by the tool; our database is PostgreSQL only)
    session = job.base / f"{t.name}.session"
    config = job.base / f"{t.name}.toml"
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{t.module}"\n'
        f"timeout = {timeout}.0\n"
        "excluded-modules = []\n"
        f'test-command = "{cmd}"\n'
        "[cosmic-ray.distributor]\n"
        'name = "local"\n')
    subprocess.run([sys.executable, "-m", "cosmic_ray.cli", "init", str(config), str(session), "--force"],
                   cwd=tree, check=True, capture_output=True)
    ranges = line_ranges(tree / t.module, t.only)
    excluded = re.compile("|".join(f"(?:{e})" for e in exclude))
    source = (tree / t.module).read_text()
    spans = annotation_spans(source)  # annotations are never evaluated: no mutant there changes behaviour
    with use_db(str(session), WorkDB.Mode.open) as db:
        skip = [item.job_id for item in db.pending_work_items for m in item.mutations
                if excluded.match(m.operator_name)
                or not any(lo <= m.start_pos[0] <= hi for lo, hi in ranges)
                or is_annotation_only(source, m.operator_name, tuple(m.start_pos), spans)]
        if skip:
            db.set_multiple_results(skip, WorkResult(output="filtered", worker_outcome=WorkerOutcome.SKIPPED))
        pending = sum(1 for _ in db.pending_work_items)
    log(f"[{t.name}] {pending} mutants, tests take {took:.0f} s unmutated (timeout {timeout} s)")
    proc = subprocess.Popen([sys.executable, "-m", "cosmic_ray.cli", "exec", str(config), str(session)],
                            cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:  # the budget is spent: keep what was tested, count the rest as not run
        proc.terminate()
        proc.wait()
        shutil.copy2(ROOT / t.module, tree / t.module)  # the interrupted mutant may still be on disk
    source = (tree / t.module).read_text().splitlines()
    with use_db(str(session), WorkDB.Mode.open) as db:
        counts = {"killed": 0, "survived": 0, "incompetent": 0,
                  "not_run": sum(1 for _ in db.pending_work_items)}
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            if result.worker_outcome != WorkerOutcome.NORMAL:
                counts["incompetent"] += 1
                continue
            if result.is_killed:
                counts["killed"] += 1
            else:
                counts["survived"] += 1
                m = item.mutations[0]
                line = source[m.start_pos[0] - 1].strip()
                t.survivors.append(f"{t.module}:{m.start_pos[0]} {m.operator_name.removeprefix('core/')} "
                                   f"#{m.occurrence}: `{line}`\n{_diff(result.diff)}")
    t.results = counts
    shutil.copy(session, OUT / session.name)
    log(f"[{t.name}] killed {counts['killed']}, survived {counts['survived']}, "
        f"incompetent {counts['incompetent']}, not run {counts['not_run']} ({time.monotonic() - started:.0f} s)")


def _diff(diff: str | None) -> str:
    lines = [ln for ln in (diff or "").splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
    return "\n".join("    " + ln for ln in lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="only targets whose module path contains one of these")
    p.add_argument("--jobs", type=int, default=1, help="parallel workers (the machine is shared: keep it low)")
    p.add_argument("--list", action="store_true", help="print the targets and exit")
    p.add_argument("--budget", type=float, default=0, help="minutes; mutants not tested by then are reported "
                   "as not run (0: no limit)")
    args = p.parse_args(argv)
    targets, exclude = load_targets()
    if args.names:
        targets = [t for t in targets if any(n in t.module for n in args.names)]
    if args.list:
        for t in targets:
            print(t.module, t.only or "(whole file)", "→", " ".join(t.tests))
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    lines: list[str] = []

    def log(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    deadline = started + args.budget * 60 if args.budget else float("inf")
    base = Path(tempfile.mkdtemp(prefix="qg-mutate-"))
    jobs_n = max(1, min(args.jobs, len(targets)))
    with ThreadPoolExecutor(jobs_n) as pool:
        jobs = list(pool.map(lambda i: Job(base / f"job{i}"), range(jobs_n)))
    free = list(jobs)
    import threading

    lock = threading.Lock()

    def work(t: Target) -> None:
        with lock:
            job = free.pop()
        try:
            run_target(job, t, exclude, log, deadline)
        finally:
            with lock:
                free.append(job)

    try:
        with ThreadPoolExecutor(jobs_n) as pool:
            list(pool.map(work, targets))
    finally:
        for job in jobs:
            job.stop()
        shutil.rmtree(base, ignore_errors=True)
    killed = sum(t.results.get("killed", 0) for t in targets)
    survived = sum(t.results.get("survived", 0) for t in targets)
    total = killed + survived
    score = 100 * killed / total if total else 0.0
    report = [f"# Mutation score: {score:.1f}% ({killed} of {total} mutants killed) in "
              f"{(time.monotonic() - started) / 60:.0f} min", "",
              "| module | killed | survived | incompetent | not run |", "|---|---|---|---|---|"]
    report += [f"| {t.module} | {t.results.get('killed', 0)} | {t.results.get('survived', 0)} | "
               f"{t.results.get('incompetent', 0)} | {t.results.get('not_run', 0)} |" for t in targets]
    report += ["", "## Surviving mutants", ""] + [f"- {s}" for t in targets for s in t.survivors]
    (OUT / "report.md").write_text("\n".join(report) + "\n\n## Log\n\n" + "\n".join(lines) + "\n")
    print("\n".join(report))
    print(f"(written to {OUT / 'report.md'})")
    return 0 if not any("error" in t.results for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
