"""One Spark invocation of the parity test, in its own process (one JVM, one Derby metastore):
register the raw tables dlt wrote, run one dbt command line on the spark target, then write
every model dbt knows (tables and views) as Parquet under --snapshot, for the test to
compare with DuckDB's.

    python tests/spark/spark_night.py --snapshot DIR [--models A,B] -- build --vars ...

Or run one of the project's unit tests through real tables, for a model built in steps on
Spark, where a unit test (one query over its fixtures) cannot run: the model's inputs are
replaced by the test's `given` rows (in the inputs' own column types, missing columns
null), the model is rebuilt with the test's vars, and its rows are checked against
`expect`. It overwrites the inputs: the last use of a warehouse.

    python tests/spark/spark_night.py --unit-test NAME

Paths come from the environment, as for any run: CONTACTS_RAW_DIR, CONTACTS_SPARK_DIR,
DBT_TARGET_PATH (where the manifest is read).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

from batch.spark_functions import register_raw_tables, run_dbt, spark_session
from ingestion.settings import REPO_ROOT, load_settings


def model_relations(target_path: Path) -> dict[str, str]:
    """model name -> `schema.alias` of every model of the manifest that is built (not ephemeral)."""
    manifest = json.loads((target_path / "manifest.json").read_text(encoding="utf-8"))
    return {node["name"]: f"{node['schema']}.{node['alias']}" for node in manifest["nodes"].values()
            if node["resource_type"] == "model" and node["config"]["materialized"] != "ephemeral"
            and node["config"].get("enabled", True)}


def snapshot(relations: dict[str, str], out: Path) -> None:
    """Each relation's rows as one Parquet folder `out/<model>` (timestamps as microseconds)."""
    spark = spark_session()
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    for name, relation in relations.items():
        if not spark.catalog.tableExists(relation):
            continue
        spark.table(relation).coalesce(1).write.mode("overwrite").parquet(str(out / name))


def unit_test(name: str) -> dict:
    """The unit test `name` as written in the models' yml."""
    for path in sorted((REPO_ROOT / "models").rglob("*.yml")):
        for test in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("unit_tests") or []:
            if test["name"] == name:
                return test
    raise SystemExit(f"no unit test {name!r} under models/")


def _text(value: object) -> str | None:
    return None if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def run_unit_test_on_tables(name: str) -> int:
    """0 when the model, rebuilt from the test's `given` rows as tables, holds its `expect`
    rows (on the columns they name); what differs is printed."""
    test = unit_test(name)
    relations = model_relations(Path(os.environ["DBT_TARGET_PATH"]))
    spark = spark_session()
    for given in test["given"]:
        relation = relations[given["input"].split("'")[1]]
        fields = spark.table(relation).schema.fields
        rows = [tuple(_text(row.get(field.name)) for field in fields) for row in given["rows"]]
        frame = spark.createDataFrame(rows, ", ".join(f"`{field.name}` string" for field in fields))
        typed = frame.selectExpr(*(f"cast(`{field.name}` as {field.dataType.simpleString()}) as `{field.name}`"
                                   for field in fields))
        kind = "view" if spark.catalog.getTable(relation).tableType == "VIEW" else "table"
        spark.sql(f"drop {kind} {relation}")
        typed.write.format("parquet").saveAsTable(relation)
    code = run_dbt(["run", "--select", test["model"], "--full-refresh",
                    "--vars", json.dumps((test.get("overrides") or {}).get("vars") or {})])
    if code:
        return code
    expected = test["expect"]["rows"]
    columns = list(expected[0])
    actual = {tuple(_text(value) for value in row) for row in spark.sql(
        f"select {', '.join(columns)} from {relations[test['model']]}").collect()}
    wanted = {tuple(_text(row.get(column)) for column in columns) for row in expected}
    for row in sorted(wanted - actual, key=str):
        print("expected, missing:", dict(zip(columns, row, strict=True)))
    for row in sorted(actual - wanted, key=str):
        print("not expected:", dict(zip(columns, row, strict=True)))
    return 0 if actual == wanted else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--snapshot", type=Path)
    parser.add_argument("--unit-test")
    parser.add_argument("--models", help="only these models in the snapshot (comma-separated)")
    parser.add_argument("dbt", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.unit_test:
        return run_unit_test_on_tables(args.unit_test)
    dbt_args = args.dbt[1:] if args.dbt[:1] == ["--"] else args.dbt
    code = 0
    if dbt_args:  # none: only the snapshot
        register_raw_tables(spark_session(), load_settings("spark").raw_dir)
        code = run_dbt(dbt_args)
    # the models as they stand, whatever dbt said: the test reports what differs
    relations = model_relations(Path(os.environ["DBT_TARGET_PATH"]))
    if args.models:
        relations = {name: relations[name] for name in args.models.split(",")}
    snapshot(relations, args.snapshot)
    return code


if __name__ == "__main__":
    sys.exit(main())
