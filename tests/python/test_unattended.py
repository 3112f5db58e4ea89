"""Left unattended on a client's real data: what the scheduled command must and must not do.

Every test runs the real nightly command (`contacts run`, as cron calls it) in a
subprocess against a real DuckDB file; alerts and heartbeats go to a receiver on 127.0.0.1;
providers are the emulator or a closed port on 127.0.0.1. Client files are written here by
hand, with a model of their own (not the demo generator's).
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from test_nightly import PATHS, WebhookReceiver, environment, final_tables, nightly, rows, state

from batch.dbt import dbt_command
from batch.monitoring.report import write_report
from batch.runner import Options, RunRecord, StepRecord, reason_to_wait, record_run
from ingestion.settings import REPO_ROOT, Settings, load_settings
from ingestion.suppression import create_key
from tooling.crm_emulator import DEFAULT_TOKENS as CRM_TOKENS
from tooling.crm_emulator import CrmEmulator
from tooling.demo.generator import generate
from tooling.emulator import COMPANY, PERSON, Emulator, EmulatorConfig
from tooling.mailchimp_emulator import API_KEY as MAILCHIMP_KEY
from tooling.mailchimp_emulator import LIST_ID, MailchimpEmulator

CONTACTS = 1500


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("unattended_demo")
    generate(CONTACTS, 11, root / "landing", root / "truth")
    return root


def workspace(demo_files: Path, root: Path, landing: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if landing:
        shutil.copytree(demo_files / "landing", root / "landing")
    shutil.copytree(demo_files / "truth", root / "truth")
    return root


@pytest.fixture(scope="module")
def first_night(demo_files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A first night in demo mode (`make run`): demo files, the emulator answering."""
    root = workspace(demo_files, tmp_path_factory.mktemp("first_night"))
    result = nightly(root, "--demo")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (root / "night.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    return root


@pytest.fixture
def receiver():
    hook = WebhookReceiver()
    yield hook
    hook.close()


def copy_of(root: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(root, target)
    return target


def steps_of(root: Path) -> dict[str, dict]:
    return {s["step"]: s for s in state(root)["steps"]}


def manifest(root: Path) -> dict:
    return json.loads((root / "exports" / "manifest.json").read_text())


# ------------------------------------------------------------ 1. no demo data ----

def test_a_missing_landing_folder_on_a_new_warehouse_is_an_error_that_alerts(tmp_path, receiver):
    root = tmp_path / "ws"
    root.mkdir()
    result = nightly(root, NIGHTLY_ALERT_WEBHOOK_URL=receiver.url, NIGHTLY_HEARTBEAT_URL=receiver.url + "/ping")
    assert result.returncode == 1, result.stdout[-2000:]
    assert "does not exist and nothing has ever been loaded" in result.stdout + result.stderr
    assert "LANDING_DIR" in result.stdout
    assert not (root / "landing").exists() and not (root / "truth").exists()  # nothing invented
    assert "Traceback" not in result.stdout + result.stderr
    assert steps_of(root)["load"]["status"] == "failed"
    assert all(s["status"] == "skipped" for name, s in steps_of(root).items() if name != "load")
    assert len(receiver.messages) == 1 and "does not exist" in json.dumps(receiver.messages[0])
    assert receiver.pings == ["/ping/fail"]


def test_an_empty_landing_folder_on_a_new_warehouse_invents_nothing(tmp_path, receiver):
    root = tmp_path / "ws"
    (root / "landing").mkdir(parents=True)
    result = nightly(root, NIGHTLY_ALERT_WEBHOOK_URL=receiver.url)
    assert result.returncode == 0, result.stdout[-2000:]
    assert list((root / "landing").iterdir()) == []
    assert state(root)["status"] == "warned"
    assert "nothing has been loaded yet" in steps_of(root)["load"]["message"]
    assert steps_of(root)["build_before_enrichment"]["status"] == "skipped"
    assert len(receiver.messages) == 1


def test_the_scheduled_run_on_an_emptied_landing_folder_warns_and_changes_no_list(first_night, tmp_path, receiver):
    root = copy_of(first_night, tmp_path)
    before = manifest(root)
    raw = rows(root, "select count(*) from raw_landing.contacts")
    shutil.move(root / "landing", tmp_path / "archived")  # the operator archived the processed files
    (root / "landing").mkdir()
    env = {"NIGHTLY_ALERT_WEBHOOK_URL": receiver.url, "NIGHTLY_HEARTBEAT_URL": receiver.url + "/ping",
           "NIGHTLY_EMPTY_LANDING_ALERT_NIGHTS": "2"}

    first = nightly(root, **env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    steps = steps_of(root)
    assert state(root)["status"] == "warned" and steps["load"]["status"] == "warn"
    assert "is empty: nothing new tonight" in steps["load"]["message"]
    assert all(steps[s]["status"] in ("ok", "warn") for s in ("build_before_enrichment", "build_after_enrichment",
                                                               "export"))
    # no demo data, no emulator: the scheduled command has no provider configured
    assert list((root / "landing").iterdir()) == []
    assert "emulator" not in first.stdout
    assert steps["enrich"]["status"] == "skipped" and "no enrichment provider" in steps["enrich"]["message"]
    assert rows(root, "select count(*) from raw_landing.contacts") == raw
    after = manifest(root)
    assert [(s["segment"], s["rows"]) for s in after["segments"]] == [(s["segment"], s["rows"])
                                                                      for s in before["segments"]]
    assert all(s["adds"] == 0 and s["removes"] == 0 for s in after["segments"])
    assert receiver.messages == [] and receiver.pings == ["/ping"]  # one quiet night is no alarm

    # the next night the mount is not even there: the rest still runs, and it alerts
    (root / "landing").rmdir()
    second = nightly(root, **env)
    assert second.returncode == 0, second.stdout[-3000:]
    message = steps_of(root)["load"]["message"]
    assert "does not exist" in message and "2 nights in a row" in message
    assert len(receiver.messages) == 1 and "2 nights in a row" in json.dumps(receiver.messages[0])


# ------------------------------------- 2. plain dbt build, 3. the first night ----

def dbt(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(dbt_command(list(args)), cwd=REPO_ROOT, env=environment(root, DBT_TARGET_PATH=str(
        root / "dbt_target")), capture_output=True, text=True, timeout=900)


def test_plain_dbt_build_after_a_nightly_run(first_night, tmp_path):
    root = copy_of(first_night, tmp_path)
    built = dbt(root, "build")
    assert built.returncode == 0, built.stdout[-3000:]
    kinds = rows(root, "select distinct nightly_run_id is null from monitoring.pipeline_metrics order by all")
    assert kinds == [(False,), (True,)]  # the nightly's metrics, and the plain build's without a run id


def test_a_nightly_run_after_a_plain_dbt_build(demo_files, tmp_path):
    root = workspace(demo_files, tmp_path / "ws")
    loaded = subprocess.run([sys.executable, "-m", "batch", "load"], cwd=REPO_ROOT, env=environment(root),
                            capture_output=True, text=True, timeout=600)
    assert loaded.returncode == 0, loaded.stderr
    built = dbt(root, "build")
    assert built.returncode == 0, built.stdout[-3000:]
    night = nightly(root, "--demo")
    assert night.returncode == 0, night.stdout[-3000:]
    assert state(root)["status"] == "succeeded", steps_of(root)


def test_the_first_night_exports_what_it_paid_for(first_night):
    root = first_night
    raw = rows(root, "select count(*), sum(credits_charged) from raw_enrichment.provider_responses")[0]
    assert raw[0] > 0 and raw[1] > 0
    assert rows(root, "select count(*) from staging.stg_enrichment__provider_responses")[0][0] == raw[0]
    # the night's credits are booked to the night that paid them
    run_id = state(root)["run_id"]
    booked = rows(root, f"select sum(metric_value) from monitoring.pipeline_metrics where nightly_run_id = '{run_id}'"
                        " and metric_group = 'enrichment' and metric_name = 'credits_charged'")[0][0]
    assert booked == raw[1]
    # and the exports hold the providers' values
    from_provider = dict(rows(
        root, "select contact_id, industry from enriched.dim_contacts where industry_source in ('person', 'company')"))
    exported = [row for path in glob.glob(str(root / "exports" / "*" / "*.parquet"))
                for row in pq.read_table(path, columns=["contact_id", "industry"]).to_pylist()]
    enriched = [r for r in exported if r["contact_id"] in from_provider]
    assert len(enriched) >= 50
    assert all(r["industry"] == from_provider[r["contact_id"]] and r["industry"] for r in enriched)
    # the lists that need providers' values are not empty on the first night
    sizes = {s["segment"]: s["rows"] for s in manifest(root)["segments"]}
    assert sizes["enterprise_decision_makers"] > 0


# ------------------------------------------- 4. the client's data quality ----

FIRST = ["Maria", "James", "Wei", "Olga", "Pedro", "Aisha", "Tom", "Ingrid", "Raj", "Chloe", "Sven", "Nkechi"]
LAST = ["Okafor", "Lindqvist", "Tanaka", "Moreau", "Kowalski", "Haddad", "Brennan", "Silva", "Novak", "Park"]
STREETS = ["Elm St", "Oak Avenue", "Maple Dr", "Lakeview Rd", "N 3rd St", "Cedar Ln", "Sunset Blvd"]
CITIES = [("Springfield", "IL", "62701"), ("Austin", "TX", "73301"), ("Portland", "OR", "97201"),
          ("Albany", "NY", "12207"), ("Tampa", "FL", "33601")]


def write_postal_mailing_list(path: Path, n: int, seed: int) -> None:
    """A client's postal mailing list: names and addresses, no e-mail, phones mostly not valid
    numbers (extensions only, 555 placeholders, too few digits), as CRMs hold them."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["Customer No", "Given Name", "Family Name", "Address Line 1", "Town", "State", "Zip", "Tel"])
        for i in range(n):
            city, st, zip_code = rng.choice(CITIES)
            phone = rng.choice(["x" + str(rng.randint(100, 999)), "555-" + str(rng.randint(1000, 9999)),
                                str(rng.randint(10000, 99999)), "000-000-0000",
                                f"(212) 555-{rng.randint(1000, 9999)}"])
            out.writerow([f"C{i:05d}", rng.choice(FIRST), rng.choice(LAST),
                          f"{rng.randint(1, 9999)} {rng.choice(STREETS)}", city, st, zip_code, phone])


def test_a_client_file_with_odd_phones_and_no_emails_warns_and_the_night_goes_on(demo_files, tmp_path, receiver):
    # the demo's ground truth lies about too (an earlier demo): `--demo` still may not
    # send the client's contacts to the emulator
    root = workspace(demo_files, tmp_path / "ws", landing=False)
    (root / "landing").mkdir()
    write_postal_mailing_list(root / "landing" / "client__mailing_list.csv", 1500, seed=5)
    result = nightly(root, "--demo", NIGHTLY_ALERT_WEBHOOK_URL=receiver.url)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    steps = steps_of(root)
    assert state(root)["status"] == "warned"
    assert steps["export"]["status"] == "ok" and steps["build_after_enrichment"]["status"] in ("ok", "warn")
    warned = {p["node"] for s in steps.values() for p in s["problems"] if p["status"] == "warn"}
    assert "cleaned_phones_mostly_valid__warn" in warned
    assert not [p for s in steps.values() for p in s["problems"] if p["status"] in ("fail", "error")]
    # the emulator refused: nothing of the client's went to it
    assert steps["enrich"]["status"] == "warn" and "only answers for demo data" in steps["enrich"]["message"]
    assert rows(root, "select count(*) from information_schema.tables where table_schema = 'raw_enrichment' "
                      "and table_name = 'provider_responses'") == [(0,)]
    # one alert, naming the warnings
    assert len(receiver.messages) == 1
    alert = json.dumps(receiver.messages[0])
    assert "warned" in receiver.messages[0]["text"] and "cleaned_phones_mostly_valid__warn" in alert


# ----------------------------------------------- 5. failures that alert ----

def test_a_warehouse_locked_by_an_analyst_alerts_without_a_traceback(first_night, tmp_path, receiver):
    root = copy_of(first_night, tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
        "time.sleep(600)"), str(root / PATHS["CONTACTS_WAREHOUSE"])], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = nightly(root, "--retries", "0", NIGHTLY_ALERT_WEBHOOK_URL=receiver.url)
    finally:
        holder.kill()
        holder.wait()
    out = result.stdout + result.stderr
    assert result.returncode == 1, out[-3000:]
    assert "Traceback" not in out
    assert "locked by another process" in out and f"pid {holder.pid}" in out
    assert "Run " in result.stdout and "incomplete" in result.stdout  # the summary got to its end
    assert len(receiver.messages) == 1
    alert = json.dumps(receiver.messages[0])
    assert "locked by another process" in alert and f"pid {holder.pid}" in alert


def test_a_warehouse_folder_that_cannot_be_written_alerts(tmp_path, receiver):
    root = tmp_path / "ws"
    (root / "landing").mkdir(parents=True)
    (root / "warehouse").write_text("a file where the warehouse folder should be")
    result = nightly(root, NIGHTLY_ALERT_WEBHOOK_URL=receiver.url)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "Not starting: cannot write" in result.stderr
    assert len(receiver.messages) == 1 and "cannot write" in json.dumps(receiver.messages[0])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def provider_env(person_url: str | None, person_key: str | None, company_url: str | None,
                 company_key: str | None) -> dict[str, str]:
    env = {}
    for name, url, key in ((PERSON, person_url, person_key), (COMPANY, company_url, company_key)):
        prefix = f"SOURCES__ENRICHMENT__PROVIDERS__{name.upper()}__"
        if url:
            env[prefix + "BASE_URL"] = url
        if key:
            env[prefix + "API_KEY"] = key
        env.update({prefix + "MAX_RETRIES": "1", prefix + "BACKOFF_SECONDS": "0.01",
                    prefix + "MAX_BACKOFF_SECONDS": "0.05", prefix + "TIMEOUT_SECONDS": "5"})
    return env


@pytest.fixture(scope="module")
def scheduled_night(demo_files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scheduled command, no provider configured: every request is still pending."""
    root = workspace(demo_files, tmp_path_factory.mktemp("scheduled_night"))
    result = nightly(root)
    assert result.returncode == 0, result.stdout[-3000:]
    assert steps_of(root)["enrich"]["status"] == "skipped"
    assert rows(root, "select count(*) from enriched.enrichment_requests")[0][0] > 0
    return root


def test_a_rejected_key_and_an_unreachable_provider_alert(scheduled_night, tmp_path, receiver):
    root = copy_of(scheduled_night, tmp_path)
    keys = {PERSON: "the-real-key", COMPANY: "the-real-company-key"}
    with Emulator(EmulatorConfig(truth_dir=root / "truth", api_keys=keys)) as emulator:
        env = provider_env(emulator.url, "a-revoked-key", f"http://127.0.0.1:{closed_port()}", "company-key")
        result = nightly(root, NIGHTLY_ALERT_WEBHOOK_URL=receiver.url, **env)
    assert result.returncode == 0, result.stdout[-3000:]
    enrich = steps_of(root)["enrich"]
    assert enrich["status"] == "warn" and enrich["alert"]
    assert "person: stopped" in enrich["message"] and "check the API key" in enrich["message"]
    assert "company: unreachable" in enrich["message"]
    assert steps_of(root)["export"]["status"] == "ok"
    assert len(receiver.messages) == 1
    alert = json.dumps(receiver.messages[0])
    assert "check the API key" in alert and "company: unreachable" in alert
    assert "a-revoked-key" not in result.stdout + result.stderr + alert


def test_sigterm_during_a_hanging_enrichment_ends_the_night_recorded_and_alerted(scheduled_night, tmp_path,
                                                                                  receiver):
    """A provider that never answers, a call timeout of five minutes, and the scheduler's
    SIGTERM: the night ends within seconds, records and reports itself, and alerts; the
    requests in flight are on record as possibly billed and stay pending."""
    from tooling.emulator import Faults

    root = copy_of(scheduled_night, tmp_path)
    keys = {PERSON: "person-key", COMPANY: "company-key"}
    hang = Faults(hang_rate=1.0)
    with Emulator(EmulatorConfig(truth_dir=root / "truth", api_keys=keys,
                                 faults={PERSON: hang, COMPANY: hang})) as emulator:
        env = provider_env(emulator.url, keys[PERSON], emulator.url, keys[COMPANY])
        env = {k: ("300" if k.endswith("TIMEOUT_SECONDS") else v) for k, v in env.items()}
        run = subprocess.Popen([sys.executable, "-m", "batch", "run"], cwd=REPO_ROOT,
                               env=environment(root, NIGHTLY_ALERT_WEBHOOK_URL=receiver.url, **env),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            waited = 0.0
            while emulator.ledger.calls[PERSON] < 1 and waited < 300 and run.poll() is None:
                time.sleep(0.1)
                waited += 0.1
            assert emulator.ledger.calls[PERSON] >= 1, "the enrichment never called the provider"
            run.send_signal(signal.SIGTERM)
            out, err = run.communicate(timeout=60)  # not the five minutes of the call in flight
        finally:
            if run.poll() is None:
                run.kill()
    assert run.returncode != 0
    assert state(root)["status"] == "incomplete"
    assert steps_of(root)["enrich"]["status"] == "failed"
    assert "stopped by a signal" in steps_of(root)["enrich"]["message"]
    assert rows(root, f"select status from monitoring.nightly_runs where nightly_run_id = '{state(root)['run_id']}'"
                ) == [("incomplete",)]
    assert (root / "reports" / "nightly_report.html").exists()
    assert receiver.messages and "incomplete" in json.dumps(receiver.messages[-1])
    cut = rows(root, "select count(*), bool_and(may_be_billed) from raw_enrichment.provider_responses "
                     "where outcome = 'failed'")[0]
    assert cut[0] > 0 and cut[1]
    assert "Traceback" not in out + err


def test_a_missing_key_says_which_and_where(scheduled_night, tmp_path, receiver):
    root = copy_of(scheduled_night, tmp_path)
    env = provider_env(f"http://127.0.0.1:{closed_port()}", None, f"http://127.0.0.1:{closed_port()}", None)
    result = nightly(root, NIGHTLY_ALERT_WEBHOOK_URL=receiver.url, **env)
    assert result.returncode == 0, result.stdout[-3000:]
    enrich = steps_of(root)["enrich"]
    assert enrich["status"] == "warn" and "person: no api_key" in enrich["message"]
    alert = json.dumps(receiver.messages[0])
    assert "SOURCES__ENRICHMENT__PROVIDERS__PERSON__API_KEY" in alert and "see above" not in alert


def test_the_report_is_written_when_no_run_got_as_far_as_the_metrics(tmp_path):
    """A first night that failed before pipeline_metrics existed, then one with metrics."""
    settings = Settings(warehouse=tmp_path / "w.duckdb", landing_dir=tmp_path, export_dir=tmp_path,
                        ground_truth_dir=tmp_path, header_aliases=tmp_path, report_dir=tmp_path / "reports")
    for day, status in ((1, "incomplete"), (2, "failed")):
        record_run(settings, RunRecord(run_id=f"202611{day:02d}T013000Z", started_at=f"2026-11-{day:02d}T01:30:00",
                                       pid=1, host="h", status=status, finished_at=f"2026-11-{day:02d}T01:31:00",
                                       steps=[StepRecord(step="load", status="failed")]))
    page = write_report(settings).read_text()
    assert "Latest run 20261102T013000Z" in page and "Duplicates merged" in page


# ------------------------------------------------------ 8. removals and why ----

def test_a_delta_night_removals_carry_address_and_reason_and_a_newer_file_updates_a_title(first_night, tmp_path):
    """Items 8 and 9 on one night: an unsubscribe file, an opt-out in a CRM export, and a newer
    export without an update-time column that changes someone's job title."""
    root = copy_of(first_night, tmp_path)
    segment = max(manifest(root)["segments"], key=lambda s: s["rows"])["segment"]
    exported = pq.read_table(root / "exports" / segment / f"{segment}.parquet").to_pylist()
    unsubscribed, opted_out = exported[0], exported[1]
    # the client's unsubscribe list names one; a CRM export says the other opted out
    (root / "landing" / "suppression__unsubscribes.csv").write_text(
        f"email\n{unsubscribed['email_address']}\n", encoding="utf-8")
    (root / "landing" / "crm__opt_outs.csv").write_text(
        "Email,First Name,Last Name,Unsubscribed\n"
        f"{opted_out['email_address']},{opted_out['first_name']},{opted_out['last_name']},true\n", encoding="utf-8")
    # a newer HubSpot export, without an updated_at column, gives someone a new title
    promoted, email, first, last = rows(root, f"""
        select contact_id, email_address, first_name, last_name from enriched.dim_contacts
        where job_title is not null and job_title_source not in ('person', 'company') and is_email_valid
          and first_name is not null and last_name is not null
          and contact_id not in ('{unsubscribed["contact_id"]}', '{opted_out["contact_id"]}')
        order by contact_id limit 1""")[0]
    (root / "landing" / "hubspot__title_changes.csv").write_text(
        f"Email,First Name,Last Name,Job Title\n{email},{first},{last},Chief Widget Officer\n", encoding="utf-8")
    result = nightly(root, "--demo")
    assert result.returncode == 0, result.stdout[-3000:]
    assert rows(root, f"select job_title, job_title_source from enriched.dim_contacts "
                      f"where contact_id = '{promoted}'") == [("Chief Widget Officer", "hubspot")]
    # new files: both dbt phases were built in full
    steps = steps_of(root)
    assert [steps[s]["method"] for s in ("build_before_enrichment", "build_after_enrichment")] == [
        "dbt build --selector nightly_before_enrichment", "dbt build --selector nightly_after_enrichment"]

    with (root / "exports" / segment / "removes.csv").open(newline="", encoding="utf-8") as f:
        removes = {r["contact_id"]: r for r in csv.DictReader(f)}
    assert removes[unsubscribed["contact_id"]]["reason"] == "suppressed"
    assert removes[unsubscribed["contact_id"]]["email_address"] == unsubscribed["email_address"]
    assert removes[opted_out["contact_id"]]["reason"] == "opted_out"
    assert removes[opted_out["contact_id"]]["email_address"] == opted_out["email_address"]
    assert {r["reason"] for r in removes.values()} <= {"merged", "erased", "left_segment", "opted_out",
                                                        "suppressed", "no_valid_email"}
    by_email = {r["email_address"]: r for r in exported}
    assert all(r["email_address"] in by_email for r in removes.values() if r["reason"] != "erased")

    with (root / "exports" / "suppressions.csv").open(newline="", encoding="utf-8") as f:
        suppressions = {r["email_address"]: r["reason"] for r in csv.DictReader(f)}
    assert suppressions[unsubscribed["email_address"]] == "suppressed"
    assert suppressions[opted_out["email_address"]] == "opted_out"
    listed = manifest(root)["suppressions"]
    assert listed["rows"] == len(suppressions) and listed["sha256"]
    assert manifest(root)["warehouse"] == str(root / PATHS["CONTACTS_WAREHOUSE"])


def test_contacts_read_from_a_crm_api_reach_the_lists_and_leave_them_when_deleted_there(first_night, tmp_path):
    """HubSpot by API (the CRM emulator on 127.0.0.1) beside the landing files: its contacts
    are built into the lists; archived in HubSpot, a contact leaves them, its removal saying
    why with the address the campaign tool knows; the other stays."""
    root = copy_of(first_night, tmp_path)
    with CrmEmulator() as crm:
        crm.hubspot_upsert("501", email="ines.duarte@northwind.example", firstname="Ines", lastname="Duarte",
                           company="Northwind Traders", jobtitle="Marketing Director", city="Boston", state="MA",
                           country="United States")
        crm.hubspot_upsert("502", email="kofi.oduya@contoso.example", firstname="Kofi", lastname="Oduya",
                           company="Contoso", city="Toronto", country="Canada")
        env = {"SOURCES__CRM__HUBSPOT__BASE_URL": crm.url,
               "SOURCES__CRM__HUBSPOT__ACCESS_TOKEN": CRM_TOKENS["hubspot"]}
        result = nightly(root, **env)
        assert result.returncode == 0, result.stdout[-3000:]
        assert steps_of(root)["load"]["counts"]["crm_rows_loaded"] == 2
        listed = rows(root, """
            select map.source_record_id, export.email_address from deduped.contact_identity_map as map
            inner join exports.campaign_export_contacts as export on map.contact_id = export.contact_id
            where map.source_system = 'hubspot' and map.source_record_id in ('501', '502')
              and export.segment_name = 'region_north_america'
            order by 1""")
        assert listed == [("501", "ines.duarte@northwind.example"), ("502", "kofi.oduya@contoso.example")]

        crm.hubspot_archive("501")
        result = nightly(root, **env)
        assert result.returncode == 0, result.stdout[-3000:]
    with (root / "exports" / "region_north_america" / "removes.csv").open(newline="", encoding="utf-8") as f:
        removes = list(csv.DictReader(f))
    assert [(r["email_address"], r["reason"]) for r in removes] == [
        ("ines.duarte@northwind.example", "deleted_in_crm")]
    assert rows(root, """select count(*) from deduped.golden_contacts where email_address in
                         ('ines.duarte@northwind.example', 'kofi.oduya@contoso.example')""") == [(1,)]


def test_a_night_with_nothing_new_builds_only_what_reads_the_clock_and_ends_as_a_full_build(first_night, tmp_path):
    """Nothing landed, no answer, no decision, no change of code since the last night: each
    dbt phase builds only its `nightly_nothing_new_*` selector, and the night ends with the
    tables and files a night building everything (--build-all) ends with."""
    root = copy_of(first_night, tmp_path)
    reduced = nightly(root, "--demo")
    assert reduced.returncode == 0, reduced.stdout[-3000:] + reduced.stderr[-3000:]
    steps, run_id = steps_of(root), state(root)["run_id"]
    assert steps["enrich"]["counts"]["sent"] == 0  # the first night asked everything due
    for phase, selector in [("build_before_enrichment", "nightly_nothing_new_before"),
                            ("build_after_enrichment", "nightly_nothing_new_after")]:
        assert steps[phase]["status"] in ("ok", "warn")
        assert steps[phase]["method"] == f"dbt build --selector {selector} (nothing new since this phase was " \
                                         "last built in full)"
    built = {name for (name,) in rows(root, f"""select split_part(unique_id, '.', 3) from monitoring.dbt_results
                                                 where nightly_run_id = '{run_id}' and resource_type = 'model'""")}
    assert built == {"stg_enrichment__provider_responses", "enriched_matched_answers", "enriched_person_answers",
                     "enriched_company_answers", "enrichment_requests", "pipeline_metrics"}
    # the night still has its metrics row, with the freshness and volume thresholds checked
    assert rows(root, f"select count(*) > 0 from monitoring.pipeline_metrics where nightly_run_id = '{run_id}'"
                ) == [(True,)]
    after_reduced = final_tables(root)

    full = nightly(root, "--demo", "--build-all")
    assert full.returncode == 0, full.stdout[-3000:] + full.stderr[-3000:]
    steps = steps_of(root)
    assert [steps[s]["method"] for s in ("build_before_enrichment", "build_after_enrichment")] == [
        "dbt build --selector nightly_before_enrichment", "dbt build --selector nightly_after_enrichment"]
    assert final_tables(root) == after_reduced

    # a reviewer's decision is new input: the phases are built in full again
    (a, b), = rows(root, "select min(source_record_key), max(source_record_key) from deduped.contact_identity_map")
    decided = subprocess.run([sys.executable, "-m", "batch", "review", "decide", "must_link", a, b, "--by", "test"],
                             cwd=REPO_ROOT, env=environment(root), capture_output=True, text=True, timeout=300)
    assert decided.returncode == 0, decided.stdout + decided.stderr
    again = nightly(root, "--demo")
    assert again.returncode == 0, again.stdout[-3000:]
    assert steps_of(root)["build_before_enrichment"]["method"] == "dbt build --selector nightly_before_enrichment"
    assert rows(root, f"""select count(distinct contact_id) from deduped.contact_identity_map
                          where source_record_key in ('{a}', '{b}')""") == [(1,)]


def test_a_night_started_by_the_data_waits_for_enough_new_rows(first_night, tmp_path):
    """--min-new-rows: a scheduler polls; the night starts once the landing folder holds
    enough rows not loaded yet, and a poll that finds too few touches nothing."""
    root = copy_of(first_night, tmp_path)
    before = state(root)
    (root / "landing" / "hubspot__late_additions.csv").write_text(
        "Email,First Name,Last Name\nada@example.org,Ada,Lovelace\ngrace@example.org,Grace,Hopper", encoding="utf-8")
    waiting = nightly(root, "--min-new-rows", "3")
    assert waiting.returncode == 0, waiting.stdout + waiting.stderr
    assert "2 new row(s) in 1 landing file(s), fewer than the 3 a night waits for" in waiting.stdout
    assert state(root) == before  # not started: no run, no record, nothing loaded
    # the last run is older than the longest wait allowed: the night starts anyway
    started = nightly(root, "--min-new-rows", "3", "--max-wait-hours", "0.0001")
    assert started.returncode == 0, started.stdout[-3000:]
    assert state(root)["run_id"] != before["run_id"]
    assert steps_of(root)["load"]["counts"]["rows_loaded"] == 2
    # loaded: the same rows do not count again
    assert "0 new row(s) in 0 landing file(s)" in nightly(root, "--min-new-rows", "1").stdout


def test_a_poll_starts_the_night_when_the_last_run_must_be_resumed_or_its_record_is_unreadable(
        first_night, tmp_path, monkeypatch):
    """--min-new-rows never keeps a killed night from being resumed, nor hides a damaged
    run record (the run reports it)."""
    root = copy_of(first_night, tmp_path)
    for name, value in environment(root).items():
        monkeypatch.setenv(name, value)
    settings, options = load_settings("duckdb"), Options(min_new_rows=1)
    assert "0 new row(s) in 0 landing file(s)" in reason_to_wait(settings, options)
    record = settings.nightly_dir / "state.json"
    record.write_text(json.dumps({**state(root), "status": "killed"}), encoding="utf-8")
    assert reason_to_wait(settings, options) is None
    record.write_text("{ not a record", encoding="utf-8")
    assert reason_to_wait(settings, options) is None


# ------------------------------------------- 6. no list silently rewritten ----

def test_an_export_that_would_empty_the_lists_is_held_back_until_confirmed(first_night, tmp_path, receiver):
    """A mistyped CONTACTS_WAREHOUSE (a new, empty warehouse: no history for the metrics to
    compare with) while older landing files were archived: the lists would lose most rows."""
    root = copy_of(first_night, tmp_path)
    before = manifest(root)
    landing_files = sorted(p for p in (root / "landing").iterdir() if not p.name.startswith("."))
    for path in landing_files[:3]:
        shutil.move(path, tmp_path / path.name)
    other = {"CONTACTS_WAREHOUSE": str(root / "typo" / "contacts.duckdb")}
    result = nightly(root, "--demo", NIGHTLY_ALERT_WEBHOOK_URL=receiver.url, **other)
    assert result.returncode == 0, result.stdout[-3000:]
    steps = state_of(root / "typo")["steps"]
    export = next(s for s in steps if s["step"] == "export")
    assert export["status"] == "warn" and export["counts"]["held"] > 0, export
    held = [s for s in before["segments"] if s["rows"] >= 20]
    assert held
    after = {s["segment"]: s for s in manifest(root)["segments"]}
    for entry in held:  # a held list keeps its files, and the manifest still describes them
        assert after[entry["segment"]] == entry
        assert pq.read_table(root / "exports" / entry["segment"] / f"{entry['segment']}.parquet").num_rows \
            == entry["rows"]
    assert "--confirm-removals" in json.dumps(receiver.messages[-1])

    confirmed = subprocess.run([sys.executable, "-m", "batch", "export", "--confirm-removals"], cwd=REPO_ROOT,
                               env=environment(root, **other), capture_output=True, text=True, timeout=300)
    assert confirmed.returncode == 0, confirmed.stderr
    final = {s["segment"]: s for s in manifest(root)["segments"]}
    assert all(final[s["segment"]]["removes"] > s["rows"] / 2 for s in held)


def state_of(warehouse_dir: Path) -> dict:
    return json.loads((warehouse_dir / ".contacts.nightly" / "state.json").read_text())


def query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


DIM = ("select contact_id, email_address, first_name, last_name, job_title, seniority, company_size_band, industry, "
       "can_be_contacted from enriched.dim_contacts order by contact_id")


def test_a_recreated_warehouse_names_every_contact_the_same_and_changes_no_list(first_night, tmp_path):
    """The same landing files into a new warehouse (a mistyped CONTACTS_WAREHOUSE, a restore
    gone wrong, a rebuild): the same contact ids and golden records, so no list churns."""
    root = copy_of(first_night, tmp_path)
    other = root / "typo" / "contacts.duckdb"
    result = nightly(root, "--demo", CONTACTS_WAREHOUSE=str(other))
    assert result.returncode == 0, result.stdout[-3000:]
    original = query(root / PATHS["CONTACTS_WAREHOUSE"], DIM)
    assert query(other, DIM) == original and len(original) > 1000
    assert all(s["adds"] == 0 and s["removes"] == 0 for s in manifest(root)["segments"]), manifest(root)


# ---------------------------------------------- 12. erasure leaves no byte ----

def test_an_erased_person_leaves_no_byte_in_any_file_we_write(first_night, tmp_path):
    """...and leaves the Mailchimp audience for good: the sync deletes them permanently."""
    root = copy_of(first_night, tmp_path)
    # a person with a phone and an address, exported in a segment synced to Mailchimp; their
    # strings as the CRMs wrote them
    contact_id, email = rows(root, """
        select contact_id, email_address from exports.campaign_export_contacts
        where phone_e164 is not null and segment_name = 'region_north_america' order by contact_id limit 1""")[0]
    mailchimp = MailchimpEmulator().start()
    to_mailchimp = {"DESTINATIONS__MAILCHIMP__API_KEY": MAILCHIMP_KEY, "DESTINATIONS__MAILCHIMP__LIST_ID": LIST_ID,
                    "DESTINATIONS__MAILCHIMP__BASE_URL": mailchimp.url + "/3.0"}
    synced = subprocess.run([sys.executable, "-m", "batch", "sync"], cwd=REPO_ROOT,
                            env=environment(root, **to_mailchimp), capture_output=True, text=True, timeout=300)
    assert synced.returncode == 0, synced.stdout[-3000:] + synced.stderr[-3000:]
    assert "North America" in mailchimp.member(email).tags
    raw = rows(root, f"""
        select distinct raw.email, raw.phone, map.contact_id from raw_landing.contacts as raw
        inner join deduped.contact_identity_map as map
            on map.contact_record_id = concat_ws('-', raw._file_load_id, cast(raw._source_row_number as varchar))
        where map.contact_id = '{contact_id}'""")
    phone = rows(root, f"select phone_e164 from enriched.dim_contacts where contact_id = '{contact_id}'")[0][0]
    traces = {email.encode(), phone.encode()} | {e.strip().encode() for e, _, _ in raw if e and len(e.strip()) > 5}
    traces |= {p.strip().encode() for _, p, _ in raw if p and len(p.strip()) > 7}

    forgot = subprocess.run([sys.executable, "-m", "batch", "forget", "--email", email], cwd=REPO_ROOT,
                            env=environment(root, DBT_TARGET_PATH=str(root / "dbt_target")),
                            capture_output=True, text=True, timeout=900)
    assert forgot.returncode == 0, forgot.stdout[-3000:] + forgot.stderr[-3000:]
    assert not any(t.decode() in forgot.stdout + forgot.stderr for t in traces)
    # the next sync (here the nightly run's) deletes them from the audience for good
    again = nightly(root, **to_mailchimp)
    mailchimp.stop()
    assert again.returncode == 0, again.stdout[-3000:]
    assert steps_of(root)["sync"]["status"] == "ok" and steps_of(root)["sync"]["counts"]["erased"] == 1
    assert mailchimp.member(email) is None and len(mailchimp.deleted_for_good) == 1
    found = []
    for path in root.rglob("*"):
        if path.is_file() and path.relative_to(root).parts[0] not in ("landing", "truth"):  # the client's own files
            data = path.read_bytes()
            found += [(str(path.relative_to(root)), t) for t in traces if t in data]
    assert not found, found
    # the erasure list holds a keyed hash: not the plain sha256 anyone could test a guess against
    erasures = (root / "landing" / "suppression__erasures.csv").read_text(encoding="utf-8")
    assert hashlib.sha256(email.strip().lower().encode()).hexdigest() not in erasures


# ------------------------------------------- 7. no list older than its segment ----

def test_the_export_reads_a_segment_as_it_was_last_built(first_night, tmp_path):
    """`dbt build --select region_europe` after a rule change: its post-hooks end the spells
    of the contacts that left, and the export that follows sees it without another build."""
    root = copy_of(first_night, tmp_path)
    leaving = [c for (c,) in rows(root, "select contact_id from exports.segment_memberships "
                                        "where segment_name = 'region_europe' order by contact_id limit 5")]
    con = duckdb.connect(str(root / PATHS["CONTACTS_WAREHOUSE"]))
    try:  # what the segment's post-hook does when a rebuilt segment no longer holds them
        con.execute("insert into segments.segment_membership_events select 'region_europe', contact_id, 'left', "
                    "current_timestamp, 'test', 'left the segment' from (select unnest(?) as contact_id)", [leaving])
    finally:
        con.close()
    exported = subprocess.run([sys.executable, "-m", "batch", "export"], cwd=REPO_ROOT, env=environment(root),
                              capture_output=True, text=True, timeout=300)
    assert exported.returncode == 0, exported.stderr
    with (root / "exports" / "region_europe" / "removes.csv").open(newline="", encoding="utf-8") as f:
        removed = {r["contact_id"]: r["reason"] for r in csv.DictReader(f)}
    was_exported = {r["contact_id"] for r in pq.read_table(
        first_night / "exports" / "region_europe" / "region_europe.parquet").to_pylist()}
    assert {c for c in leaving if c in was_exported} == set(removed)
    assert set(removed.values()) == {"left_segment"}



# ----------------------------------------------------------------- 13. smaller ----

def test_a_nightly_log_has_one_line_per_dbt_node_and_no_colour_codes(first_night):
    log = (first_night / "night.log").read_text(encoding="utf-8")
    assert "\x1b[" not in log
    assert not re.search(r"\d+ of \d+ START ", log)
    results = re.findall(r"\d+ of \d+ (OK|PASS|WARN|ERROR|FAIL|SKIP)", log)
    assert len(results) > 300  # both phases, one line per node


def test_dbt_on_a_warehouse_that_never_loaded_says_load_first(tmp_path):
    root = tmp_path / "ws"
    (root / "warehouse").mkdir(parents=True)
    (root / "landing").mkdir()
    built = dbt(root, "build")
    assert built.returncode != 0
    assert "Nothing has been loaded into this warehouse yet" in built.stdout
    assert "contacts load" in built.stdout and "See test failures" not in built.stdout
    # loaded, `ingestion build -- <dbt args>` passes the arguments on, as its help says
    write_postal_mailing_list(root / "landing" / "client__list.csv", 20, seed=1)
    env = environment(root, DBT_TARGET_PATH=str(root / "dbt_target"))
    assert subprocess.run([sys.executable, "-m", "batch", "load"], cwd=REPO_ROOT, env=env,
                          capture_output=True, timeout=300).returncode == 0
    selected = subprocess.run([sys.executable, "-m", "batch", "build", "--", "--select", "stg_landing__file_loads",
                               "--resource-type", "model"],
                              cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert selected.returncode == 0, selected.stdout[-3000:]
    assert "OK created sql view model staging.stg_landing__file_loads" in selected.stdout


def test_the_suppression_key_is_created_once_and_kept_private(tmp_path):
    secrets_file = tmp_path / ".dlt" / "secrets.toml"
    secrets_file.parent.mkdir()
    secrets_file.write_text('[sources.enrichment.providers.person]\napi_key = "x"', encoding="utf-8")
    first = create_key(secrets_file)
    assert create_key(secrets_file) == first and len(first) == 64
    fresh = tmp_path / "new" / "secrets.toml"
    assert create_key(fresh) != first and fresh.stat().st_mode & 0o777 == 0o600
    text = secrets_file.read_text(encoding="utf-8")
    assert 'api_key = "x"' in text and text.count("suppression_key") == 1
    # copied from example.secrets.toml: the [privacy] section is there, the key commented out
    copied = tmp_path / "copied" / "secrets.toml"
    copied.parent.mkdir()
    copied.write_text((REPO_ROOT / ".dlt" / "example.secrets.toml").read_text(encoding="utf-8"), encoding="utf-8")
    key = create_key(copied)
    assert len(key) == 64 and tomllib.loads(copied.read_text(encoding="utf-8"))["privacy"]["suppression_key"] == key


# ------------------------------------------------ 11. the same input, the same output ----

GOLDEN = ("select contact_id, first_name, last_name, phone_e164, street_address, city, postal_code, "
          "name_record_id, phone_record_id, address_record_id from deduped.golden_contacts order by all")


def test_two_runs_of_the_same_files_without_update_times_give_the_same_golden_records(tmp_path):
    """Two CRM exports of the same people, no updated_at anywhere: every survivorship tie is
    broken on the data (source priority, file, row), never on the moment of the load."""
    template = tmp_path / "template" / "landing"
    template.mkdir(parents=True)
    write_postal_mailing_list(template / "hubspot__mailing_list.csv", 1200, seed=5)
    with (template / "hubspot__mailing_list.csv").open(newline="", encoding="utf-8") as f:
        listed = list(csv.reader(f))
    rng = random.Random(9)
    for row in listed[1:]:  # the same people in a second export of the same CRM, other phone numbers
        row[7] = f"+1 212 555 {rng.randint(1000, 9999)}"
    with (template / "hubspot__mailing_list_2.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(listed)
    runs = []
    for name in ("first", "second"):
        root = tmp_path / name
        shutil.copytree(template, root / "landing")  # copy2: the files keep their modification times
        result = nightly(root)
        assert result.returncode == 0, result.stdout[-3000:]
        runs.append(rows(root, GOLDEN))
    assert runs[0] == runs[1] and len(runs[0]) >= 1000
