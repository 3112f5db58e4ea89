"""Spark's catalog and dlt's raw Parquet folders: a column a newer loader adds reaches the table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.settings import REPO_ROOT

SCRIPT = """
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from batch.spark_functions import register_raw_tables, spark_session

raw = Path(sys.argv[1])
spark = spark_session()
register_raw_tables(spark, raw)
print("before", sorted(spark.table("raw_upgrade.things").columns))
pq.write_table(pa.table({"id": ["b"], "api": ["pdl_company_bulk"]}), raw / "raw_upgrade" / "things" / "2.parquet")
register_raw_tables(spark, raw)
rows = sorted(tuple(r) for r in spark.table("raw_upgrade.things").select("id", "api").collect())
print("after", sorted(spark.table("raw_upgrade.things").columns), rows)
"""


def test_a_column_added_to_a_raw_folder_after_registration_reaches_the_spark_table(tmp_path: Path) -> None:
    """A warehouse registered before an upgrade: its catalog holds the old columns, the new
    files carry one more (`api` of the provider answers, `deleted` of the CRM rows). The next
    registration sees it, and the old files read it as null."""
    folder = tmp_path / "raw" / "raw_upgrade" / "things"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": ["a"]}), folder / "1.parquet")
    env = {**os.environ, "CONTACTS_SPARK_DIR": str(tmp_path / "spark"), "CONTACTS_TARGET": "spark"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "raw")], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "before ['id']" in done.stdout
    assert "after ['api', 'id'] [('a', None), ('b', 'pdl_company_bulk')]" in done.stdout, done.stdout
