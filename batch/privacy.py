"""Erasure: `contacts forget --email ...` removes a person from everywhere we keep data.

The person is every contact that holds one of the given addresses in any of its records
(as exported or as cleaned), with all the records of those contacts. Then:

1. their addresses are hashed onto the landing folder's erasure list
   (suppression__erasures.csv), so the loader never imports them again, even into a
   rebuilt warehouse;
2. their raw contact rows become quarantined rows with reason `erased` and no text (the
   file, row and line stay, so every landing row is still accounted for), and the load
   log's counts follow; quarantined rows that mention them lose their text;
3. the providers' answers about them, their segment membership history and the merge
   decisions reviewers took on their records are deleted; when the Python functions are
   looked up in tables (CONTACTS_NORMALISERS=table), the values no record passes any more
   leave those tables (batch.normalise --prune);
4. every model is rebuilt from what is left (dbt build --full-refresh, with every data
   test; the contact id registry keeps its ids, which carry no personal data), and the
   exports are written again without them. The seeds (the repository's reference CSVs)
   and the unit tests (rows written in the yml) hold no client data and are left out;
5. the warehouse file is rewritten (rewrite_warehouse): DuckDB keeps a deleted row's
   bytes in the file's freed blocks (CHECKPOINT and VACUUM do not clear them), so the
   file is copied, schema by schema, into a new one that replaces it.

On the spark target the same steps run on the raw Parquet folders and Spark's tables (see
"on Spark" below); instead of step 5, Spark rewrites every table's files in the rebuild.

Nothing about the person is printed or logged: only counts.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from batch.console import print_export_result, render_table
from batch.dbt import run_dbt
from batch.exports import run_export
from batch.lock import AlreadyRunning, RunLock
from ingestion.landing.load import run_load
from ingestion.pipelines import finish_raw_rewrite, parquet_views, raw_table_folders, rewrite_raw_folders
from ingestion.settings import REPO_ROOT, Settings, table_exists
from ingestion.suppression import append_erasures, email_hmac, normalise_email

log = logging.getLogger(__name__)


@dataclass
class ForgetResult:
    contacts: int = 0
    records: int = 0
    addresses_suppressed: int = 0
    rows: dict[str, int] = field(default_factory=dict)


def _find_person(con: duckdb.DuckDBPyConnection, emails: list[str]) -> None:
    """Temp tables: forget_records (raw row keys), forget_contacts, forget_strings (what to scrub)."""
    con.execute("create or replace temp table forget_emails as select unnest(?::varchar[]) as email", [emails])
    # records holding an address, as exported or as cleaned
    con.execute("""
        create or replace temp table seed_records as
        select concat_ws('-', _file_load_id, cast(_source_row_number as varchar)) as contact_record_id
        from raw_landing.contacts
        where lower(trim(email)) in (select email from forget_emails)""")
    has_models = (table_exists(con, "cleaned", "cleaned_contacts")
                  and table_exists(con, "deduped", "contact_identity_map"))
    if has_models:
        con.execute("""
            insert into seed_records
            select contact_record_id from cleaned.cleaned_contacts
            where email_address in (select email from forget_emails)""")
        # every record of every contact holding one of the addresses, and every id the contact had
        con.execute("""
            create or replace temp table forget_contacts as
            select distinct contact_id from deduped.contact_identity_map
            where contact_record_id in (select contact_record_id from seed_records)""")
        con.execute("""
            create or replace temp table forget_record_ids as
            select contact_record_id from seed_records
            union
            select contact_record_id from deduped.contact_identity_map
            where contact_id in (select contact_id from forget_contacts)""")
        con.execute("""
            create or replace temp table forget_record_keys as
            select distinct source_record_key from deduped.contact_identity_map
            where contact_record_id in (select contact_record_id from forget_record_ids)""")
        if table_exists(con, "deduped", "contact_id_aliases"):
            con.execute("""
                insert into forget_contacts
                select retired_contact_id from deduped.contact_id_aliases
                where contact_id in (select contact_id from forget_contacts)""")
    else:
        con.execute("create or replace temp table forget_contacts as select cast(null as varchar) as contact_id "
                    "where false")
        con.execute("create or replace temp table forget_record_ids as select distinct contact_record_id "
                    "from seed_records")
        con.execute("create or replace temp table forget_record_keys as select cast(null as varchar) "
                    "as source_record_key where false")
    con.execute("""
        create or replace temp table forget_rows as
        select _file_load_id, _source_row_number, _source_line_number, _source_file, _dlt_load_id,
               email, phone, first_name, last_name, full_name
        from raw_landing.contacts
        where concat_ws('-', _file_load_id, cast(_source_row_number as varchar))
            in (select contact_record_id from forget_record_ids)""")
    # the strings that identify the person in free text (quarantined rows)
    con.execute("""
        create or replace temp table forget_strings as
        select distinct value from (
            select trim(email) as value from forget_rows
            union all select trim(phone) from forget_rows
            union all select trim(full_name) from forget_rows
            union all select email from forget_emails
        ) as strings
        where length(value) >= 5""")


def forget(settings: Settings, emails: list[str]) -> ForgetResult:
    """Remove the people holding `emails` from the raw tables; the caller rebuilds and re-exports."""
    wanted = sorted({normalise_email(e) for e in emails if e and e.strip()})
    if not wanted:
        raise ValueError("no e-mail address given")
    if settings.target == "spark":
        result = _forget_in_raw_folders(settings, wanted)
    else:
        con = duckdb.connect(str(settings.warehouse))
        try:
            result = _forget_in(con, settings, wanted)
            con.execute("checkpoint")
        finally:
            con.close()
    # dlt keeps no loaded rows (load.delete_completed_jobs); packages of older versions might
    for jobs in settings.pipelines_dir.glob("*/load/loaded/*/completed_jobs"):
        shutil.rmtree(jobs, ignore_errors=True)
    log.info("forgot %d contact(s), %d raw record(s)", result.contacts, result.records)
    return result


def _forget_in(con: duckdb.DuckDBPyConnection, settings: Settings, wanted: list[str]) -> ForgetResult:
    """Steps 1 to 3 on `con`, which holds the raw tables (and the models, once built) by name."""
    result = ForgetResult()
    _find_person(con, wanted)
    result.contacts = con.execute("select count(*) from forget_contacts").fetchone()[0]
    result.records = con.execute("select count(*) from forget_rows").fetchone()[0]
    addresses = {r[0] for r in con.execute(
        "select lower(trim(email)) from forget_rows where nullif(trim(email), '') is not null").fetchall()}
    addresses |= set(wanted)
    if table_exists(con, "cleaned", "cleaned_contacts"):
        addresses |= {r[0] for r in con.execute(
            "select email_address from cleaned.cleaned_contacts where email_address is not null "
            "and contact_record_id in (select contact_record_id from forget_record_ids)").fetchall()}
    hashes = {email_hmac(a) for a in addresses}  # keyed: the list is no dictionary of addresses
    # first the suppression entry: should anything below fail, the person is not re-imported
    append_erasures(settings.landing_dir, hashes)
    result.addresses_suppressed = len(hashes)

    con.execute("begin transaction")
    # raw contact rows -> quarantined rows without text; the load log's counts follow
    result.rows["raw_landing.contacts"] = con.execute("""
        insert into raw_landing.quarantined_rows (quarantine_key, _file_load_id, _source_file,
            _source_file_sha256, _source_row_number, _source_line_number, reason_code, reason, raw_text,
            _loaded_at, _dlt_load_id)
        select rows._file_load_id || '-e' || cast(rows._source_row_number as varchar), rows._file_load_id,
               rows._source_file, loads.file_sha256, rows._source_row_number, rows._source_line_number,
               'erased', 'erased on request (contacts forget)', null, current_timestamp,
               rows._dlt_load_id
        from forget_rows as rows
        inner join raw_landing.file_loads as loads on rows._file_load_id = loads.file_load_id
        """).fetchone()[0]
    con.execute("""
        update raw_landing.file_loads as loads
        set rows_loaded = loads.rows_loaded - erased.n, rows_quarantined = loads.rows_quarantined + erased.n
        from (select _file_load_id, count(*) as n from forget_rows group by _file_load_id) as erased
        where loads.file_load_id = erased._file_load_id""")
    con.execute("""
        delete from raw_landing.contacts
        where concat_ws('-', _file_load_id, cast(_source_row_number as varchar))
            in (select contact_record_id from forget_record_ids)""")
    result.rows["raw_landing.quarantined_rows (text erased)"] = con.execute("""
        update raw_landing.quarantined_rows
        set raw_text = null, reason = reason || ' (text erased on request)'
        where raw_text is not null
          and exists (select 1 from forget_strings where contains(lower(raw_text), lower(forget_strings.value)))
        """).fetchone()[0]
    if table_exists(con, "raw_enrichment", "provider_responses"):
        result.rows["raw_enrichment.provider_responses"] = con.execute("""
            delete from raw_enrichment.provider_responses
            where contact_id in (select contact_id from forget_contacts)
               or exists (select 1 from forget_strings where contains(lower(payload), lower(forget_strings.value)))
            """).fetchone()[0]
    # segment_membership_log: the spells of a warehouse of an earlier version, not yet migrated
    for table in ("segment_membership_events", "segment_membership_log"):
        if table_exists(con, "segments", table):
            result.rows[f"segments.{table}"] = con.execute(f"""
                delete from segments.{table}
                where contact_id in (select contact_id from forget_contacts)""").fetchone()[0]
    if table_exists(con, "review", "merge_decisions") and table_exists(con, "deduped", "contact_identity_map"):
        # a reviewer's note may name them; their CRM ids are theirs too
        result.rows["review.merge_decisions"] = con.execute("""
            delete from review.merge_decisions
            where source_record_key_a in (select source_record_key from forget_record_keys)
               or source_record_key_b in (select source_record_key from forget_record_keys)""").fetchone()[0]
    con.execute("commit")
    return result


# ------------------------------------------------------------------ on Spark ----
# The raw tables are Parquet folders (dlt's filesystem destination) and the models Spark's
# tables. What finds the person (the identity map, its aliases, the cleaned addresses) is
# copied out of Spark into a scratch folder; the raw tables are read into an in-memory
# DuckDB, where steps 1 to 3 run as on the warehouse file, and written back folder by folder
# (all or none: ingestion.pipelines.rewrite_raw_folders). Spark's own tables that keep rows
# across a full refresh (the membership events, the reviewers' decisions) lose the person's
# rows in the Spark process that then rebuilds every model (batch.spark_functions `step
# --erase-rows`). The scratch folder holds personal data: it is removed at the end, and by
# the next `contacts forget` should this one be killed.

# the raw tables an erasure changes
RAW_ERASED = ("raw_landing.contacts", "raw_landing.quarantined_rows", "raw_landing.file_loads",
              "raw_enrichment.provider_responses")
# step 4: every model and data test; not the seeds or unit tests, which no client's row reaches
# (selected, not `--exclude resource_type:seed`: that also drops every test with a seed parent)
REBUILD = ["build", "--full-refresh", "--select", "resource_type:model", "resource_type:test",
           "--exclude", "test_type:unit"]
# the columns of the models that find the person (see _find_person)
ERASURE_SCOPE = {"deduped.contact_identity_map": ["contact_record_id", "contact_id", "source_record_key"],
                 "deduped.contact_id_aliases": ["retired_contact_id", "contact_id"],
                 "cleaned.cleaned_contacts": ["contact_record_id", "email_address"]}


def erasure_scratch(settings: Settings) -> Path:
    return settings.spark_dir / "erasure"


def _spark(settings: Settings, *args: str) -> int:
    """`python -m batch.spark_functions ARGS` in its own process (one JVM), its exit code."""
    return subprocess.run([sys.executable, "-m", "batch.spark_functions", *args], cwd=REPO_ROOT,
                          env=settings.dbt_env(), check=False).returncode


def _forget_in_raw_folders(settings: Settings, wanted: list[str]) -> ForgetResult:
    scratch = erasure_scratch(settings)
    shutil.rmtree(scratch, ignore_errors=True)  # a killed erasure's
    finish_raw_rewrite(settings.raw_dir)
    if _spark(settings, "erasure-scope", str(scratch / "scope")):
        raise RuntimeError("Spark could not copy out the models that find the person (see above)")
    folders = {f"{folder.parent.name}.{folder.name}": folder for folder in raw_table_folders(settings.raw_dir)}
    tables = {relation: folders[relation] for relation in RAW_ERASED if relation in folders}
    if "raw_landing.contacts" not in tables:
        raise RuntimeError(f"no raw contacts under {settings.raw_dir}: nothing was loaded there")
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        for relation, folder in tables.items():
            schema = relation.split(".")[0]
            files = (folder / "*.parquet").as_posix().replace("'", "''")
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"create table {relation} as select * from read_parquet('{files}', union_by_name = true)")
        parquet_views(con, raw_table_folders(scratch / "scope"))
        result = _forget_in(con, settings, wanted)
        # what Spark's own tables lose, for the step that rebuilds them
        scratch.mkdir(parents=True, exist_ok=True)  # (no model built yet: nothing was copied out)
        for name, sql in (("contacts", "select distinct contact_id from forget_contacts"),
                          ("record_keys", "select distinct source_record_key from forget_record_keys")):
            target = (scratch / f"{name}.parquet").as_posix().replace("'", "''")
            con.execute(f"copy ({sql}) to '{target}' (format parquet)")
        if any(result.rows.values()):  # a person not found leaves the raw folders as they are
            rewrite_raw_folders(con, settings.raw_dir, tables)
    finally:
        con.close()
    return result


def rewrite_warehouse(warehouse: Path) -> None:
    """Copy the whole warehouse (schemas, tables, views, macros) into a new file and swap it
    in, so the bytes of deleted rows, left in freed blocks, are gone. Also drops DuckDB's
    spill folder beside it. Needs the warehouse to itself (the nightly lock, or no run)."""
    rewritten = warehouse.with_name(f".{warehouse.name}.rewrite")
    for leftover in (rewritten, rewritten.with_name(rewritten.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        database = con.execute("select current_database()").fetchone()[0]
        con.execute(f"attach '{rewritten.as_posix()}' as rewritten")
        con.execute(f'copy from database "{database}" to rewritten')
        con.execute("detach rewritten")
    finally:
        con.close()
    os.replace(rewritten, warehouse)
    warehouse.with_name(warehouse.name + ".wal").unlink(missing_ok=True)
    shutil.rmtree(warehouse.with_name(warehouse.name + ".tmp"), ignore_errors=True)
    log.info("warehouse rewritten")


# -------------------------------------------------------- the whole erasure ----

def read_addresses(emails: list[str], from_file: str | None = None) -> list[str]:
    """The addresses given on the command line and in a file (one per line, # comments)."""
    found = [e for e in emails if e.strip()]
    if from_file:
        found += [line.strip() for line in Path(from_file).read_text(encoding="utf-8").splitlines()
                  if line.strip() and not line.startswith("#")]
    return found


def erase(settings: Settings, emails: list[str]) -> int:
    """`contacts forget`: steps 1 to 5 above, under the nightly run's lock; an exit status."""
    lock = RunLock(settings.nightly_dir / "lock")
    try:  # the warehouse is rewritten at the end: no nightly run may have it open
        lock.acquire({"run_id": "forget", "pid": os.getpid(), "host": "", "started_at": ""})
    except AlreadyRunning as exc:
        print(f"forget: not now, {exc}; try again when it has finished", file=sys.stderr)
        return 75
    try:
        return _erase(settings, emails)
    finally:
        lock.release()


def _prune_normalised(settings: Settings) -> int:
    """CONTACTS_NORMALISERS=table: the normalised tables (batch.normalise) lose the values no
    record passes any more, the person's, before the rebuild; an exit status."""
    from batch.normalise import prepare

    print("== the normalised values, without the person's")
    code = prepare(settings, prune=True, full_refresh=True)
    if code:
        print("The normalised values could not be pruned: the raw data is erased, the normalised tables "
              "still hold the person's values until `contacts forget` is run again.", file=sys.stderr)
    return code


def _erase(settings: Settings, emails: list[str]) -> int:
    spark = settings.target == "spark"
    try:
        result = forget(settings, emails)
        print(f"Erasing {len(emails)} address(es): {result.contacts} contact id(s), {result.records} raw record(s); "
              f"{result.addresses_suppressed} address hash(es) added to the suppression list.")
        print(render_table(["relation", "rows"], [[k, v] for k, v in result.rows.items()]))
        print("== load the suppression list")
        run_load(settings)
        if settings.normalisers == "table" and _prune_normalised(settings):
            return 1
        print("== dbt build --full-refresh (every model, from what is left)")
        if spark:  # the membership events and reviewers' decisions first lose the person's rows
            code = _spark(settings, "step", "--erase-rows", str(erasure_scratch(settings)), *REBUILD)
        else:
            code = run_dbt(settings, REBUILD)
        if code:
            print("The rebuild failed: the raw data is erased, the models still hold the person until a "
                  "successful `dbt build --full-refresh`" + (" on Spark (`contacts build --target spark -- "
                                                             "--full-refresh`)." if spark else "."), file=sys.stderr)
            return 1
        print("== campaign exports, again")
        print_export_result(run_export(settings))
        if not spark:  # Spark rewrote every table's files; the raw folders were rewritten above
            print("== rewrite the warehouse file (a deleted row's bytes stay in freed blocks until then)")
            rewrite_warehouse(settings.warehouse)
        return 0
    finally:
        if spark:
            shutil.rmtree(erasure_scratch(settings), ignore_errors=True)
