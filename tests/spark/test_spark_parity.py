"""The same batch on local Spark and on DuckDB, from the same landing files (`make test-spark`).

Night 1 is the nightly command on each engine (`contacts-demo run --target spark|duckdb`:
load, build, enrich against the provider emulator, build, export, report); each loads the
landing files itself (Spark's raw tables are Parquet, dlt's filesystem destination) and
asks the emulator itself. Both runs must succeed, their export files hold the same rows,
every model's row count agrees, and the identity map, golden records, dim_contacts,
cleaned contacts, memberships and export models agree on every column but those that say
when and in which run a row was built, loaded or enriched. Night 2, a delta of new files
loaded by each engine: `dbt build` on DuckDB, an incremental `dbt run` on Spark (night 1
ran its tests), compared the same way. The pairs' similarity scores are reported, not
asserted (name_similarity is the same function on both engines, so they agree too). Then
Spark's night 2 must equal a full rebuild of the cleaned and deduped layers under the same
match weights (DuckDB's: night 1 shows the two engines build the same tables), and the
clustering's unit test, which dbt does not run on Spark, must hold there through real
tables.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import psutil
import pytest

from batch.dbt import run_dbt
from ingestion.landing.load import run_load
from ingestion.pipelines import read_warehouse
from ingestion.settings import REPO_ROOT, Settings, load_settings
from tooling.demo.generator import generate

CONTACTS, DELTA = 1200, 250
# a night on Spark takes minutes (the nightly command ~9 on a quiet machine): pyproject's 900 s
# per test is not enough for the fixture of the first night on a busy one
pytestmark = pytest.mark.timeout(3600)
# compared on every column (but the build's own timestamps)
WHOLE = ("contact_identity_map", "deduped_golden_records", "golden_contacts", "dim_contacts", "cleaned_contacts",
         "segment_memberships", "segment_membership_history", "campaign_export_contacts", "campaign_contact_status",
         "campaign_suppressions")
# when a row was built, by which run: differ between any two builds (members_fingerprint is
# a hash over its records' cleaned_at, the golden record's incremental bookkeeping)
BUILD_COLUMNS = {"cleaned_at", "records_cleaned_at", "last_cleaned_at", "compared_at", "estimated_at", "updated_at",
                 "measured_at", "invocation_id", "entered_at", "left_at", "in_segment_since", "event_at",
                 "entered_invocation_id", "left_invocation_id", "members_fingerprint", "first_issued_at",
                 "status_changed_at",
                 # each engine loads the landing files and asks the providers on its own: when a
                 # row was loaded, when a contact was enriched, and when a value was observed
                 # (the source's update time, else the load's; of two answers the same night,
                 # the later one's date, and which arrives later is up to the network)
                 "loaded_at", "file_load_id", "first_loaded_at", "last_enriched_at"}
# and every column named *_observed_at, for the same reason
OBSERVED_SUFFIX = "_observed_at"
# layers a full rebuild redoes from the raw rows (the match weights kept, as a night keeps them)
REBUILT = ("cleaned", "deduped")


@dataclass
class Night:
    spark: Path    # Spark's models as Parquet folders, one per model
    duckdb: Path   # DuckDB's warehouse, copied after the night's build
    spark_code: int
    duckdb_code: int


@dataclass
class Engines:
    spark: Settings
    duckdb: Settings
    root: Path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    """One landing folder; each engine its own raw tables, warehouse, exports and report."""
    root = tmp_path_factory.mktemp("spark")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "CONTACTS_WAREHOUSE": root / "duckdb" / "contacts.duckdb", "LANDING_DIR": root / "landing",
            "GROUND_TRUTH_DIR": root / "truth", "CONTACTS_RAW_DIR": root / "raw", "CONTACTS_SPARK_DIR": root / "spark",
            "DBT_LOG_PATH": root / "logs",
        }.items():
            patch.setenv(name, str(value))
        patch.delenv("CONTACTS_RAW_DESTINATION", raising=False)
        patch.delenv("CONTACTS_TARGET", raising=False)
        (root / "landing").mkdir()
        yield Engines(*(replace(load_settings(target), export_dir=root / f"exports_{target}",
                                report_dir=root / f"reports_{target}") for target in ("spark", "duckdb")), root)


def watched(command: list[str], env: dict[str, str], what: str, log: Path | None = None) -> int:
    """Run `command`, print its time and the peak memory of its process tree (Python and
    JVM); its output into `log` (the last lines printed when it fails), else inherited."""
    started = time.monotonic()
    with open(log, "w", encoding="utf-8") if log else contextlib.nullcontext() as out:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT if log else None)
        tree, peak = psutil.Process(process.pid), 0
        while process.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, sum(p.memory_info().rss for p in [tree, *tree.children(recursive=True)]))
            time.sleep(0.5)
    print(f"{what}: {time.monotonic() - started:.0f} s, peak {peak / 2**30:.2f} GB")
    if process.returncode and log:
        print("".join(log.read_text(encoding="utf-8").splitlines(keepends=True)[-60:]))
    return process.returncode


def snapshot_command(out: Path, dbt_args: list[str]) -> list[str]:
    return [sys.executable, str(Path(__file__).parent / "spark_night.py"), "--snapshot", str(out), "--", *dbt_args]


def spark_night(engines: Engines, night: str, dbt_args: list[str]) -> tuple[int, Path]:
    """register the raw tables, one dbt command line on Spark, the models as Parquet"""
    out = engines.root / f"spark_{night}"
    env = {**engines.spark.dbt_env(), "DBT_TARGET_PATH": str(engines.root / f"target_spark_{night}")}
    code = watched(snapshot_command(out, dbt_args), env, f"Spark night {night} ({dbt_args[0]}, then the snapshot)")
    return code, out


def copy_warehouse(engines: Engines, night: str) -> Path:
    copy = engines.root / f"duckdb_{night}.duckdb"
    copy.write_bytes(engines.duckdb.warehouse.read_bytes())
    return copy


def duckdb_night(engines: Engines, night: str, dbt_args: list[str]) -> tuple[int, Path]:
    """one dbt command line on DuckDB, then a copy of the warehouse"""
    os.environ["DBT_TARGET_PATH"] = str(engines.root / f"target_duckdb_{night}")
    code = run_dbt(engines.duckdb, dbt_args)
    return code, copy_warehouse(engines, night)


def nightly(settings: Settings, root: Path) -> int:
    """`contacts-demo run --target <engine>`: the nightly command (load, build, enrich
    against the provider emulator, build, export, report), as `make run` starts it"""
    env = {**settings.dbt_env(), "REPORT_DIR": str(settings.report_dir)}
    env.pop("DBT_TARGET_PATH", None)
    return watched([sys.executable, "-m", "tooling", "run", "--target", settings.target], env,
                   f"the nightly command on {settings.target}", root / f"nightly_{settings.target}.log")


@pytest.fixture(scope="module")
def night_1(env: Engines) -> Night:
    """The nightly command on each engine, from the same landing files; Spark's models then
    copied out as Parquet (the manifest of its last dbt phase says which)"""
    generate(CONTACTS, 19, env.spark.landing_dir, env.spark.ground_truth_dir)
    duckdb_code = nightly(env.duckdb, env.root)
    spark_code = nightly(env.spark, env.root)
    out = env.root / "spark_1"
    target = env.spark.nightly_dir / "dbt" / "build_after_enrichment"
    watched(snapshot_command(out, []), {**env.spark.dbt_env(), "DBT_TARGET_PATH": str(target)}, "Spark snapshot")
    return Night(out, copy_warehouse(env, "1"), spark_code, duckdb_code)


@pytest.fixture(scope="module")
def night_2(env: Engines, night_1: Night) -> Night:
    generate(DELTA, 20, env.spark.landing_dir / "delta", env.spark.ground_truth_dir / "delta")
    run_load(env.duckdb)
    run_load(env.spark)
    duckdb_code, duckdb_copy = duckdb_night(env, "2", ["build"])
    # the night's data tests ran on night 1: this night is about the rows it leaves
    spark_code, spark_out = spark_night(env, "2", ["run"])
    return Night(spark_out, duckdb_copy, spark_code, duckdb_code)


def compare(night: Night, models: list[str] | None = None, whole: tuple[str, ...] = WHOLE,
            live: bool = False) -> dict[str, object]:
    """What differs between the engines: row counts by model, and rows of the `whole`
    models (either side's rows the other lacks). With `live`, the pairs (candidate pairs
    and their comparisons) only where they are candidates today: a night keeps a pair that
    stopped being one, flagged, which a rebuild never makes (as test_deduped compares)."""
    con = duckdb.connect()
    con.execute(f"attach '{night.duckdb}' as d (read_only)")
    relations = {name: f'd."{schema}"."{name}"' for schema, name in con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = 'd' "
        "union all select schema_name, view_name from duckdb_views() where database_name = 'd'").fetchall()}
    spark_models = sorted(p.name for p in night.spark.iterdir() if p.is_dir())
    counts, rows = {}, {}
    for name in models or spark_models:
        spark = f"read_parquet('{night.spark / name}/*.parquet')"
        duck = relations.get(name)
        if duck is None or name not in spark_models:
            counts[name] = ("missing", name in spark_models, duck is not None)
            continue
        if live and name in ("deduped_candidate_pairs", "deduped_pair_comparisons"):
            candidates = {spark: f"read_parquet('{night.spark / 'deduped_candidate_pairs'}/*.parquet')",
                          duck: relations["deduped_candidate_pairs"]}
            spark, duck = (f"(select * from {r} where (record_id_a, record_id_b) in (select (record_id_a, record_id_b) "
                           f"from {candidates[r]} where is_candidate))" for r in (spark, duck))
        spark_count, duck_count = (con.execute(f"select count(*) from {r}").fetchone()[0] for r in (spark, duck))
        if spark_count != duck_count:
            counts[name] = (spark_count, duck_count)
        if name in whole:
            scores = name != "deduped_pair_comparisons"  # reported by score_differences
            a, b = normalised(con, spark, scores), normalised(con, duck, scores)
            only_spark = con.execute(f"select count(*) from ({a} except all {b})").fetchone()[0]
            only_duck = con.execute(f"select count(*) from ({b} except all {a})").fetchone()[0]
            if only_spark or only_duck:
                rows[name] = (only_spark, only_duck)
    return {"counts": counts, "rows": rows}


def normalised(con: duckdb.DuckDBPyConnection, relation: str, scores: bool = True) -> str:
    """A select of `relation`'s columns (but the build's own) as text, in name order:
    numbers as doubles to 9 significant digits, timestamps without a zone; without the
    DOUBLE columns unless `scores` (the pair comparisons' similarity scores)."""
    columns = con.execute(f"describe select * from {relation}").fetchall()
    parts = []
    for name, kind, *_ in sorted(columns):
        if name in BUILD_COLUMNS or name.endswith(OBSERVED_SUFFIX) or (kind == "DOUBLE" and not scores):
            continue
        column = f'"{name}"'
        if kind.startswith(("DOUBLE", "FLOAT", "DECIMAL", "REAL")):
            expression = f"printf('%.9g', cast({column} as double))"
        elif kind.startswith(("BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "TINYINT")):
            expression = f"cast(cast({column} as hugeint) as varchar)"
        elif kind.startswith("TIMESTAMP"):
            expression = f"cast(cast({column} as timestamp) as varchar)"
        else:
            expression = f"cast({column} as varchar)"
        parts.append(f"{expression} as \"{name}\"")
    return f"select {', '.join(parts)} from {relation}"


def score_differences(night: Night) -> tuple[int, int]:
    """(pairs whose similarity scores differ between the engines, pairs compared)"""
    con = duckdb.connect()
    con.execute(f"attach '{night.duckdb}' as d (read_only)")
    spark = f"read_parquet('{night.spark / 'deduped_pair_comparisons'}/*.parquet')"
    columns = [name for name, kind, *_ in con.execute(f"describe select * from {spark}").fetchall()
               if kind == "DOUBLE"]
    differ = " or ".join(f"abs(coalesce(s.{c}, -1) - coalesce(k.{c}, -1)) > 1e-9" for c in columns) or "false"
    return con.execute(f"""
        select count(*) filter (where {differ}), count(*)
        from {spark} as s
        inner join d.deduped.deduped_pair_comparisons as k
            on s.record_id_a = k.record_id_a and s.record_id_b = k.record_id_b""").fetchone()


def rows_of(settings: Settings, sql: str) -> list[tuple]:
    """Rows of `sql` over the warehouse as the nightly command's Python steps read it"""
    with read_warehouse(settings) as con:
        return con.execute(sql).fetchall()


def export_files(folder: Path) -> dict[str, list[tuple]]:
    """Every CSV and Parquet file of an export folder, by its path: its rows, sorted, without
    in_segment_since (when this warehouse first saw the contact in the list)"""
    con = duckdb.connect()
    files = {}
    for path in sorted([*folder.rglob("*.csv"), *folder.rglob("*.parquet")]):
        reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
        options = "" if path.suffix == ".parquet" else ", all_varchar = true"
        relation = f"{reader}('{path}'{options})"
        columns = [name for name, *_ in con.execute(f"describe select * from {relation}").fetchall()
                   if name != "in_segment_since"]
        files[str(path.relative_to(folder))] = sorted(
            con.execute(f"select {', '.join(columns)} from {relation}").fetchall(), key=str)
    return files


def test_night_1_the_nightly_command_on_spark_equals_duckdb(env: Engines, night_1: Night) -> None:
    assert night_1.duckdb_code == 0
    assert night_1.spark_code == 0, "the nightly command on Spark failed: see its output above"
    runs = {engine: rows_of(settings, "select status, count(*) from monitoring.nightly_runs group by all")
            for engine, settings in (("spark", env.spark), ("duckdb", env.duckdb))}
    assert runs == {"spark": [("succeeded", 1)], "duckdb": [("succeeded", 1)]}
    assert (env.spark.report_dir / "nightly_report.html").stat().st_size > 0
    differences = compare(night_1)
    print("night 1 similarity scores that differ (pairs):", score_differences(night_1))
    assert differences == {"counts": {}, "rows": {}}
    spark_files, duckdb_files = export_files(env.spark.export_dir), export_files(env.duckdb.export_dir)
    print(f"exports: {len(spark_files)} files, {sum(len(rows) for rows in spark_files.values())} rows on Spark")
    assert spark_files == duckdb_files
    assert any(spark_files.values())


def test_night_2_incremental_on_spark_equals_duckdb(night_2: Night) -> None:
    assert night_2.duckdb_code == 0
    assert night_2.spark_code == 0
    differences = compare(night_2)
    print("night 2 similarity scores that differ (pairs):", score_differences(night_2))
    assert differences == {"counts": {}, "rows": {}}


def test_night_2_on_spark_equals_a_full_rebuild(env: Engines, night_2: Night) -> None:
    selection = ["--select", *(f"path:models/{layer}" for layer in REBUILT), "--exclude", "deduped_match_parameters"]
    code, rebuilt = duckdb_night(env, "2_rebuilt", ["run", "--full-refresh", *selection])
    assert code == 0
    models = [p.stem for layer in REBUILT for p in (REPO_ROOT / "models" / layer).glob("*.sql")]
    differences = compare(Night(night_2.spark, rebuilt, 0, 0), models, whole=tuple(models), live=True)
    assert differences == {"counts": {}, "rows": {}}


def test_the_clustering_unit_test_holds_on_spark_through_the_steps(env: Engines, night_2: Night) -> None:
    """clusters_split_a_conflict_along_the_strongest_links, which dbt does not run on Spark
    (a unit test is one query; this model is built in steps there): its rows as tables."""
    code = subprocess.run([sys.executable, str(Path(__file__).parent / "spark_night.py"), "--unit-test",
                           "clusters_split_a_conflict_along_the_strongest_links"], cwd=REPO_ROOT,
                          env={**env.spark.dbt_env(), "DBT_TARGET_PATH": str(env.root / "target_spark_2")},
                          check=False).returncode
    assert code == 0
