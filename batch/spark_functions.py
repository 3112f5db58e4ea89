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
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from jinja2 import Environment

from batch.duckdb_functions import FUNCTIONS
from ingestion.settings import REPO_ROOT

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


def register_functions(spark: Any) -> list[str]:
    """Register every function of batch.duckdb_functions on `spark`; returns their names."""
    from pyspark.sql.functions import arrow_udf

    for name, function, _, _, spark_type in FUNCTIONS:
        spark.udf.register(name, arrow_udf(_arrow_function(function), spark_type))
    return [name for name, *_ in FUNCTIONS]


def prepare_environment(repo_root: Path = REPO_ROOT) -> None:
    """What a local session needs before the JVM starts: the loopback address, this
    interpreter for the Python workers (they import this project), paths from the repo root."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.chdir(repo_root)


def spark_session(target: str = TARGET) -> Any:
    """The local Spark session of the profile's `target`, with the project's functions."""
    from pyspark.sql import SparkSession

    prepare_environment()
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in profile_parameters(target=target).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    register_functions(spark)
    return spark


def run_dbt(args: list[str], target: str = TARGET) -> int:
    """Run one dbt command line on the Spark `target` in this process; dbt's exit code."""
    from dbt.cli.main import dbtRunner

    spark_session(target)
    if "--target" not in args and "-t" not in args:
        args = [*args, "--target", target]
    if "--profiles-dir" not in args:
        args = [*args, "--profiles-dir", str(REPO_ROOT / "profiles"), "--project-dir", str(REPO_ROOT)]
    result = dbtRunner().invoke(args)
    if result.exception is not None:
        print(f"dbt failed: {result.exception}", file=sys.stderr)
        return 2
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(run_dbt(sys.argv[1:]))
