"""A real `dbt build` over staged fixture files, in a throw-away DuckDB warehouse."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import duckdb

from batch.dbt import run_dbt
from ingestion.landing.load import run_load

RENAMED = [("cleaned", "cleaned_contact_locations"), ("enriched", "contact_consent"),
           ("staging", "stg_enrichment__person_answers")]


def test_dbt_build_passes_on_staged_fixtures(workspace, fixture_files):
    run_load(workspace)
    # an upgraded warehouse: relations of models an earlier version had under other names
    # (their rows would escape `contacts forget`) go at the start of the next build
    con = duckdb.connect(str(workspace.warehouse))
    for schema, name in RENAMED:
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"create table {schema}.{name} as select 'jane@example.com' as email")
    con.close()
    assert run_dbt(workspace, ["build"]) == 0

    con = duckdb.connect(str(workspace.warehouse), read_only=True)
    try:
        left = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        assert not set(RENAMED) & set(left)
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
        # a plain build runs every unit test (the nightly phases do not: docs/operations.md)
        units = con.execute("select status, count(*) from monitoring.dbt_results "
                            "where resource_type = 'unit_test' group by all").fetchall()
        manifest = json.loads((Path(os.environ["DBT_TARGET_PATH"]) / "manifest.json").read_text())
        assert units == [("pass", len(manifest["unit_tests"]))] and len(manifest["unit_tests"]) > 10
    finally:
        con.close()


def test_source_freshness_passes_after_a_load(workspace, fixture_files):
    run_load(workspace)
    assert run_dbt(workspace, ["source", "freshness"]) == 0


def test_accounting_test_fails_when_a_row_goes_missing(workspace, fixture_files):
    """The singular test is honest: delete one loaded row and `dbt build` fails.

    Its failing rows are then kept as a view in test_failures, and only then: a view an
    earlier failure left behind goes when the test passes."""
    # the staging models and their tests that need nothing else (cautious), and this test
    accounting = ["build", "--indirect-selection", "cautious", "--select", "assert_landing_rows_are_all_accounted_for",
                  "stg_landing__contacts", "stg_landing__file_loads", "stg_landing__quarantined_rows"]
    view = "test_failures.assert_landing_rows_are_all_accounted_for"
    run_load(workspace)
    con = duckdb.connect(str(workspace.warehouse))
    con.execute("create schema test_failures")
    con.execute(f"create view {view} as select 'an earlier night' as file_path")
    con.close()
    assert run_dbt(workspace, accounting) == 0

    con = duckdb.connect(str(workspace.warehouse))
    kept = {name for (name,) in con.execute("select table_name from information_schema.tables "
                                            "where table_schema = 'test_failures'").fetchall()}
    warned = {name for (name,) in con.execute("select node_name from monitoring.dbt_results "
                                              "where status = 'warn'").fetchall()}
    assert warned and kept == warned  # the fixture files' warnings, and the stale view is gone
    con.execute("delete from raw_landing.contacts where source_record_id = '5'")
    con.close()
    assert run_dbt(workspace, accounting) != 0

    con = duckdb.connect(str(workspace.warehouse), read_only=True)
    try:
        files = con.execute(f"select file_path from {view}").fetchall()
        stored = con.execute("select status, stored_failures_relation from monitoring.dbt_results "
                             "where node_name = 'assert_landing_rows_are_all_accounted_for' "
                             "order by recorded_at").fetchall()
        failed = con.execute("select node_name from monitoring.dbt_results "
                             "where status in ('fail', 'error')").fetchall()
    finally:
        con.close()
    assert len(files) == 1 and files[0][0].endswith(".csv")
    assert [status for status, _ in stored] == ["pass", "fail"]
    assert stored[0][1] is None and stored[1][1].replace('"', "").endswith(view)
    assert failed == [("assert_landing_rows_are_all_accounted_for",)]  # it alone, for the missing row


def _cleaned_rows(settings) -> set[tuple]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return set(con.execute("select * exclude (cleaned_at) from cleaned.cleaned_contacts").fetchall())
    finally:
        con.close()


def _cleaned_at(settings) -> dict[str, object]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return dict(con.execute("select contact_record_id, cleaned_at from cleaned.cleaned_contacts").fetchall())
    finally:
        con.close()


# the layers up to the cleaned one and the data tests on them alone (cautious: not a test
# that also reads a later layer); the unit tests ran in the plain build above
UP_TO_CLEANED = ["build", "--select", "+path:models/cleaned", "--indirect-selection", "cautious",
                 "--exclude", "test_type:unit"]


def test_cleaned_layer_is_incremental_and_equals_a_full_rebuild(workspace, fixture_files):
    run_load(workspace)
    assert run_dbt(workspace, UP_TO_CLEANED) == 0
    first = _cleaned_at(workspace)

    # a new file arrives: only its records are cleaned, the earlier ones are left alone
    (workspace.landing_dir / "crm__second_batch.csv").write_text(
        "Record ID,First Name,Last Name,Email,Country,Job Title\n"
        "9,NEW,PERSON,new.person@example.org,USA,VP Sales\n", encoding="utf-8")
    run_load(workspace)
    assert run_dbt(workspace, UP_TO_CLEANED) == 0
    second = _cleaned_at(workspace)
    assert len(second) == len(first) + 1
    assert all(second[key] == first[key] for key in first), "earlier records were cleaned again"
    incremental = _cleaned_rows(workspace)

    # the same tables as a full rebuild
    assert run_dbt(workspace, ["run", "--select", "path:models/cleaned", "--full-refresh"]) == 0
    assert _cleaned_rows(workspace) == incremental

    # a rule change (here the version var) re-cleans every record by itself
    before = _cleaned_at(workspace)
    assert run_dbt(workspace, ["run", "--select", "path:models/cleaned",
                               "--vars", "{cleaned_rules_version: a-rule-changed}"]) == 0
    after = _cleaned_at(workspace)
    assert set(after) == set(before) and all(after[key] > before[key] for key in before)
