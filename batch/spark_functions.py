"""The models' Python functions on Spark, and dbt run in the process that owns the session.

OSS Spark SQL has no `CREATE FUNCTION ... LANGUAGE PYTHON`, and dbt-spark has no plugin hook
like dbt-duckdb's. What it does have, in session mode: every statement asks
`SparkSession.builder.getOrCreate()` for its session, which returns the one this process
already started. So `spark_session()` starts it with the profile's settings and registers
the functions of batch.duckdb_functions (the same Arrow functions, one Python call per
batch, via `arrow_udf`), and `run_dbt()` then runs dbt in this process: every model sees
them. A cluster reached over Thrift or Databricks' endpoint owns its session; there the
functions are not available (see "Spark" in the README).

    python -m batch.spark_functions build --target spark     # any dbt command line
    python -m batch.spark_functions register-raw-tables      # dlt's Parquet folders as tables
    python -m batch.spark_functions step build --selector X  # a night's dbt phase (below)
    python -m batch.spark_functions erasure-scope DIR        # contacts forget (batch.privacy)
    python -m batch.spark_functions normalise [--prune]      # CONTACTS_NORMALISERS=table (batch.normalise)
"""

from __future__ import annotations

import os
import shutil
import sys
import unicodedata
from fractions import Fraction
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from jinja2 import Environment

from batch.dbt import parsed_once
from batch.duckdb_functions import FUNCTIONS
from ingestion.pipelines import finish_raw_rewrite, raw_table_folders
from ingestion.settings import REPO_ROOT, load_settings

PROFILE = "contact_enrichment"
TARGET = "spark"


