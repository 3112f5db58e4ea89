"""Landing-file ingestion against a real DuckDB file: accounting, lineage, idempotency, recovery."""

from __future__ import annotations

import json
import os
import time

import pytest
from conftest import query

from ingestion.landing import landing_source
from ingestion.landing.load import make_pipeline, run_load
from ingestion.landing.readers import detect_delimiter, index_records


def contacts_count(settings) -> int:
    return query(settings, "select count(*) from raw_landing.contacts")[0][0]


def test_every_row_is_loaded_or_quarantined(workspace, fixture_files):
    result = run_load(workspace)
    reports = {r.file_path: r for r in result.reports}
    assert set(reports) == set(fixture_files), "hidden files are skipped, every other file is reported"
    for name, expected in fixture_files.items():
        report = reports[name]
        if expected.get("failed"):
            assert report.status == "failed"
            assert report.error_message
            continue
        assert report.status == "loaded", report.error_message
        assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == \
            (expected["read"], expected["loaded"], expected["quarantined"]), name
        assert report.quarantine_reasons == expected["reasons"], name

    # the warehouse holds exactly what the reports say, per file
    loaded = dict(query(workspace, "select _source_file, count(*) from raw_landing.contacts group by 1"))
    quarantined = dict(query(workspace, "select _source_file, count(*) from raw_landing.quarantined_rows group by 1"))
    for name, expected in fixture_files.items():
        if not expected.get("failed"):
            assert loaded.get(name, 0) == expected["loaded"]
            assert quarantined.get(name, 0) == expected["quarantined"]
    log = dict(query(workspace, "select file_path, status from raw_landing.file_loads"))
    assert log["broken__file.parquet"] == "failed" and log["notes.xlsx"] == "failed"
    assert "unsupported file type '.xlsx'" in query(
        workspace, "select error_message from raw_landing.file_loads where file_path = 'notes.xlsx'")[0][0]


def test_lineage_line_numbers_and_raw_text(workspace, fixture_files):
    run_load(workspace)
    rows = query(workspace, """
        select source_record_id, _source_row_number, _source_line_number, street, _dlt_load_id is not null
        from raw_landing.contacts where _source_file = 'crm__contacts.csv' order by _source_row_number""")
    # record 1 spans lines 2-3 (quoted CRLF), a blank line 6 is not a row
    assert rows == [("1", 1, 2, "1 Main St\r\nSuite 5", True), ("2", 2, 4, "2 Main St", True),
                    ("5", 5, 8, 'Straße "am" Ende 1', True)]
    quarantined = query(workspace, """
        select _source_row_number, _source_line_number, reason_code, raw_text
        from raw_landing.quarantined_rows where _source_file = 'crm__contacts.csv' order by 2""")
    assert quarantined[0][:3] == (3, 5, "malformed_row")
    assert quarantined[0][3] == "3,Too,Many,x@y.com,,Acme,3 Main St,USA,false,2025-03-15 10:00,lead,EXTRA"
    assert quarantined[1] == (4, 7, "no_identity", "4,,,,,Lonely Corp,,UK,false,,lead")
    jsonl = query(workspace, """
        select _source_line_number, reason_code, raw_text from raw_landing.quarantined_rows
        where _source_file = 'webinar__feed.jsonl' order by 1""")
    assert jsonl == [(2, "invalid_json", "not json"), (3, "not_an_object", "[1, 2]"),
                     (6, "no_identity", '{"registrant_id": "r3", "company": "NoName Ltd"}')]
    assert query(workspace, "select _source_line_number from raw_landing.quarantined_rows "
                            "where _source_file = 'bad__quote.csv'") == [(3,)]


