"""The CRM sources by API (ingestion/crm) against the CRM emulator, a real HTTP server on
127.0.0.1 speaking HubSpot CRM v3 and Salesforce REST: paging, the incremental cursor,
deleted records, rate limits and faults, a killed run, skipped and refused credentials,
and no secret in any output. The loads are real (dlt into a DuckDB file); no dbt here
(the deletion reaching the lists: test_unattended)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import query

from batch.console import print_load_result
from batch.runner import Options, reason_to_wait
from ingestion.crm.apis import HubSpotApi
from ingestion.faults import KILL_AT_ENV
from ingestion.landing.load import run_load
from ingestion.settings import REPO_ROOT, Settings, load_settings
from tooling.crm_emulator import DEFAULT_TOKENS, HUBSPOT, SALESFORCE, SALESFORCE_CLIENT, CrmEmulator

HUBSPOT_CONTACTS = 230
SALESFORCE_CONTACTS = 170


def fill(emulator: CrmEmulator) -> None:
    """The CRMs' contacts before the first night: HubSpot's with one that has no identity,
    Salesforce's with an account (a relationship field) and an opt-out."""
    for i in range(1, HUBSPOT_CONTACTS + 1):
        emulator.hubspot_upsert(str(i), email=f"h{i}@acme.example", firstname=f"Hana{i}", lastname="Sato",
                                company="Acme", jobtitle="Buyer", hs_email_optout="false", favourite_colour="teal")
    emulator.hubspot_upsert(str(HUBSPOT_CONTACTS + 1), company="Nobody Ltd")  # no email, phone or name
    for i in range(1, SALESFORCE_CONTACTS + 1):
        emulator.salesforce_upsert(f"003{i:06d}", FirstName=f"Sam{i}", LastName="Okafor", Email=f"s{i}@globex.example",
                                   Title="Engineer", HasOptedOutOfEmail=i == 1, **{"Account.Name": "Globex"})


def crm_env(emulator: CrmEmulator, hubspot_token: str = DEFAULT_TOKENS[HUBSPOT],
            salesforce: str = "client_credentials") -> dict[str, str]:
    """Configuration as a user sets it: small pages, so that paging and chunks show."""
    env = {"SOURCES__CRM__HUBSPOT__BASE_URL": emulator.url, "SOURCES__CRM__HUBSPOT__ACCESS_TOKEN": hubspot_token,
           "SOURCES__CRM__HUBSPOT__PAGE_SIZE": "25", "SOURCES__CRM__HUBSPOT__PAGES_PER_LOAD": "3",
           "SOURCES__CRM__HUBSPOT__EXTRA_FIELDS": "favourite_colour",
           "SOURCES__CRM__SALESFORCE__INSTANCE_URL": emulator.url,
           "SOURCES__CRM__SALESFORCE__PAGE_SIZE": "200", "SOURCES__CRM__SALESFORCE__PAGES_PER_LOAD": "1",
           # dlt's retries: the same policy, shorter waits (a Retry-After is honoured whatever this says)
           "RUNTIME__REQUEST_BACKOFF_FACTOR": "0.05"}
    if salesforce == "client_credentials":
        env.update(SOURCES__CRM__SALESFORCE__CLIENT_ID=SALESFORCE_CLIENT[0],
                   SOURCES__CRM__SALESFORCE__CLIENT_SECRET=SALESFORCE_CLIENT[1])
    else:
        env["SOURCES__CRM__SALESFORCE__ACCESS_TOKEN"] = salesforce
    return env


@pytest.fixture
def emulator():
    # Salesforce pages of 200 (its smallest batchSize): 170 records fit one page, so the
    # test below adds more to see nextRecordsUrl
    with CrmEmulator(batch_size=200, retry_after_seconds=1) as crm:
        fill(crm)
        yield crm


def versions(settings: Settings) -> list[tuple]:
    return query(settings, "select source_system, source_record_id, updated_at, coalesce(deleted, 'false') "
                           "from raw_landing.contacts order by all")


