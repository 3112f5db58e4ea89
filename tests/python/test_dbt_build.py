"""A real `dbt build` over staged fixture files, in a throw-away DuckDB warehouse."""

from __future__ import annotations

import datetime as dt

import duckdb

from ingestion.cli import run_dbt
from ingestion.load import run_load


def test_dbt_build_passes_on_staged_fixtures(workspace, fixture_files):
    run_load(workspace)
    assert run_dbt(workspace, ["build"]) == 0

    con = duckdb.connect(str(workspace.warehouse), read_only=True)
    try:
        types = dict(con.execute("select column_name, data_type from information_schema.columns "
                             "where table_schema = 'staging' and table_name = 'stg_landing__contacts'").fetchall())
        assert types["is_opted_out"] == "BOOLEAN"
        assert types["source_updated_at"] == "TIMESTAMP"
        assert types["loaded_at"] == "TIMESTAMP"
        row = con.execute("""select is_opted_out, source_updated_at, source_line_number
                         from staging.stg_landing__contacts where source_record_id = '5'""").fetchone()
        assert row == (False, dt.datetime(2025, 3, 14, 9, 21), 8)
        statuses = dict(con.execute("select file_path, load_status from staging.stg_landing__file_loads").fetchall())
        assert statuses["notes.xlsx"] == "failed"
        assert con.execute("select count(*) from staging.stg_landing__quarantined_rows").fetchone()[0] == 7
    finally:
        con.close()


def test_source_freshness_passes_after_a_load(workspace, fixture_files):
    run_load(workspace)
    assert run_dbt(workspace, ["source", "freshness"]) == 0


def test_accounting_test_fails_when_a_row_goes_missing(workspace, fixture_files):
    """The singular test is honest: delete one loaded row and `dbt build` fails."""
    run_load(workspace)
    con = duckdb.connect(str(workspace.warehouse))
    con.execute("delete from raw_landing.contacts where source_record_id = '5'")
    con.close()
    assert run_dbt(workspace, ["build", "--select", "assert_landing_rows_are_all_accounted_for+",
                               "stg_landing__contacts", "stg_landing__file_loads",
                               "stg_landing__quarantined_rows"]) != 0