def test_header_aliases_encodings_and_extra_fields(workspace, fixture_files):
    run_load(workspace)
    fair = query(workspace, """
        select source_system, full_name, company, phone, postal_code, country
        from raw_landing.contacts where _source_file = 'fair__leads.csv' order by source_record_id""")
    assert fair[0] == ("fair", "Hélène Dubois", "Société Générale", "+33 1 23 45 67 89", "75008", "France")
    assert fair[1][1] == "Jürgen Müller"
    fmt = dict(query(workspace, "select file_path, encoding || ' ' || coalesce(delimiter, '') "
                                "from raw_landing.file_loads where status = 'loaded'"))
    assert fmt["fair__leads.csv"] == "latin-1 ;" and fmt["crm__contacts.csv"] == "utf-8 ,"

    crm = query(workspace, """select email, opted_out, extra_fields from raw_landing.contacts
                              where source_record_id = '2' and _source_file = 'crm__contacts.csv'""")[0]
    assert crm[:2] == ("bob@acme.com", "true")
    assert json.loads(crm[2]) == {"Lifecycle Stage": "customer"}
    r1 = query(workspace, "select opted_out, extra_fields from raw_landing.contacts where source_record_id = 'r1'")[0]
    assert r1[0] == "true" and json.loads(json.loads(r1[1])["utm"]) == {"source": "x"}
    partner = query(workspace, """select full_name, email, opted_out, updated_at from raw_landing.contacts
                                  where source_record_id = 'P1'""")[0]
    assert partner[:3] == ("Dr. Jane Roe", "jane@roe.io", "true") and partner[3].startswith("2025-01-02T03:04:05")
    # file-name prefix, or the source_system column, or 'unknown'
    mixed = query(workspace, "select email, source_system from raw_landing.contacts "
                             "where _source_file = 'mixed_sources.csv' order by email")
    assert mixed == [("a@x.com", "hubspot"), ("b@x.com", "unknown")]


def test_rerun_loads_nothing_new(workspace, fixture_files):
    run_load(workspace)
    before = contacts_count(workspace)
    second = run_load(workspace)
    # only the two unreadable files are tried again (and fail again); nothing is loaded twice
    assert sorted(r.file_path for r in second.reports) == ["broken__file.parquet", "notes.xlsx"]
    assert all(r.status == "failed" for r in second.reports)
    assert contacts_count(workspace) == before