def test_both_crms_page_incrementally_and_account_for_every_record(workspace, emulator, monkeypatch, capsys):
    for k, v in crm_env(emulator).items():
        monkeypatch.setenv(k, v)
    for i in range(1, 131):  # enough Salesforce records for a second page
        emulator.salesforce_upsert(f"004{i:06d}", FirstName=f"Ola{i}", LastName="Berg", Email=f"o{i}@initech.example")

    first = run_load(workspace)
    pulls = {p.crm: p for p in first.crm_pulls}
    assert set(pulls) == {HUBSPOT, SALESFORCE} and not first.failed_crms, [p.error for p in first.crm_pulls]
    # every record read is loaded or quarantined, per CRM and per page
    assert (pulls[HUBSPOT].rows_read, pulls[HUBSPOT].rows_loaded, pulls[HUBSPOT].rows_quarantined) == (
        HUBSPOT_CONTACTS + 1, HUBSPOT_CONTACTS, 1)
    assert (pulls[SALESFORCE].rows_read, pulls[SALESFORCE].rows_loaded) == (SALESFORCE_CONTACTS + 130,) * 2
    pages = query(workspace, "select source_system, file_format, rows_read, rows_loaded, rows_quarantined, "
                             "api_cursor, file_path from raw_landing.file_loads order by all")
    assert all(p[1] == "api" and p[2] == p[3] + p[4] for p in pages)
    assert {p[6] for p in pages} == {"hubspot:crm/v3/objects/contacts/search",
                                     "salesforce:services/data/queryAll?Contact"}
    assert sum(p[2] for p in pages if p[0] == HUBSPOT) == HUBSPOT_CONTACTS + 1
    cursor = json.loads(pages[0][5])
    assert cursor["field"] == "lastmodifieddate" and cursor["from"] <= cursor["to"]
    # HubSpot: 25 a page, a new search every 3 pages (a committed chunk); Salesforce: nextRecordsUrl
    calls = Counter((c.api, c.path.split("/query/")[0]) for c in emulator.calls if c.status == 200)
    assert calls[(HUBSPOT, "/crm/v3/objects/contacts/search")] >= 10
    assert pulls[HUBSPOT].chunks >= 4
    assert calls[(SALESFORCE, "/services/data/v62.0")] >= 1, "the second page came by nextRecordsUrl"
    assert emulator.issued_tokens, "Salesforce's token came from the client credentials flow"

    # what landed: mapped by the header aliases, lineage kept, an unmapped property in extra_fields
    hana = query(workspace, """
        select source_system, email, first_name, last_name, company, job_title, opted_out, deleted,
               _source_file, _source_line_number, json_extract_string(extra_fields, '$.favourite_colour')
        from raw_landing.contacts where source_system = 'hubspot' and source_record_id = '7'""")
    assert hana == [("hubspot", "h7@acme.example", "Hana7", "Sato", "Acme", "Buyer", "false", "false",
                     "hubspot:crm/v3/objects/contacts/search", None, "teal")]
    sam = query(workspace, """select company, job_title, opted_out, deleted from raw_landing.contacts
                               where source_system = 'salesforce' and source_record_id = '003000001'""")
    assert sam == [("Globex", "Engineer", "true", "false")]
    quarantined = query(workspace, "select reason_code, raw_text from raw_landing.quarantined_rows")
    assert [(code, json.loads(raw)["company"]) for code, raw in quarantined] == [("no_identity", "Nobody Ltd")]
    print_load_result(first)
    out = capsys.readouterr().out
    assert "CRM (API)" in out and "CRM APIs not read" not in out

    # the next night reads only what changed: two edits, a deletion in each CRM
    before = versions(workspace)
    emulator.hubspot_upsert("7", jobtitle="Head of Buying")
    emulator.hubspot_upsert("8", city="Osaka")
    emulator.hubspot_archive("9")
    emulator.salesforce_upsert("003000002", Title="CTO")
    emulator.salesforce_delete("003000003")
    emulator.cursors.clear()
    second = run_load(workspace)
    assert sum(p.rows_loaded for p in second.crm_pulls) == 5
    new = sorted(set(versions(workspace)) - set(before))
    assert [(s, r, d) for s, r, _, d in new] == [
        ("hubspot", "7", "false"), ("hubspot", "8", "false"), ("hubspot", "9", "true"),
        ("salesforce", "003000002", "false"), ("salesforce", "003000003", "true")]
    # each query started where the last night's cursor ended, not from the beginning
    assert all(since not in (None, "0") and not since.startswith("1970") for _, since in emulator.cursors)

    # nothing changed: nothing loaded, and no record version is in the raw table twice
    third = run_load(workspace)
    assert sum(p.rows_read for p in third.crm_pulls) == 0
    assert len(versions(workspace)) == len(set(versions(workspace)))


def test_rate_limits_and_server_errors_are_waited_out(workspace, emulator, monkeypatch):
    for k, v in crm_env(emulator, salesforce=DEFAULT_TOKENS[SALESFORCE]).items():
        monkeypatch.setenv(k, v)
    emulator.inject(HUBSPOT, 429, 503, 429)
    emulator.inject(SALESFORCE, 429, 500)
    result = run_load(workspace)
    assert not result.failed_crms, [p.error for p in result.crm_pulls]
    assert {p.crm: p.rows_loaded for p in result.crm_pulls} == {HUBSPOT: HUBSPOT_CONTACTS,
                                                                SALESFORCE: SALESFORCE_CONTACTS}
    for api in (HUBSPOT, SALESFORCE):
        calls = [c for c in emulator.calls if c.api == api]
        limited = next(i for i, c in enumerate(calls) if c.status == 429)
        # the call after a 429 waited for its Retry-After (1 s), not the short back-off
        assert calls[limited + 1].at - calls[limited].at >= 0.95, api
        assert [c.status for c in calls[:3]] == ([429, 503, 429] if api == HUBSPOT else [429, 500, 200])


