"""The same batch on local Spark and on DuckDB, from the same raw rows (`make test-spark`).

The demo's landing files go through dlt's filesystem destination once (Parquet, one folder
per table); Spark registers those folders, DuckDB copies them into its warehouse. Night 1
is a full `dbt build` on both engines (on Spark every seed, model, hook, data test and unit
test dbt runs there); night 2, a delta of new files, an incremental build (`dbt run` on
Spark: night 1 ran its tests). After each night every model's row count must agree, and
the identity map, golden records, dim_contacts, cleaned contacts, memberships and exports
on every column but those that say when and in which run a row was built. The pairs'
similarity scores are reported, not asserted (name_similarity is the same function on both
engines now, so they agree too). Then Spark's night 2 must equal a full rebuild of the
cleaned and deduped layers under the same match weights (DuckDB's: night 1 shows the two
engines build the same tables), and the clustering's unit test, which dbt does not run on
Spark, must hold there through real tables.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psutil
import pytest

from batch.dbt import run_dbt
from ingestion.landing.load import run_load
from ingestion.pipelines import raw_tables
from ingestion.settings import REPO_ROOT, Settings, load_settings
from tooling.demo.generator import generate

CONTACTS, DELTA = 1200, 250
# compared on every column (but the build's own timestamps)
WHOLE = ("contact_identity_map", "deduped_golden_records", "golden_contacts", "dim_contacts", "cleaned_contacts",
         "segment_memberships", "segment_membership_history", "campaign_export_contacts", "campaign_contact_status",
         "campaign_suppressions")
# when a row was built, by which run: differ between any two builds (members_fingerprint is
# a hash over its records' cleaned_at, the golden record's incremental bookkeeping)
BUILD_COLUMNS = {"cleaned_at", "records_cleaned_at", "last_cleaned_at", "compared_at", "estimated_at", "updated_at",
                 "measured_at", "invocation_id", "entered_at", "left_at", "in_segment_since", "event_at",
                 "entered_invocation_id", "left_invocation_id", "members_fingerprint", "first_issued_at",
                 "status_changed_at"}
# layers a full rebuild redoes from the raw rows (the match weights kept, as a night keeps them)
REBUILT = ("cleaned", "deduped")


@dataclass
class Night:
    spark: Path    # Spark's models as Parquet folders, one per model
    duckdb: Path   # DuckDB's warehouse, copied after the night's build
    spark_code: int
    duckdb_code: int


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Path]]:
    root = tmp_path_factory.mktemp("spark")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "CONTACTS_WAREHOUSE": root / "duckdb" / "contacts.duckdb", "LANDING_DIR": root / "landing",
            "EXPORT_DIR": root / "exports", "GROUND_TRUTH_DIR": root / "truth", "REPORT_DIR": root / "reports",
            "CONTACTS_RAW_DESTINATION": "filesystem", "CONTACTS_RAW_DIR": root / "raw",
            "CONTACTS_SPARK_DIR": root / "spark", "DBT_LOG_PATH": root / "logs",
        }.items():
            patch.setenv(name, str(value))
        (root / "landing").mkdir()
        yield load_settings(), root


def spark_night(settings: Settings, root: Path, night: str, dbt_args: list[str]) -> tuple[int, Path]:
    """register the raw tables, one dbt command line on Spark, the models as Parquet; prints
    the time and the peak memory of the process and its JVM"""
    out = root / f"spark_{night}"
    env = {**settings.dbt_env(), "DBT_TARGET_PATH": str(root / f"target_spark_{night}")}
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, str(Path(__file__).parent / "spark_night.py"), "--snapshot", str(out),
                                "--", *dbt_args], cwd=REPO_ROOT, env=env)
    tree, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, sum(p.memory_info().rss for p in [tree, *tree.children(recursive=True)]))
        time.sleep(0.5)
    print(f"Spark night {night} ({' '.join(dbt_args[:1])}, then the snapshot): {time.monotonic() - started:.0f} s, "
          f"peak {peak / 2**30:.2f} GB (Python and JVM)")
    return process.returncode, out


def duckdb_night(settings: Settings, root: Path, night: str, dbt_args: list[str]) -> tuple[int, Path]:
    """the raw Parquet copied into the DuckDB warehouse, one dbt command line, a copy of the warehouse"""
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with raw_tables(settings) as raw:
        raw.execute(f"attach '{settings.warehouse}' as warehouse")
        for dataset, table in raw.execute("select schema_name, view_name from duckdb_views() "
                                          "where not internal and database_name = 'memory'").fetchall():
            raw.execute(f'create schema if not exists warehouse."{dataset}"')
            raw.execute(f'create or replace table warehouse."{dataset}"."{table}" as '
                        f'select * from "{dataset}"."{table}"')
        raw.execute("detach warehouse")
    os.environ["DBT_TARGET_PATH"] = str(root / f"target_duckdb_{night}")
    code = run_dbt(settings, dbt_args)
    copy = root / f"duckdb_{night}.duckdb"
    copy.write_bytes(settings.warehouse.read_bytes())
    return code, copy


@pytest.fixture(scope="module")
def night_1(env: tuple[Settings, Path]) -> Night:
    settings, root = env
    generate(CONTACTS, 19, settings.landing_dir, settings.ground_truth_dir)
    run_load(settings)
    duckdb_code, duckdb_copy = duckdb_night(settings, root, "1", ["build"])
    spark_code, spark_out = spark_night(settings, root, "1", ["build"])
    return Night(spark_out, duckdb_copy, spark_code, duckdb_code)


@pytest.fixture(scope="module")
def night_2(env: tuple[Settings, Path], night_1: Night) -> Night:
    settings, root = env
    generate(DELTA, 20, settings.landing_dir / "delta", settings.ground_truth_dir / "delta")
    run_load(settings)
    duckdb_code, duckdb_copy = duckdb_night(settings, root, "2", ["build"])
    # the night's data tests ran on night 1: this night is about the rows it leaves
    spark_code, spark_out = spark_night(settings, root, "2", ["run"])
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
        if name in BUILD_COLUMNS or (kind == "DOUBLE" and not scores):
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


def test_night_1_spark_builds_green_and_equals_duckdb(night_1: Night) -> None:
    assert night_1.duckdb_code == 0
    assert night_1.spark_code == 0, "dbt build on Spark failed: see its log above"
    differences = compare(night_1)
    print("night 1 similarity scores that differ (pairs):", score_differences(night_1))
    assert differences == {"counts": {}, "rows": {}}


def test_night_2_incremental_on_spark_equals_duckdb(night_2: Night) -> None:
    assert night_2.duckdb_code == 0
    assert night_2.spark_code == 0
    differences = compare(night_2)
    print("night 2 similarity scores that differ (pairs):", score_differences(night_2))
    assert differences == {"counts": {}, "rows": {}}


def test_night_2_on_spark_equals_a_full_rebuild(env: tuple[Settings, Path], night_2: Night) -> None:
    settings, root = env
    selection = ["--select", *(f"path:models/{layer}" for layer in REBUILT), "--exclude", "deduped_match_parameters"]
    code, rebuilt = duckdb_night(settings, root, "2_rebuilt", ["run", "--full-refresh", *selection])
    assert code == 0
    models = [p.stem for layer in REBUILT for p in (REPO_ROOT / "models" / layer).glob("*.sql")]
    differences = compare(Night(night_2.spark, rebuilt, 0, 0), models, whole=tuple(models), live=True)
    assert differences == {"counts": {}, "rows": {}}


def test_the_clustering_unit_test_holds_on_spark_through_the_steps(env: tuple[Settings, Path], night_2: Night) -> None:
    """clusters_split_a_conflict_along_the_strongest_links, which dbt does not run on Spark
    (a unit test is one query; this model is built in steps there): its rows as tables."""
    settings, root = env
    code = subprocess.run([sys.executable, str(Path(__file__).parent / "spark_night.py"), "--unit-test",
                           "clusters_split_a_conflict_along_the_strongest_links"], cwd=REPO_ROOT,
                          env={**settings.dbt_env(), "DBT_TARGET_PATH": str(root / "target_spark_2")},
                          check=False).returncode
    assert code == 0
