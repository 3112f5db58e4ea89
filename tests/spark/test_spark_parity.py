"""The same batch on local Spark and on DuckDB, from the same landing files (`make test-spark`).

Night 1 is the nightly command on each engine (`contacts-demo run --target spark|duckdb`:
load, build, enrich against the provider emulator, build, export, report); each loads the
landing files itself (Spark's raw tables are Parquet, dlt's filesystem destination) and
asks the emulator itself. Both runs must succeed, their export files hold the same rows,
every model's row count agrees, and the identity map, golden records, dim_contacts,
cleaned contacts, memberships and export models agree on every column but those that say
when and in which run a row was built, loaded or enriched. Night 2, a delta of new files
loaded by each engine, an incremental build of the models on each (night 1 ran the data
tests), each model after its unit tests (the nightly command leaves those to CI), compared
the same way. The pairs' similarity scores are reported, not
asserted (name_similarity is the same function on both engines, so they agree too). Then
Spark's night 2 must equal a full rebuild of the cleaned and deduped layers under the same
match weights (DuckDB's: night 1 shows the two engines build the same tables). Night 3
brings newer versions of known records and new contacts, compared the same two ways. Then
a person is erased on both engines (`contacts forget`): no file of the Spark engine keeps
a trace, and the lists left are the same. Then the cleaned layer is rebuilt on Spark with
the Python functions looked up in tables (the path for a cluster) and must equal DuckDB's,
which calls them. Last, the clustering's unit test, which dbt does
not run on Spark, must hold there through real tables (it overwrites the inputs).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
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


# night 2's dbt: the models, each after its unit tests (which the nightly command leaves to
# CI: the unit tests run on Spark here), no data test
UNIT_TESTS_AND_MODELS = ["build", "--select", "resource_type:model", "test_type:unit", "--indirect-selection", "empty"]


def incremental_night(env: Engines, night: str, dbt_args: list[str] | None = None) -> Night:
    """The landing folder's new files loaded by each engine, then an incremental `dbt run`
    (or `dbt_args`) on each (night 1 ran the data tests on both, and make test runs DuckDB's
    on delta nights: these nights are about the rows they leave)"""
    run_load(env.duckdb)
    run_load(env.spark)
    duckdb_code, duckdb_copy = duckdb_night(env, night, dbt_args or ["run"])
    spark_code, spark_out = spark_night(env, night, dbt_args or ["run"])
    return Night(spark_out, duckdb_copy, spark_code, duckdb_code)


@pytest.fixture(scope="module")
def night_2(env: Engines, night_1: Night) -> Night:
    generate(DELTA, 20, env.spark.landing_dir / "delta", env.spark.ground_truth_dir / "delta")
    return incremental_night(env, "2", UNIT_TESTS_AND_MODELS)


def unit_test_results(env: Engines, engine: str, night: str) -> list[tuple[str, str]]:
    """(status, count) of the unit tests in an engine's night, from dbt's run_results.json"""
    results = json.loads((env.root / f"target_{engine}_{night}" / "run_results.json").read_text())["results"]
    statuses = [r["status"] for r in results if r["unique_id"].startswith("unit_test.")]
    return sorted((status, statuses.count(status)) for status in set(statuses))


def write_updates(landing: Path, rows: int) -> Path:
    """A CRM's re-export of `rows` contacts it sent on night 1, changed since: a new phone
    number and job title, a later modification date (newer versions of the same records)"""
    export = landing / "hubspot__contacts_export.csv"
    with export.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header, records = reader.fieldnames, list(reader)[:rows]
    for number, record in enumerate(records):
        record["Phone Number"] = f"+1 (312) 555-{number:04d}"
        record["Job Title"] = "Chief Marketing Officer" if number % 2 else "VP Sales"
        record["Last Modified Date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    updates = landing / "hubspot__contacts_update.csv"
    with updates.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, header)
        writer.writeheader()
        writer.writerows(records)
    return updates


@pytest.fixture(scope="module")
def night_3(env: Engines, night_2: Night) -> Night:
    """Night 3: newer versions of 60 known records, and 100 new contacts"""
    write_updates(env.spark.landing_dir, 60)
    generate(100, 21, env.spark.landing_dir / "delta_3", env.spark.ground_truth_dir / "delta_3")
    return incremental_night(env, "3")


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
    # the same data tests warn or fail on both engines, each naming its view in test_failures
    verdicts = {engine: sorted(rows_of(settings, "select node_name, status, stored_failures_relation is not null "
                                                 "from monitoring.dbt_results where resource_type = 'test' "
                                                 "and status in ('warn', 'fail')"))
                for engine, settings in (("spark", env.spark), ("duckdb", env.duckdb))}
    print("night 1 data tests that warned or failed:", verdicts["duckdb"])
    assert verdicts["spark"] == verdicts["duckdb"]
    assert (env.spark.report_dir / "nightly_report.html").stat().st_size > 0
    differences = compare(night_1)
    print("night 1 similarity scores that differ (pairs):", score_differences(night_1))
    assert differences == {"counts": {}, "rows": {}}
    spark_files, duckdb_files = export_files(env.spark.export_dir), export_files(env.duckdb.export_dir)
    print(f"exports: {len(spark_files)} files, {sum(len(rows) for rows in spark_files.values())} rows on Spark")
    assert spark_files == duckdb_files
    assert any(spark_files.values())


def test_night_2_incremental_on_spark_equals_duckdb(env: Engines, night_2: Night) -> None:
    assert night_2.duckdb_code == 0
    assert night_2.spark_code == 0
    # the unit tests ran, and passed, on both engines (all but the clustering's on Spark:
    # test_the_clustering_unit_test_holds_on_spark_through_the_steps)
    units = {engine: unit_test_results(env, engine, "2") for engine in ("spark", "duckdb")}
    print("night 2 unit tests:", units)
    assert [status for status, _ in units["spark"]] == ["pass"] == [status for status, _ in units["duckdb"]]
    assert units["spark"][0][1] == units["duckdb"][0][1] - 1 > 10
    differences = compare(night_2)
    print("night 2 similarity scores that differ (pairs):", score_differences(night_2))
    assert differences == {"counts": {}, "rows": {}}


def equals_a_full_rebuild(env: Engines, night: Night, name: str) -> dict[str, object]:
    """What differs between Spark's incremental night and a full rebuild of the cleaned and
    deduped layers (DuckDB's, from the same raw rows, under the same match weights)"""
    selection = ["--select", *(f"path:models/{layer}" for layer in REBUILT), "--exclude", "deduped_match_parameters"]
    code, rebuilt = duckdb_night(env, f"{name}_rebuilt", ["run", "--full-refresh", *selection])
    assert code == 0
    models = [p.stem for layer in REBUILT for p in (REPO_ROOT / "models" / layer).glob("*.sql")]
    return compare(Night(night.spark, rebuilt, 0, 0), models, whole=tuple(models), live=True)


def test_night_2_on_spark_equals_a_full_rebuild(env: Engines, night_2: Night) -> None:
    assert equals_a_full_rebuild(env, night_2, "2") == {"counts": {}, "rows": {}}


def test_night_3_updates_on_spark_equal_duckdb_and_a_full_rebuild(env: Engines, night_3: Night) -> None:
    assert night_3.duckdb_code == 0
    assert night_3.spark_code == 0
    # the newer versions took: the cleaned records hold the new phones
    updated = duckdb.connect().execute(f"""
        select count(*) from read_parquet('{night_3.spark / "cleaned_contacts"}/*.parquet')
        where phone_e164 like '+1312555%'""").fetchone()[0]
    assert updated >= 60
    # the pairs where they are candidates today: night 2's check rebuilt DuckDB's cleaned and
    # deduped layers, which drops the pairs that stopped being candidates; Spark's nights keep them
    differences = compare(night_3, live=True)
    print("night 3 similarity scores that differ (pairs):", score_differences(night_3))
    assert differences == {"counts": {}, "rows": {}}
    assert equals_a_full_rebuild(env, night_3, "3") == {"counts": {}, "rows": {}}


def forget(settings: Settings, email: str, root: Path) -> subprocess.CompletedProcess:
    """`contacts forget --target <engine> --email ...`, its output kept (and its time printed)"""
    env = {**settings.dbt_env(), "DBT_TARGET_PATH": str(root / f"target_forget_{settings.target}")}
    log = root / f"forget_{settings.target}.log"
    code = watched([sys.executable, "-m", "batch", "forget", "--target", settings.target, "--email", email], env,
                   f"contacts forget on {settings.target}", log)
    return subprocess.CompletedProcess([], code, log.read_text(encoding="utf-8"))


def traces_in_files(folders: list[Path], traces: set[str]) -> list[tuple[str, str]]:
    """(file, trace) for each trace found in a file under `folders`: in its bytes, and in the
    decoded rows of a Parquet file (whose pages may be compressed)."""
    found = []
    for path in (p for folder in folders for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        text = ""
        if path.suffix == ".parquet" and data[:4] == b"PAR1":
            text = str(duckdb.sql(f"select * from read_parquet('{path}')").fetchall()).lower()
        found += [(str(path), t) for t in traces if t.encode() in data or t.lower() in text]
    return found


def test_an_erasure_on_spark_leaves_no_byte_and_the_same_lists_as_on_duckdb(env: Engines, night_3: Night) -> None:
    """`contacts forget --target spark`: the person's raw rows become erased quarantine rows in
    the Parquet folders, Spark's tables and the published copies are rebuilt without them, and
    no file of the Spark engine holds their address or phone; the lists left equal DuckDB's
    after the same erasure."""
    contact_id, email, phone = rows_of(env.duckdb, """
        select contact_id, email_address, phone_e164 from exports.campaign_export_contacts
        where phone_e164 is not null order by contact_id limit 1""")[0]
    raw = rows_of(env.duckdb, f"""
        select raw.email, raw.phone from raw_landing.contacts as raw
        inner join deduped.contact_identity_map as map
            on map.contact_record_id = concat_ws('-', raw._file_load_id, cast(raw._source_row_number as varchar))
        where map.contact_id = '{contact_id}'""")
    traces = {email, phone} | {e.strip() for e, _ in raw if e and len(e.strip()) > 5}
    traces |= {p.strip() for _, p in raw if p and len(p.strip()) > 7}
    spark_files = [env.spark.spark_dir, env.spark.raw_dir, env.spark.export_dir, env.spark.report_dir,
                   env.root / "logs"]
    assert traces_in_files([env.spark.raw_dir, env.spark.export_dir], traces)  # found before

    erased = forget(env.spark, email, env.root)
    assert erased.returncode == 0, "contacts forget on Spark failed: see its output above"
    assert not any(t in erased.stdout for t in traces)
    assert traces_in_files(spark_files, traces) == []
    assert rows_of(env.spark, f"select count(*) from exports.campaign_export_contacts "
                              f"where contact_id = '{contact_id}'") == [(0,)]
    # every landing row still accounted for: the person's rows are quarantined as erased
    assert rows_of(env.spark, """
        select count(*) from raw_landing.quarantined_rows where reason_code = 'erased'""")[0][0] == len(raw) > 0

    assert forget(env.duckdb, email, env.root).returncode == 0
    spark_exports, duckdb_exports = export_files(env.spark.export_dir), export_files(env.duckdb.export_dir)
    assert spark_exports == duckdb_exports


# what the Python functions make (the cleaned layer) and the one model after it that calls one
NORMALISED_MODELS = ("cleaned_contact_emails", "cleaned_contact_phones", "cleaned_contact_names",
                     "cleaned_contact_countries", "cleaned_contact_addresses", "cleaned_contact_companies",
                     "cleaned_contact_titles", "cleaned_contacts", "enriched_contact_consent")


def test_the_functions_looked_up_in_tables_on_spark_equal_duckdb(env: Engines, night_3: Night) -> None:
    """The path for a cluster whose session the project does not own (CONTACTS_NORMALISERS=
    table): the functions' values computed into normalised.* by a Spark job of the project's
    (batch.spark_functions normalise), then the cleaned layer rebuilt looking them up, with
    no function registered on the session that dbt runs in. It must equal DuckDB's, which
    calls the functions (after the erasure above, on both engines: each one full-refreshed)."""
    environment = {**env.spark.dbt_env(), "CONTACTS_NORMALISERS": "table",
                   "DBT_TARGET_PATH": str(env.root / "target_spark_normalised")}
    assert watched([sys.executable, "-m", "batch.spark_functions", "normalise"], environment,
                   "Spark: the functions' values into normalised.*", env.root / "normalise.log") == 0
    assert "normalised values: name_case +" in (env.root / "normalise.log").read_text(encoding="utf-8")
    out = env.root / "spark_normalised"
    # dbt's session has no normaliser registered (batch.spark_functions.spark_session): a call
    # the `normalised` macro let through would fail
    command = snapshot_command(out, ["run", "--full-refresh", "--select", "path:models/cleaned",
                                     "enriched_contact_consent"])
    command[2:2] = ["--models", ",".join(NORMALISED_MODELS)]
    assert watched(command, environment, "Spark: the cleaned layer from the normalised tables") == 0
    night = Night(out, copy_warehouse(env, "normalised"), 0, 0)
    assert compare(night, list(NORMALISED_MODELS), whole=NORMALISED_MODELS) == {"counts": {}, "rows": {}}


def test_the_clustering_unit_test_holds_on_spark_through_the_steps(env: Engines, night_3: Night) -> None:
    """clusters_split_a_conflict_along_the_strongest_links, which dbt does not run on Spark
    (a unit test is one query; this model is built in steps there): its rows as tables."""
    code = subprocess.run([sys.executable, str(Path(__file__).parent / "spark_night.py"), "--unit-test",
                           "clusters_split_a_conflict_along_the_strongest_links"], cwd=REPO_ROOT,
                          env={**env.spark.dbt_env(), "DBT_TARGET_PATH": str(env.root / "target_spark_3")},
                          check=False).returncode
    assert code == 0