def test_a_refused_token_stops_that_crm_only_and_no_secret_shows_anywhere(workspace, emulator, monkeypatch,
                                                                          capsys, caplog):
    wrong = "pat-na1-0123456789abcdef-not-the-token"
    for k, v in crm_env(emulator, hubspot_token=wrong, salesforce=DEFAULT_TOKENS[SALESFORCE]).items():
        monkeypatch.setenv(k, v)
    caplog.set_level("DEBUG")
    result = run_load(workspace)
    print_load_result(result)
    failed = {p.crm: p.error for p in result.failed_crms}
    assert list(failed) == [HUBSPOT] and failed[HUBSPOT].startswith("HTTP 401 from /crm/v3/objects/contacts/search")
    assert {p.crm: p.rows_loaded for p in result.crm_pulls}[SALESFORCE] == SALESFORCE_CONTACTS
    out = capsys.readouterr()
    assert "ERROR CRM hubspot: HTTP 401" in out.err
    secrets = [wrong, DEFAULT_TOKENS[SALESFORCE]]
    for text in (out.out, out.err, caplog.text):
        assert not any(s in text for s in secrets)
    # nor in the warehouse, nor in dlt's working folder (state, schemas, traces, packages)
    files = [workspace.warehouse, *workspace.pipelines_dir.rglob("*")]
    for path in (p for p in files if p.is_file()):
        data = path.read_bytes()
        assert not any(s.encode() in data for s in secrets), path


def test_without_credentials_each_crm_is_skipped_in_one_line(workspace, capsys, monkeypatch):
    for name in [k for k in os.environ if k.startswith("SOURCES__CRM__")]:
        monkeypatch.delenv(name)
    result = run_load(workspace)
    assert result.crm_pulls == [] and [s.split(" ")[0] for s in result.crm_skipped] == [HUBSPOT, SALESFORCE]
    print_load_result(result)
    lines = [line for line in capsys.readouterr().out.splitlines() if "CRM" in line]
    assert len(lines) == 1 and "no access_token" in lines[0] and "no instance_url" in lines[0]


