"""`make bench`: stage timings and peak memory on N demo contacts, printed as a table.

Each stage runs in its own process so its peak resident memory is its own
(os.wait4 returns the child's rusage). DuckDB's own read_csv of the same CSV
files, into a fresh DuckDB file, is timed in the same run as the floor that
CSV ingestion is compared against. Later issues add their stages here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ingestion.cli import dbt_executable, render_table
from ingestion.settings import REPO_ROOT

FLOOR_SCRIPT = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
total = 0
for i, path in enumerate(sys.argv[2:]):
    for encoding in ("utf-8", "latin-1"):  # the same fallback ingestion uses
        try:
            con.execute(f"create or replace table t{i} as select * from read_csv('{path}', "
                        f"all_varchar = true, ignore_errors = true, encoding = '{encoding}')")
            break
        except duckdb.Error:
            continue
    total += con.execute(f"select count(*) from t{i}").fetchone()[0]
print(total)
"""


@dataclass
class Stage:
    name: str
    seconds: float
    peak_mb: float
    rows: int | None = None
    note: str = ""


def _timed(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float, str]:
    """Run cmd; return wall seconds, the process's peak RSS in MB, and its stdout."""
    with log.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed ({proc.returncode}):\n{text[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, text


def _count(warehouse: Path, sql: str) -> int:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


def run_bench(contacts: int, seed: int, workdir: Path | None = None) -> int:
    keep = workdir is not None
    root = workdir or Path(tempfile.mkdtemp(prefix="contacts-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    base_env = dict(os.environ)
    stages: list[Stage] = []
    try:
        landing, truth = root / "landing", root / "truth"
        shutil.rmtree(landing, ignore_errors=True)
        secs, mb, _ = _timed([py, "-m", "ingestion", "demo", "--contacts", str(contacts), "--seed", str(seed),
                              "--landing-dir", str(landing), "--truth-dir", str(truth), "--force"],
                             base_env, root / "demo.log")
        stages.append(Stage("demo data generation", secs, mb, contacts))

        csv_files = sorted(p for p in landing.iterdir() if p.suffix == ".csv")
        floor_db = root / "floor.duckdb"
        floor_db.unlink(missing_ok=True)
        secs, mb, out = _timed([py, "-c", FLOOR_SCRIPT, str(floor_db), *map(str, csv_files)], base_env,
                               root / "floor.log")
        floor = Stage("floor: DuckDB read_csv (CSV files)", secs, mb, int(out.strip().splitlines()[-1]))
        stages.append(floor)

        csv_landing = root / "landing_csv_only"
        shutil.rmtree(csv_landing, ignore_errors=True)
        csv_landing.mkdir()
        for p in csv_files:
            os.link(p, csv_landing / p.name)
        for label, folder, name in [("ingestion: CSV files only", csv_landing, "csv_only"),
                                    ("ingestion: all five files", landing, "all")]:
            warehouse = root / name / "contacts.duckdb"
            shutil.rmtree(warehouse.parent, ignore_errors=True)
            env = {**base_env, "CONTACTS_WAREHOUSE": str(warehouse), "LANDING_DIR": str(folder)}
            secs, mb, _ = _timed([py, "-m", "ingestion", "load"], env, root / f"load_{name}.log")
            rows = _count(warehouse, "select count(*) from raw_landing.contacts")
            note = f"{secs / floor.seconds:.1f}x floor" if name == "csv_only" else ""
            stages.append(Stage(label, secs, mb, rows, note))

        env = {**base_env, "CONTACTS_WAREHOUSE": str(root / "all" / "contacts.duckdb"), "LANDING_DIR": str(landing)}
        secs, mb, _ = _timed([py, "-m", "ingestion", "load"], env, root / "load_rerun.log")
        stages.append(Stage("ingestion: re-run, nothing changed", secs, mb, 0, "files skipped by size+mtime"))

        env.update({"DBT_TARGET_PATH": str(root / "dbt_target"), "DBT_LOG_PATH": str(root / "dbt_logs")})
        secs, mb, _ = _timed([dbt_executable(), "build", "--project-dir", str(REPO_ROOT),
                              "--profiles-dir", str(REPO_ROOT / "profiles")], env, root / "dbt_build.log")
        stages.append(Stage("dbt build (all models + tests)", secs, mb,
                            _count(root / "all" / "contacts.duckdb",
                                   "select count(*) from staging.stg_landing__contacts")))
        dbt_run = [dbt_executable(), "run", "--select", "path:models/cleaned", "--project-dir", str(REPO_ROOT),
                   "--profiles-dir", str(REPO_ROOT / "profiles")]
        secs, mb, _ = _timed([*dbt_run, "--full-refresh"], env, root / "dbt_cleaned_full.log")
        stages.append(Stage("cleaned layer, full refresh", secs, mb,
                            _count(root / "all" / "contacts.duckdb", "select count(*) from cleaned.cleaned_contacts"),
                            "incl. dbt start-up"))
        from ingestion.accuracy import measure
        # scored before the delta arrives: the delta's records are not in this ground truth
        accuracy = measure(root / "all" / "contacts.duckdb", truth)
        # a 1 % nightly delta: new demo files in a sub-folder, loaded, then an incremental run
        delta = max(1, contacts // 100)
        _timed([py, "-m", "ingestion", "demo", "--contacts", str(delta), "--seed", str(seed + 1),
                "--landing-dir", str(landing / "delta"), "--truth-dir", str(root / "truth_delta"), "--force"],
               base_env, root / "demo_delta.log")
        secs, mb, _ = _timed([py, "-m", "ingestion", "load"], env, root / "load_delta.log")
        stages.append(Stage("ingestion: 1% nightly delta", secs, mb, delta))
        secs, mb, _ = _timed(dbt_run, env, root / "dbt_cleaned_delta.log")
        stages.append(Stage("cleaned layer, 1% delta (incremental)", secs, mb, delta, "incl. dbt start-up"))
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)

    print(f"\nBenchmark: {contacts:,} demo contacts, seed {seed}, {os.cpu_count()} cores\n")
    print(render_table(
        ["stage", "rows", "seconds", "peak MB", "note"],
        [[s.name, s.rows, f"{s.seconds:.2f}", f"{s.peak_mb:,.0f}", s.note] for s in stages]))
    from ingestion.accuracy import render
    print(f"\nCleaned-layer accuracy against the ground truth ({contacts:,} contacts)\n")
    print(render(accuracy))
    return 0