def _env_var(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise KeyError(f"environment variable {name} is not set")
    return value


def profile_parameters(profiles_dir: Path = REPO_ROOT / "profiles", target: str = TARGET) -> dict[str, str]:
    """The Spark target's `server_side_parameters`, rendered as dbt renders them (env_var)."""
    text = (profiles_dir / "profiles.yml").read_text(encoding="utf-8")
    outputs = yaml.safe_load(text)[PROFILE]["outputs"]
    if target not in outputs or outputs[target].get("type") != "spark":
        raise SystemExit(f"profiles.yml has no Spark target {target!r}")
    render = Environment().from_string
    parameters = {}
    for key, value in (outputs[target].get("server_side_parameters") or {}).items():
        parameters[key] = render(str(value)).render(env_var=_env_var)
    return parameters


def _arrow_function(function: Any) -> Any:
    # arrow_udf reads the return annotation: `pa.StructArray` would make it an aggregate
    def scalar(*columns: pa.Array) -> pa.Array:
        return function(*columns)
    return scalar


def _jaro(left: bytes, right: bytes) -> float:
    """Jaro similarity as DuckDB computes it: each byte of `right` in turn takes the first
    free equal byte of `left` within the window, half the transpositions rounded down."""
    if not left or not right:
        return 0.0  # as DuckDB: an empty name is like nothing, not even another empty one
    if len(left) == len(right) == 1:
        return float(left == right)
    window = max(len(left), len(right)) // 2 - 1
    left_matched, right_matched = [False] * len(left), [False] * len(right)
    for j, byte in enumerate(right):
        for i in range(max(0, j - window), min(len(left), j + window + 1)):
            if not left_matched[i] and left[i] == byte:
                left_matched[i] = right_matched[j] = True
                break
    matches = sum(left_matched)
    if not matches:
        return 0.0
    in_left = [byte for byte, matched in zip(left, left_matched, strict=True) if matched]
    in_right = [byte for byte, matched in zip(right, right_matched, strict=True) if matched]
    transpositions = sum(a != b for a, b in zip(in_left, in_right, strict=True)) // 2
    return (matches / len(left) + matches / len(right) + (matches - transpositions) / matches) / 3


def duckdb_jaro_winkler(left: str, right: str) -> float:
    """DuckDB's jaro_winkler_similarity, to the last bit: over the UTF-8 bytes, with the
    prefix boost (0.1 per common byte, at most 4) only above a Jaro similarity of 0.7, the
    boost added in one rounding (DuckDB's build fuses that multiply-add). Spark's own
    function works on characters and boosts every score, which moved 5 of 2,690 demo pairs
    across a level threshold and so every match weight the EM estimates from them."""
    a, b = left.encode(), right.encode()
    similarity = _jaro(a, b)
    if similarity <= 0.7:
        return similarity
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return float(Fraction(prefix * 0.1) * Fraction(1.0 - similarity) + Fraction(similarity))


def duckdb_jaro_winkler_arrow(left: pa.Array, right: pa.Array) -> pa.Array:
    return pa.array([None if a is None or b is None else duckdb_jaro_winkler(a, b)
                     for a, b in zip(left.to_pylist(), right.to_pylist(), strict=True)], pa.float64())


def strip_accents(text: str) -> str:
    """DuckDB's strip_accents: the marks a letter decomposes into taken away (é -> e,
    ä -> a); letters that do not decompose (ł, ø, ß) stay as they are."""
    return unicodedata.normalize("NFC", "".join(
        character for character in unicodedata.normalize("NFD", text) if unicodedata.category(character) != "Mn"))


def strip_accents_arrow(text: pa.Array) -> pa.Array:
    return pa.array([None if value is None else strip_accents(value) for value in text.to_pylist()], pa.string())


# Spark only: what DuckDB has built in, computed the way DuckDB computes it (name_similarity,
# soundex: Spark's soundex drops an accented letter, so lefèvre became L160, not L116)
SPARK_FUNCTIONS: list[tuple[str, Any, str]] = [("duckdb_jaro_winkler", duckdb_jaro_winkler_arrow, "double"),
                                               ("strip_accents", strip_accents_arrow, "string")]


def register_functions(spark: Any, normalisers: bool = True) -> list[str]:
    """Register every function of batch.duckdb_functions (unless not `normalisers`), and
    SPARK_FUNCTIONS, on `spark`; returns their names."""
    from pyspark.sql.functions import arrow_udf

    functions = [(name, function, spark_type) for name, function, _, _, spark_type in FUNCTIONS if normalisers]
    for name, function, spark_type in [*functions, *SPARK_FUNCTIONS]:
        spark.udf.register(name, arrow_udf(_arrow_function(function), spark_type))
    return [name for name, *_ in [*functions, *SPARK_FUNCTIONS]]


def prepare_environment(repo_root: Path = REPO_ROOT) -> None:
    """What a local session needs before the JVM starts: the loopback address, this
    interpreter for the Python workers (they import this project), paths from the repo root."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.chdir(repo_root)


def spark_session(target: str = TARGET, normalisers: bool | None = None) -> Any:
    """The local Spark session of the profile's `target`, with the project's functions. With
    CONTACTS_NORMALISERS=table (unless `normalisers` says otherwise) the normalisers are not
    registered: the models look their values up (batch.normalise), as on a cluster."""
    from pyspark.sql import SparkSession

    prepare_environment()
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in profile_parameters(target=target).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    if normalisers is None:
        normalisers = os.environ.get("CONTACTS_NORMALISERS", "function").strip().lower() != "table"
    register_functions(spark, normalisers)
    return spark


def run_dbt(args: list[str], target: str = TARGET) -> int:
    """Run one dbt command line on the Spark `target` in this process; dbt's exit code."""
    from dbt.cli.main import dbtRunner

    spark_session(target)
    if "--target" not in args and "-t" not in args and args[:1] != ["retry"]:  # retry: the last run's
        args = [*args, "--target", target]
    if "--profiles-dir" not in args:
        args = [*args, "--profiles-dir", str(REPO_ROOT / "profiles"), "--project-dir", str(REPO_ROOT)]
    with parsed_once(load_settings("spark"), os.environ):
        result = dbtRunner().invoke(args)
    if result.exception is not None:
        print(f"dbt failed: {result.exception}", file=sys.stderr)
        return 2
    return 0 if result.success else 1


def register_raw_tables(spark: Any, raw_dir: Path) -> list[str]:
    """Register the raw tables under `raw_dir` (dlt's Parquet folders, and the nightly run's
    records) in Spark's catalog and refresh them, so the sources read every file loaded so
    far; returns their names."""
    finish_raw_rewrite(raw_dir)  # an erasure killed while it swapped raw folders
    tables = []
    for folder in raw_table_folders(raw_dir):
        dataset, table = folder.parent.name, folder.name
        location = folder.resolve().as_posix().replace("'", "\\'")
        spark.sql(f"create database if not exists {dataset}")
        create = f"create table {dataset}.{table} using parquet options (mergeSchema 'true') location '{location}'"
        spark.sql(create.replace("create table", "create table if not exists", 1))
        # the catalog keeps the schema the table was registered with: a column a newer loader
        # added (the API a provider answer came from, a CRM's deleted flag) needs the table
        # registered again, with every file's columns (the files stay where they are)
        written = {name.lower() for path in folder.glob("*.parquet") for name in pq.read_schema(path).names}
        if written - {name.lower() for name in spark.table(f"{dataset}.{table}").columns}:
            spark.sql(f"drop table {dataset}.{table}")
            spark.sql(create)
        spark.sql(f"refresh table {dataset}.{table}")
        tables.append(f"{dataset}.{table}")
    return tables


# what the Python steps of a night read: the enrichment its requests, the exports their rows
# and the reasons a contact left a list, the report and the summary the monitoring. Only
# these: the membership history, an append-only log, grows every night and no step reads it
PUBLISHED = ["reference.enrichment_providers", "enriched.enrichment_requests", "exports.segment_catalog",
             "exports.segment_memberships", "exports.campaign_export_contacts", "exports.campaign_suppressions",
             "exports.campaign_contact_status", "monitoring.dbt_results", "monitoring.pipeline_metrics"]


def publish(spark: Any, out: Path, published: list[str] = PUBLISHED,
            columns: dict[str, list[str]] | None = None) -> list[str]:
    """Copy the models the Python steps read out of Spark's catalog into `out/<schema>/<table>`
    as Parquet (timestamps as UTC wall-clock time, as DuckDB keeps them), each folder swapped
    in whole; only the `columns` named for a relation, if any. Returns what was published (a
    model not built yet is left out)."""
    from pyspark.sql.types import TimestampType

    done = []
    for relation in published:
        if not spark.catalog.tableExists(relation):
            continue
        frame = spark.table(relation)
        if columns and relation in columns:
            frame = frame.select(*columns[relation])
        frame = frame.select(*(frame[f.name].cast("timestamp_ntz").alias(f.name)
                               if isinstance(f.dataType, TimestampType) else frame[f.name]
                               for f in frame.schema.fields))
        schema, table = relation.split(".")
        target, tmp, old = out / schema / table, out / schema / f".{table}.new", out / schema / f".{table}.old"
        frame.coalesce(1).write.mode("overwrite").parquet(str(tmp))
        if target.exists():
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        done.append(relation)
    return done


# `contacts forget`: Spark's tables that keep rows across a full refresh, and what picks a
# person's rows in each (column, file of the erasure's scratch folder, its column). See
# batch.privacy, "on Spark"
ERASED_ROWS = {"segments.segment_membership_events": [("contact_id", "contacts.parquet", "contact_id")],
               "review.merge_decisions": [("source_record_key_a", "record_keys.parquet", "source_record_key"),
                                          ("source_record_key_b", "record_keys.parquet", "source_record_key")]}
KEPT_SUFFIX = "__kept_by_erasure"


def _table_location(spark: Any, relation: str) -> Path:
    """Where a managed table `relation` keeps its files (its schema's folder, then its name)."""
    from urllib.parse import urlparse

    schema, table = relation.split(".")
    return Path(urlparse(spark.catalog.getDatabase(schema).locationUri).path) / table


def finish_erasure_copies(spark: Any, relations: Any = None) -> list[str]:
    """Put back the rows an erasure kept of a table (ERASED_ROWS, or `relations`) if a kill
    stopped it while it rewrote the table; the tables restored."""
    restored = []
    for relation in ERASED_ROWS if relations is None else relations:
        kept = relation + KEPT_SUFFIX
        if spark.catalog.tableExists(kept):  # in the catalog once all its rows were written
            spark.sql(f"insert overwrite table {relation} select * from {kept}")
            spark.sql(f"drop table {kept}")
            restored.append(relation)
    return restored


def rewrite_keeping(spark: Any, relation: str, kept: Any) -> None:
    """Rewrite the Parquet table `relation` with the rows of the DataFrame `kept` (which
    reads it: Spark cannot overwrite a table it reads, nor delete from Parquet): the rows go
    to a table of their own first, so a kill at any point leaves them whole, and
    finish_erasure_copies puts them back."""
    copy = relation + KEPT_SUFFIX
    shutil.rmtree(_table_location(spark, copy), ignore_errors=True)  # files of a copy killed midway
    kept.write.format("parquet").mode("overwrite").saveAsTable(copy)
    finish_erasure_copies(spark, [relation])


def erase_rows(spark: Any, scratch: Path) -> dict[str, int]:
    """Rewrite each table of ERASED_ROWS without the rows of the people the erasure's
    scratch folder names. Rows dropped, by table."""
    from pyspark.sql.functions import col

    finish_erasure_copies(spark)
    dropped = {}
    for relation, conditions in ERASED_ROWS.items():
        if not spark.catalog.tableExists(relation):
            continue
        frame = kept = spark.table(relation)
        for column, file, key in conditions:
            people = spark.read.parquet(str(scratch / file)).select(col(key).alias("erased_key"))
            kept = kept.join(people, kept[column] == people["erased_key"], "left_anti")
        dropped[relation] = frame.count() - kept.count()
        if dropped[relation]:
            rewrite_keeping(spark, relation, kept)
    return dropped


def spark_engine(spark: Any) -> Any:
    """batch.normalise's Engine on a Spark session (with the project's functions registered):
    SQL through spark.sql, a table's rows dropped by a kept copy (rewrite_keeping)."""
    from batch.normalise import SCHEMA, Engine

    def sql(statement: str) -> list[tuple]:
        return [tuple(row) for row in spark.sql(statement).collect()]

    def keep_only(table: str, condition: str) -> None:
        rewrite_keeping(spark, table, spark.sql(f"select * from {table} as kept where {condition}"))

    return Engine(sql=sql, create_schema=f"create database if not exists {SCHEMA}", table_format="using parquet",
                  keep_only=keep_only, finish=lambda tables: finish_erasure_copies(spark, tables))


def night_step(args: list[str]) -> int:
    """One dbt phase of a night on Spark (what `contacts run --target spark` and `contacts
    build` start): the raw tables registered, dbt run with `args`, then the tables the
    Python steps read published, whatever dbt said (the report shows a failed phase too).
    `--erase-rows DIR` first (`contacts forget`): Spark's tables lose the erased people's rows."""
    settings = load_settings("spark")
    spark = spark_session()
    finish_erasure_copies(spark)
    if args[:1] == ["--erase-rows"]:
        dropped = erase_rows(spark, Path(args[1]))
        print("erased rows: " + ", ".join(f"{relation} {n}" for relation, n in dropped.items()), flush=True)
        args = args[2:]
    register_raw_tables(spark, settings.raw_dir)
    code = run_dbt(args)
    publish(spark, settings.published_dir)
    return code


def main(argv: list[str]) -> int:
    if argv[:1] == ["register-raw-tables"]:
        tables = register_raw_tables(spark_session(*argv[1:2]), load_settings("spark").raw_dir)
        print(f"registered {len(tables)} raw table(s)")
        return 0
    if argv[:1] == ["step"]:
        return night_step(argv[1:])
    if argv[:1] == ["normalise"]:  # CONTACTS_NORMALISERS=table: the functions' new values (batch.normalise)
        from batch.normalise import fill, report

        spark = spark_session(normalisers=True)
        register_raw_tables(spark, load_settings("spark").raw_dir)
        print(report(fill(spark_engine(spark), prune="--prune" in argv[1:])), flush=True)
        return 0
    if argv[:1] == ["erasure-scope"]:  # contacts forget: what finds the person, into a scratch folder
        from batch.privacy import ERASURE_SCOPE

        publish(spark_session(), Path(argv[1]), list(ERASURE_SCOPE), ERASURE_SCOPE)
        return 0
    return run_dbt(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