def test_changed_file_is_loaded_again_touched_file_is_not(workspace, fixture_files):
    run_load(workspace)
    before = contacts_count(workspace)
    fair = workspace.landing_dir / "fair__leads.csv"
    # same bytes, new modification time: not a change
    stat = fair.stat()
    os.utime(fair, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert [r.file_path for r in run_load(workspace).reports if r.status == "loaded"] == []
    # new bytes under the same name: loaded again, as a new file load
    time.sleep(0.01)
    with fair.open("ab") as f:
        f.write("B3;Ana Silva;Acme;;;Portugal\n".encode("latin-1"))
    result = run_load(workspace)
    changed = [r for r in result.reports if r.status == "loaded"]
    assert [(r.file_path, r.rows_loaded) for r in changed] == [("fair__leads.csv", 3)]
    assert contacts_count(workspace) == before + 3
    versions = query(workspace, """
        select count(distinct file_loads.file_sha256)
        from raw_landing.contacts as contacts
        inner join raw_landing.file_loads as file_loads on contacts._file_load_id = file_loads.file_load_id
        where contacts._source_file = 'fair__leads.csv'""")
    assert versions == [(2,)]


@pytest.mark.parametrize("crash_after", ["extract", "normalize"])
def test_interrupted_run_is_finished_by_the_next(workspace, fixture_files, crash_after):
    """A run killed after extracting (or normalizing) leaves a package; the next run loads it once."""
    pipeline = make_pipeline(workspace)
    pipeline.extract(landing_source(str(workspace.landing_dir), str(workspace.header_aliases)))
    if crash_after == "normalize":
        pipeline.normalize()
    assert not workspace.warehouse.exists() or not query(
        workspace, "select * from information_schema.tables where table_name = 'contacts'")

    result = run_load(workspace)
    assert result.recovered_packages == 1
    assert contacts_count(workspace) == sum(e.get("loaded", 0) for e in fixture_files.values())
    # and a further run adds nothing
    run_load(workspace)
    assert contacts_count(workspace) == sum(e.get("loaded", 0) for e in fixture_files.values())


def test_record_index_and_delimiter_detection():
    data = b'h1,h2\r\n"a\nb",c\r\n\r\nd,"e""f"\n'
    idx = index_records(data)
    assert idx.start_lines.tolist() == [1, 2, 5]
    assert idx.logical_lines.tolist() == [1, 2, 4]  # quoted newline not counted, blank line counted
    assert [data[s:e] for s, e in zip(idx.starts, idx.ends)] == [b"h1,h2", b'"a\nb",c', b'd,"e""f"']
    assert detect_delimiter("a;b;c") == ";"
    assert detect_delimiter("a\tb\tc") == "\t"
    assert detect_delimiter("a|b") == "|"
    assert detect_delimiter("single") == ","


def test_the_filesystem_destination_writes_the_same_raw_rows_as_parquet(workspace, fixture_files, monkeypatch,
                                                                         tmp_path):
    """CONTACTS_RAW_DESTINATION=filesystem: dlt writes the raw tables as Parquet, one folder
    per table (what Spark registers), with the rows the DuckDB warehouse gets from the same
    files; a second run loads nothing new, and the accounting reads the files."""
    from ingestion.landing.load import raw_rows
    from ingestion.pipelines import raw_tables
    from ingestion.settings import load_settings

    statuses = {r.file_path: (r.status, r.rows_loaded, r.rows_quarantined) for r in run_load(workspace).reports}
    columns = "_source_file, _source_row_number, _source_line_number, first_name, email, phone, extra_fields"
    in_duckdb = query(workspace, f"select {columns} from raw_landing.contacts order by all")
    quarantined_in_duckdb = query(workspace, "select _source_file, _source_row_number, reason_code "
                                             "from raw_landing.quarantined_rows order by all")

    monkeypatch.setenv("CONTACTS_RAW_DESTINATION", "filesystem")
    monkeypatch.setenv("CONTACTS_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("CONTACTS_WAREHOUSE", str(tmp_path / "spark_side" / "contacts.duckdb"))
    files = load_settings()
    assert files.raw_destination == "filesystem"
    result = run_load(files)
    assert {r.file_path: (r.status, r.rows_loaded, r.rows_quarantined) for r in result.reports} == statuses
    for table in ("contacts", "quarantined_rows", "file_loads"):
        assert list((tmp_path / "raw" / "raw_landing" / table).glob("*.parquet")), table
    assert not files.warehouse.exists()  # nothing went to a DuckDB file
    with raw_tables(files) as con:
        assert con.execute(f"select {columns} from raw_landing.contacts order by all").fetchall() == in_duckdb
        assert con.execute("select _source_file, _source_row_number, reason_code "
                           "from raw_landing.quarantined_rows order by all").fetchall() == quarantined_in_duckdb
    assert raw_rows(files) == raw_rows(workspace) > 0
    # as on DuckDB, only the two unreadable files are tried again (and logged failed again)
    again = run_load(files)
    assert sorted((r.file_path, r.status) for r in again.reports) == [("broken__file.parquet", "failed"),
                                                                     ("notes.xlsx", "failed")]
    with raw_tables(files) as con:
        assert con.execute(f"select {columns} from raw_landing.contacts order by all").fetchall() == in_duckdb


def test_the_spark_target_keeps_its_run_records_and_reads_as_duckdb(workspace, fixture_files, monkeypatch, tmp_path):
    """What the nightly command does on Spark outside Spark: raw tables as Parquet, the run's
    records as one Parquet file per run (rewritten whole), and the Python steps reading the
    raw folders and the published models through one DuckDB connection."""
    import subprocess
    import sys
    from datetime import datetime

    import duckdb

    from batch.runner import RunRecord, StepRecord, loaded_before, record_run
    from ingestion.pipelines import read_warehouse
    from ingestion.settings import REPO_ROOT, load_settings

    monkeypatch.setenv("CONTACTS_SPARK_DIR", str(tmp_path / "spark"))
    monkeypatch.setenv("CONTACTS_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("CONTACTS_RAW_DESTINATION", "duckdb")
    with pytest.raises(ValueError, match="cannot feed the spark target"):
        load_settings("spark")
    monkeypatch.delenv("CONTACTS_RAW_DESTINATION")
    spark = load_settings("spark")
    assert (spark.target, spark.raw_destination) == ("spark", "filesystem")
    assert spark.nightly_dir.parent == tmp_path / "spark"  # the run's state beside Spark's tables
    with read_warehouse(spark) as con:
        assert con is None
    assert not loaded_before(spark)

    run_load(spark)
    assert loaded_before(spark)
    run = RunRecord(run_id="20261203T010000Z", started_at="2026-12-03T01:00:00+00:00", status="running", pid=1,
                    host="h", steps=[StepRecord(step="load", status="ok", counts={"files": 6})])
    record_run(spark, run)
    run.status, run.finished_at = "succeeded", "2026-12-03T01:05:00+00:00"
    record_run(spark, run)  # the same run again: its file rewritten, not a second row
    runs = tmp_path / "raw" / "monitoring" / "nightly_runs"
    assert [p.name for p in runs.iterdir()] == ["20261203T010000Z.parquet"]
    published = spark.published_dir / "exports" / "segment_catalog"
    published.mkdir(parents=True)
    duckdb.sql("copy (select 'region_europe' as segment_name) to '" + str(published / "part-0.parquet") + "'")
    with read_warehouse(spark) as con:
        assert con.execute("select status, finished_at from monitoring.nightly_runs").fetchall() == [
            ("succeeded", datetime(2026, 12, 3, 1, 5))]
        assert con.execute("select counts_json from monitoring.nightly_steps").fetchall() == [('{"files": 6}',)]
        assert con.execute("select count(*) from raw_landing.contacts").fetchone()[0] > 0
        assert con.execute("select * from exports.segment_catalog").fetchall() == [("region_europe",)]
    assert not workspace.warehouse.exists()  # nothing went to a DuckDB file

    # the merge review rewrites rows in place: refused on Spark, with one line that says why
    review = subprocess.run([sys.executable, "-m", "batch", "review", "--target", "spark", "list"],
                            cwd=REPO_ROOT, capture_output=True, text=True, env={**os.environ}, check=False)
    assert review.returncode == 2 and "not available on the spark target" in review.stderr


def test_a_rewrite_of_raw_folders_killed_midway_ends_all_or_none(workspace, fixture_files, monkeypatch, tmp_path):
    """`contacts forget` on Spark rewrites raw Parquet folders together (the contacts lose a
    row that the quarantine gains): killed once the new folders are all written, the next
    load swaps the rest in; killed before, the old folders stand and the new are dropped."""
    import duckdb

    from ingestion import pipelines
    from ingestion.pipelines import REWRITE_PLAN, raw_table_folders, raw_tables, rewrite_raw_folders
    from ingestion.settings import load_settings

    monkeypatch.setenv("CONTACTS_SPARK_DIR", str(tmp_path / "spark"))
    monkeypatch.setenv("CONTACTS_RAW_DIR", str(tmp_path / "raw"))
    spark = load_settings("spark")
    run_load(spark)

    def counts() -> tuple[int, int]:
        with raw_tables(spark) as con:
            return tuple(con.execute(f"select count(*) from raw_landing.{t}").fetchone()[0]
                         for t in ("contacts", "quarantined_rows"))

    loaded, quarantined = counts()
    folders = {f"{f.parent.name}.{f.name}": f for f in raw_table_folders(spark.raw_dir)}
    tables = {r: folders[r] for r in ("raw_landing.contacts", "raw_landing.quarantined_rows")}
    con = duckdb.connect()
    con.execute("create schema raw_landing")
    for relation, folder in tables.items():
        con.execute(f"create table {relation} as select * from read_parquet('{folder}/*.parquet')")
    con.execute("insert into raw_landing.quarantined_rows (quarantine_key, reason_code) values ('moved', 'erased')")
    con.execute("delete from raw_landing.contacts where _source_row_number = 1")
    moved = loaded - con.execute("select count(*) from raw_landing.contacts").fetchone()[0]
    assert moved > 0

    # killed before the plan: nothing changes, the written folders go
    monkeypatch.setattr(pipelines, "REWRITE_PLAN", "unwritable/plan.json")
    with pytest.raises(FileNotFoundError):
        rewrite_raw_folders(con, spark.raw_dir, tables)
    monkeypatch.setattr(pipelines, "REWRITE_PLAN", REWRITE_PLAN)
    assert list(spark.raw_dir.glob("*/.*")) and counts() == (loaded, quarantined)
    run_load(spark)
    assert not list(spark.raw_dir.glob("*/.*")) and counts() == (loaded, quarantined)

    # killed after the plan, with one folder swapped out and not in: the next load ends the swap
    monkeypatch.setattr(pipelines, "finish_raw_rewrite", lambda raw_dir: 0)
    rewrite_raw_folders(con, spark.raw_dir, tables)
    monkeypatch.undo()
    contacts = tables["raw_landing.contacts"]
    contacts.rename(contacts.with_name(f".{contacts.name}.replaced"))
    assert "raw_landing.contacts" not in {f"{f.parent.name}.{f.name}" for f in raw_table_folders(spark.raw_dir)}
    run_load(spark)
    assert counts() == (loaded - moved, quarantined + 1)
    assert not list(spark.raw_dir.glob("*/.*")) and not (spark.raw_dir / REWRITE_PLAN).exists()