def load_command(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "batch", "load", "--strict"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_run_killed_mid_load_resumes_from_the_last_committed_cursor(tmp_path, emulator):
    def env_for(root: Path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", KILL_AT_ENV))}
        env.update(CONTACTS_WAREHOUSE=str(root / "warehouse" / "contacts.duckdb"), LANDING_DIR=str(root / "landing"),
                   **crm_env(emulator), **extra)
        (root / "landing").mkdir(parents=True, exist_ok=True)
        return env

    # the kill: after the first chunk is extracted, before it is loaded (SIGKILL, no clean-up)
    killed = load_command(env_for(tmp_path / "killed", **{KILL_AT_ENV: "crm"}))
    assert killed.returncode == -9, killed.stderr[-2000:]
    emulator.cursors.clear()
    resumed = load_command(env_for(tmp_path / "killed"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "load package(s) left by an interrupted run" in resumed.stdout
    # the resumed run's first search started past the chunk the killed run had extracted
    assert emulator.cursors[0][0] == HUBSPOT and int(emulator.cursors[0][1]) > 0

    reference = load_command(env_for(tmp_path / "uninterrupted"))
    assert reference.returncode == 0, reference.stderr[-2000:]

    def raw(root: Path) -> list[tuple]:
        import duckdb
        con = duckdb.connect(str(root / "warehouse" / "contacts.duckdb"), read_only=True)
        try:
            return con.execute("select source_system, source_record_id, updated_at, email, _source_file "
                               "from raw_landing.contacts order by all").fetchall()
        finally:
            con.close()

    assert raw(tmp_path / "killed") == raw(tmp_path / "uninterrupted")
    assert len(raw(tmp_path / "killed")) == HUBSPOT_CONTACTS + SALESFORCE_CONTACTS


def test_changes_younger_than_the_settle_window_wait_for_the_next_night(workspace, emulator, monkeypatch):
    """A CRM's search index trails its writes: a change stamped a moment ago is left for the
    next night, when it is settled, rather than read too early and skipped for good."""
    for k, v in crm_env(emulator, salesforce=DEFAULT_TOKENS[SALESFORCE]).items():
        monkeypatch.setenv(k, v)
    emulator.state.clock = datetime.now(UTC)  # the CRMs' clocks at now: these changes are fresh
    emulator.hubspot_upsert("7", jobtitle="Head of Buying")
    emulator.salesforce_upsert("003000002", Title="CTO")
    first = run_load(workspace)
    assert {p.crm: p.rows_loaded for p in first.crm_pulls} == {HUBSPOT: HUBSPOT_CONTACTS - 1,
                                                               SALESFORCE: SALESFORCE_CONTACTS - 1}
    monkeypatch.setenv("SOURCES__CRM__HUBSPOT__SETTLE_SECONDS", "0")
    monkeypatch.setenv("SOURCES__CRM__SALESFORCE__SETTLE_SECONDS", "0")
    second = run_load(workspace)
    assert {p.crm: p.rows_loaded for p in second.crm_pulls} == {HUBSPOT: 1, SALESFORCE: 1}
    assert query(workspace, "select job_title from raw_landing.contacts where source_record_id in ('7', "
                            "'003000002') order by 1") == [("CTO",), ("Head of Buying",)]


def test_a_night_waiting_for_new_rows_counts_the_crms_changes(workspace, emulator, monkeypatch):
    for k, v in crm_env(emulator).items():
        monkeypatch.setenv(k, v)
    waits_for = Options(min_new_rows=3)
    assert reason_to_wait(workspace, waits_for) is None, "never loaded: every CRM record is new"
    run_load(workspace)
    waiting = reason_to_wait(workspace, waits_for)
    assert waiting is not None and "0 changed record(s) in the CRMs" in waiting
    emulator.state.clock += timedelta(hours=20)  # the next day's changes
    emulator.hubspot_upsert("7", jobtitle="Head of Buying")
    emulator.salesforce_upsert("003000002", Title="CTO")
    assert "2 changed record(s)" in reason_to_wait(workspace, waits_for)
    emulator.salesforce_upsert("003000004", Title="CFO")
    assert reason_to_wait(workspace, waits_for) is None
    # a CRM that cannot be asked: the night starts, and says why
    emulator.tokens[HUBSPOT] = "rotated"
    assert reason_to_wait(workspace, Options(min_new_rows=1000)) is None


def test_a_crm_failing_mid_chunk_loads_nothing_of_that_chunk_and_the_next_run_ends_where_one_run_would(
        workspace, emulator, monkeypatch, tmp_path):
    for k, v in crm_env(emulator, salesforce=DEFAULT_TOKENS[SALESFORCE]).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "2")
    # HubSpot's 5th call (the second page of its second chunk) fails, and its one retry too
    emulator.inject_at(HUBSPOT, 5, 500, 500)
    failed = run_load(workspace)
    assert [p.crm for p in failed.failed_crms] == [HUBSPOT]
    assert failed.failed_crms[0].error.startswith("HTTP 500 from /crm/v3/objects/contacts/search")
    committed = query(workspace, "select count(*) from raw_landing.contacts where source_system = 'hubspot'")[0][0]
    assert committed == 3 * 25, "the first chunk stays; nothing of the failed one"
    assert {p.crm: p.rows_loaded for p in failed.crm_pulls}[SALESFORCE] == SALESFORCE_CONTACTS

    again = run_load(workspace)
    assert not again.failed_crms
    assert {p.crm: p.rows_loaded for p in again.crm_pulls}[HUBSPOT] == HUBSPOT_CONTACTS - committed
    assert len(versions(workspace)) == len(set(versions(workspace))) == HUBSPOT_CONTACTS + SALESFORCE_CONTACTS


def test_more_records_than_a_chunk_under_one_timestamp_are_paged_through_or_stop_clearly(
        workspace, emulator, monkeypatch):
    """A bulk import stamps many contacts with one lastmodifieddate: each chunk pages past the
    ones loaded before to new ones, as far as one search can page; past that, HubSpot stops
    with why (what it reached stays loaded), instead of asking the same pages every night."""
    for k, v in crm_env(emulator, salesforce=DEFAULT_TOKENS[SALESFORCE]).items():
        monkeypatch.setenv(k, v)
    stamp = emulator.state.hubspot["1"]["properties"]["lastmodifieddate"]
    for record in emulator.state.hubspot.values():
        record["properties"]["lastmodifieddate"] = stamp
    result = run_load(workspace)
    assert not result.failed_crms, [p.error for p in result.crm_pulls]
    assert {p.crm: p.rows_loaded for p in result.crm_pulls}[HUBSPOT] == HUBSPOT_CONTACTS

    # the same import, where one search can page through less than it holds
    other = workspace.warehouse.with_name("other.duckdb")
    monkeypatch.setenv("CONTACTS_WAREHOUSE", str(other))
    monkeypatch.setattr(HubSpotApi, "max_results", 100)
    stuck = run_load(load_settings())
    assert [p.crm for p in stuck.failed_crms] == [HUBSPOT]
    assert "share one lastmodifieddate value" in stuck.failed_crms[0].error, stuck.failed_crms[0].error
    assert stuck.failed_crms[0].rows_loaded == 100, "what one search could reach is loaded"
