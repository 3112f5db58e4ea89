"""dim_contacts, segments, exports, consent and erasure, end to end against the real emulator.

One warehouse per module: 1,500 demo contacts and a client's suppression file -> load ->
dbt build -> enrichment through the emulator on loopback -> dbt build -> exports. Each test
works on a copy of it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import query

from batch.dbt import dbt_executable, run_dbt
from batch.exports import COLUMNS, MANIFEST, run_export
from batch.review import Decision, record
from ingestion.enrichment.loader import Progress, run_enrichment
from ingestion.enrichment.providers import RunLimits
from ingestion.landing.load import run_load
from ingestion.settings import REPO_ROOT, SEGMENT_MODELS_VAR, Settings, load_settings, segment_models
from ingestion.suppression import email_hmac, email_sha256
from tooling.demo.generator import generate
from tooling.emulator import COMPANY, PERSON, Emulator, EmulatorConfig

KEYS = {PERSON: "sk-person-segments-1", COMPANY: "sk-company-segments-1"}
PATHS = {"CONTACTS_WAREHOUSE": "warehouse/contacts.duckdb", "LANDING_DIR": "landing", "EXPORT_DIR": "exports",
         "GROUND_TRUTH_DIR": "truth", "DBT_TARGET_PATH": "dbt_target", "DBT_LOG_PATH": "dbt_logs"}


def _environment(mp: pytest.MonkeyPatch, root: Path) -> Settings:
    for name, rel in PATHS.items():
        mp.setenv(name, str(root / rel))
    for provider, key in KEYS.items():
        mp.setenv(f"SOURCES__ENRICHMENT__PROVIDERS__{provider.upper()}__API_KEY", key)
        mp.setenv(f"SOURCES__ENRICHMENT__PROVIDERS__{provider.upper()}__BACKOFF_SECONDS", "0.01")
    return load_settings()


def _suppressed_persons(truth: Path, n: int) -> list[dict]:
    """People of the demo who are reachable and not opted out: the client's unsubscribe list."""
    persons = pq.read_table(truth / "persons.parquet").to_pylist()
    return [p for p in persons if p["email"] and not p["opted_out"]][10:10 + n]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("segments_base")
    with pytest.MonkeyPatch.context() as mp:
        settings = _environment(mp, root)
        generate(1500, 11, settings.landing_dir, settings.ground_truth_dir)
        with (settings.landing_dir / "suppression__client_unsubscribes.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["Email", "Reason"])
            writer.writerows([p["email"].upper(), "unsubscribed"]
                             for p in _suppressed_persons(settings.ground_truth_dir, 3))
        run_load(settings)
        assert run_dbt(settings, ["build", "--exclude", "test_type:unit"]) == 0  # those: test_dbt_build
        with Emulator(EmulatorConfig(truth_dir=settings.ground_truth_dir, api_keys=dict(KEYS))) as emulator:
            for provider in (PERSON, COMPANY):
                mp.setenv(f"SOURCES__ENRICHMENT__PROVIDERS__{provider.upper()}__BASE_URL", emulator.url)
            result = run_enrichment(settings, progress=Progress(enabled=False), limits=RunLimits(flush_seconds=0.5))
        assert sum(stats.matched for stats in result.providers) > 0
        assert run_dbt(settings, ["build", "--select", "source:enrichment+", "--exclude", "test_type:unit"]) == 0
        run_export(settings)
    return root


@pytest.fixture
def ws(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A copy of the built warehouse, landing folder, truth and exports."""
    root = tmp_path / "ws"
    shutil.copytree(built, root, ignore=shutil.ignore_patterns("dbt_target", "dbt_logs"))
    return _environment(monkeypatch, root)


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _person_of_contact(settings: Settings) -> dict[str, str]:
    """contact_id -> the true person, for contacts whose records are all one person's."""
    truth = (settings.ground_truth_dir / "records.parquet").as_posix()
    return dict(query(settings, f"""
        select identity.contact_id, min(truth.person_id)
        from deduped.contact_identity_map as identity
        inner join read_parquet('{truth}') as truth
            on identity.source_system = truth.source_system and identity.source_record_id = truth.source_record_id
        group by identity.contact_id
        having count(distinct truth.person_id) = 1"""))


# --------------------------------------------------------- end to end ----

def test_exported_enriched_values_match_the_ground_truth(ws: Settings) -> None:
    persons = {p["person_id"]: p for p in pq.read_table(ws.ground_truth_dir / "persons.parquet").to_pylist()}
    companies = {c["domain"]: c for c in pq.read_table(ws.ground_truth_dir / "companies.parquet").to_pylist()}
    person_of = _person_of_contact(ws)
    provenance = {r[0]: r[1:] for r in query(ws, "select contact_id, job_title_source, seniority_source, "
                                                 "company_size_band_source, industry_source "
                                                 "from enriched.dim_contacts")}
    checked = {"job_title": 0, "seniority": 0, "company_size_band": 0, "industry": 0}
    exported = 0
    for folder in sorted(p for p in ws.export_dir.iterdir() if p.is_dir()):
        for row in _rows(folder / f"{folder.name}.csv"):
            exported += 1
            job_source, seniority_source, size_source, industry_source = provenance[row["contact_id"]]
            person = persons.get(person_of.get(row["contact_id"], ""))
            if person and job_source == PERSON:
                assert row["job_title"].lower() == person["job_title"].lower()
                checked["job_title"] += 1
            if person and seniority_source == PERSON:
                assert row["seniority"] == person["seniority"]
                checked["seniority"] += 1
            company = companies.get(row["company_domain"])
            if company and size_source in (PERSON, COMPANY):
                assert row["company_size_band"] == company["size_band"], row["contact_id"]
                checked["company_size_band"] += 1
            if company and industry_source in (PERSON, COMPANY):
                assert row["industry"] == company["industry"], row["contact_id"]
                checked["industry"] += 1
    assert exported > 500
    # the providers filled gaps in every field, and every filled value was right
    assert all(n >= 20 for n in checked.values()), checked


def test_exports_hold_no_opted_out_or_suppressed_person_and_match_their_manifest(ws: Settings) -> None:
    manifest = json.loads((ws.export_dir / MANIFEST).read_text())
    catalog = [r[0] for r in query(ws, "select segment_name from exports.segment_catalog order by 1")]
    assert [s["segment"] for s in manifest["segments"]] == catalog
    expected = {"enterprise_decision_makers", "smb_marketing_leaders", "region_europe", "needs_manual_review"}
    assert expected <= set(catalog)

    exported_ids, exported_emails = set(), set()
    for segment in manifest["segments"]:
        folder = ws.export_dir / segment["segment"]
        rows = _rows(folder / f"{segment['segment']}.csv")
        if rows:
            assert list(rows[0]) == COLUMNS
        parquet = pq.read_table(folder / f"{segment['segment']}.parquet")
        assert segment["rows"] == len(rows) == parquet.num_rows
        for name, meta in segment["files"].items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == meta["sha256"]
        exported_ids |= {r["contact_id"] for r in rows}
        exported_emails |= {r["email_address"] for r in rows}
    assert segment_sizes(manifest)["enterprise_decision_makers"] > 0  # only the providers know company sizes

    # consent: no exported contact has an opted-out record; no unsubscribed address is exported
    opted_out = {r[0] for r in query(ws, """
        select identity.contact_id from deduped.contact_identity_map as identity
        inner join cleaned.cleaned_contacts as cleaned on identity.contact_record_id = cleaned.contact_record_id
        inner join deduped.deduped_match_records as matches
            on cleaned.contact_record_id = matches.contact_record_id
        where matches.is_opted_out""")}
    assert opted_out and not exported_ids & opted_out
    unsubscribed = {p["email"].lower() for p in _suppressed_persons(ws.ground_truth_dir, 3)}
    assert len(unsubscribed) == 3 and not {e.lower() for e in exported_emails} & unsubscribed
    # and the loader kept the unsubscribed people's rows out of the raw table
    hashes = {email_sha256(e) for e in unsubscribed}
    raw = {email_sha256(r[0]) for r in query(ws, "select email from raw_landing.contacts where email is not null")}
    assert not raw & hashes


def segment_sizes(manifest: dict) -> dict[str, int]:
    return {s["segment"]: s["rows"] for s in manifest["segments"]}


def test_membership_history_and_export_adds_and_removes_follow_the_segment_rules(ws: Settings) -> None:
    def build_review(threshold: float) -> None:
        assert run_dbt(ws, ["build", "--select", "dim_contacts+",
                            "--vars", json.dumps({"dim_contacts_review_completeness": threshold})]) == 0

    def closed_spells() -> set[tuple]:
        return set(query(ws, "select contact_id, entered_at, left_reason from exports.segment_membership_history "
                             "where segment_name = 'needs_manual_review' and left_at is not null"))

    before = {r[0] for r in query(ws, "select contact_id from exports.segment_memberships "
                                      "where segment_name = 'needs_manual_review'")}
    closed_before = closed_spells()
    build_review(0.7)
    widened = {r[0] for r in query(ws, "select contact_id from exports.segment_memberships "
                                       "where segment_name = 'needs_manual_review'")}
    entered = widened - before
    assert entered
    run_export(ws)
    adds = {r["contact_id"] for r in _rows(ws.export_dir / "needs_manual_review" / "adds.csv")}
    exportable = {r[0] for r in query(ws, "select contact_id from exports.campaign_export_contacts "
                                          "where segment_name = 'needs_manual_review'")}
    assert adds == entered & exportable and adds

    build_review(0.5)
    left = closed_spells() - closed_before
    assert {c for c, _, _ in left} == entered and {reason for _, _, reason in left} == {"left the segment"}
    spells = query(ws, "select contact_id, entered_at, left_at from exports.segment_membership_history "
                       "where segment_name = 'needs_manual_review'")
    assert all(entered_at < left_at for _, entered_at, left_at in spells if left_at is not None)
    # the others' spells go on, unbroken
    assert {c for c, _, left_at in spells if left_at is None} == before
    run_export(ws, confirm_removals=True)  # the list shrinks back on purpose: no hold-back
    removes = {r["contact_id"] for r in _rows(ws.export_dir / "needs_manual_review" / "removes.csv")}
    assert removes == adds
    assert not (ws.export_dir / "needs_manual_review" / "adds.csv").read_text().strip().count("\n")


def test_membership_events_are_only_appended_and_an_earlier_log_is_migrated(ws: Settings) -> None:
    """The membership history is events that builds only append (no update: Parquet on
    Spark, segments built side by side); a warehouse of the earlier version, whose spells
    were updated in place in segments.segment_membership_log, keeps its whole history."""
    events_sql = "select * from segments.segment_membership_events order by all"
    history_sql = "select * from exports.segment_membership_history order by all"
    events_before = query(ws, events_sql)
    assert run_dbt(ws, ["build", "--select", "dim_contacts+",
                        "--vars", json.dumps({"dim_contacts_review_completeness": 0.7})]) == 0
    events_after = query(ws, events_sql)
    assert len(events_after) > len(events_before)
    assert not set(events_before) - set(events_after)  # nothing written before was changed
    history = query(ws, history_sql)

    # the earlier version's table: one row per spell, left_at set in place when it ended
    con = duckdb.connect(str(ws.warehouse))
    try:
        con.execute("create table segments.segment_membership_log as select segment_name, contact_id, entered_at, "
                    "entered_invocation_id, left_at, left_invocation_id, left_reason "
                    "from exports.segment_membership_history")
        con.execute("drop table segments.segment_membership_events")
    finally:
        con.close()
    assert run_dbt(ws, ["build", "--select", "segment_membership_history"]) == 0
    assert query(ws, history_sql) == history
    assert query(ws, "select count(*) from information_schema.tables "
                     "where table_schema = 'segments' and table_name = 'segment_membership_log'") == [(0,)]


# ------------------------------------------------------- a new segment ----

def test_a_new_segment_file_is_picked_up_and_a_segment_without_owner_fails(ws: Settings, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for part in ("dbt_project.yml", "models", "macros", "seeds", "tests", "profiles"):
        source = REPO_ROOT / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, project / part)
    segment_file = project / "models" / "segments" / "france_engineers.sql"
    segment_file.write_text("select contact_id from {{ ref('dim_contacts') }}\n"
                            "where country_code = 'FR' and department = 'engineering'\n")
    (project / "models" / "segments" / "_france_engineers.yml").write_text(
        "version: 2\nmodels:\n  - name: france_engineers\n    description: Engineers in France.\n"
        "    meta:\n      owner: someone@agency.example\n")

    def dbt(*args: str, lineage: bool = True) -> subprocess.CompletedProcess:
        env = ws.dbt_env()  # what every dbt the project starts gets: the segments of this project
        env[SEGMENT_MODELS_VAR] = " ".join(segment_models(project)) if lineage else ""
        return subprocess.run([dbt_executable(), *args, "--project-dir", str(project), "--profiles-dir",
                               str(project / "profiles")], cwd=project, env=env, capture_output=True,
                              text=True, check=False)

    # the one new file is in dbt's lineage: segment -> catalog -> memberships -> export rows -> exposure
    listed = dbt("ls", "--select", "france_engineers+", "--resource-type", "model", "exposure", "--output", "name")
    assert listed.returncode == 0, listed.stdout[-3000:]
    assert {"segment_catalog", "segment_memberships", "campaign_export_contacts",
            "campaign_list_exports"} <= set(listed.stdout.split()), listed.stdout
    # a dbt that does not name the segments still exports them, and says the lineage lacks them
    unnamed = dbt("compile", "--select", "segment_catalog", lineage=False)
    assert unnamed.returncode == 0 and "Segment 'france_engineers' is not in dbt's lineage" in unnamed.stdout

    # defined, not built yet: not exported, and the export says why
    assert run_export(ws, project=project).refused.keys() == {"france_engineers"}
    built = dbt("build", "--select", "france_engineers+")
    assert built.returncode == 0, built.stdout[-3000:]
    expected = {r[0] for r in query(ws, "select contact_id from enriched.dim_contacts "
                                        "where country_code = 'FR' and department = 'engineering'")}
    members = {r[0] for r in query(ws, "select contact_id from exports.segment_memberships "
                                       "where segment_name = 'france_engineers'")}
    assert expected and members == expected
    assert not run_export(ws, project=project).refused
    exported = ws.export_dir / "france_engineers" / "france_engineers.parquet"
    assert {r["contact_id"] for r in pq.read_table(exported).to_pylist()} <= expected

    # the rule changed and not rebuilt: the list keeps its previous files instead of
    # shipping members chosen by the old rule; rebuilt, it follows the new one
    segment_file.write_text("select contact_id from {{ ref('dim_contacts') }} where country_code = 'FR'\n")
    before = exported.read_bytes()
    result = run_export(ws, project=project)
    assert list(result.refused) == ["france_engineers"] and "changed after" in result.refused["france_engineers"]
    assert exported.read_bytes() == before
    assert "france_engineers" in {s["segment"] for s in json.loads((ws.export_dir / "manifest.json").read_text())
                                  ["segments"]}
    assert dbt("build", "--select", "france_engineers+").returncode == 0
    assert not run_export(ws, project=project).refused
    french = {r[0] for r in query(ws, "select contact_id from exports.campaign_export_contacts "
                                      "where country_code = 'FR' and segment_name = 'region_europe'")}
    assert {r["contact_id"] for r in pq.read_table(exported).to_pylist()} == french

    (project / "models" / "segments" / "no_owner.sql").write_text("select contact_id from {{ ref('dim_contacts') }}\n")
    failed = dbt("build", "--select", "no_owner", "segment_catalog")
    assert failed.returncode != 0 and "needs a description and an owner" in failed.stdout

    # the segment file removed: its members leave, its export folder goes
    (project / "models" / "segments" / "no_owner.sql").unlink()
    segment_file.unlink()
    assert dbt("build", "--select", "segment_catalog+").returncode == 0
    reasons = {r[0] for r in query(ws, "select distinct left_reason from exports.segment_membership_history "
                                       "where segment_name = 'france_engineers'")}
    assert reasons == {"segment removed"}
    run_export(ws, project=project)
    assert not (ws.export_dir / "france_engineers").exists()


# ------------------------------------------------------------- erasure ----

def _traces(settings: Settings, needles: list[str], together: list[str]) -> list[str]:
    """Where any needle, or all of `together` (a name) in one row, occurs (case-insensitive):
    every row of every table and view in the warehouse, of every export file, and every file
    in dlt's working folder."""
    found = []
    lowered = [n.lower() for n in needles]
    both = [n.lower() for n in together]
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        relations = con.execute("select table_schema, table_name from information_schema.tables "
                                "where table_catalog = current_database()").fetchall()
        # a whole row as text: lower(cast(row as varchar)), every column of every type
        text = "lower(cast(row_ as varchar))"
        anywhere = " or ".join([f"contains({text}, ?)" for _ in lowered]
                               + ["(" + " and ".join(f"contains({text}, ?)" for _ in both) + ")"])
        for schema, name in relations:
            hits = con.execute(f'select count(*) from "{schema}"."{name}" as row_ where {anywhere}',
                               lowered + both).fetchone()[0]
            if hits:
                found.append(f"{schema}.{name}: {hits} row(s)")
        for path in settings.export_dir.rglob("*.parquet"):
            hits = con.execute(f"select count(*) from read_parquet('{path}') as row_ where {anywhere}",
                               lowered + both).fetchone()[0]
            if hits:
                found.append(str(path))
    finally:
        con.close()
    for folder in (settings.export_dir, settings.pipelines_dir):
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix != ".parquet":
                for line in path.read_bytes().lower().splitlines():
                    if any(n.encode() in line for n in lowered) or all(n.encode() in line for n in both):
                        found.append(str(path))
                        break
    return found


def test_forget_erases_a_person_from_everywhere_and_keeps_them_out(ws: Settings) -> None:
    persons = pq.read_table(ws.ground_truth_dir / "persons.parquet").to_pylist()
    names = [(p["first_name"].lower(), p["last_name"].lower()) for p in persons]
    exported = {r[0] for r in query(ws, "select lower(email_address) from exports.campaign_export_contacts")}
    # someone exported today, whose name nobody else has (so a row with that name is theirs)
    person = next(p for p, name in zip(persons, names) if p["email"].lower() in exported and names.count(name) == 1
                  and p["first_name"].isalpha() and p["last_name"].isalpha() and p["phone_e164"])
    records = query(ws, f"""
        select distinct email, phone from raw_landing.contacts
        where concat_ws('-', _file_load_id, cast(_source_row_number as varchar)) in (
            select contact_record_id from deduped.contact_identity_map where contact_id in (
                select contact_id from enriched.dim_contacts
                where lower(email_address) = '{person["email"].lower()}'))""")
    needles = [person["email"], person["phone_e164"]] + [v for r in records for v in r if v and len(v) >= 7]
    name = [person["first_name"], person["last_name"]]
    # a reviewer's decision on one of their records names them; another decision is about others
    theirs = query(ws, f"""
        select source_record_key from deduped.contact_identity_map where contact_id in (
            select contact_id from enriched.dim_contacts where lower(email_address) = '{person["email"].lower()}')
        limit 1""")[0][0]
    others = [r[0] for r in query(ws, f"""
        select identity.source_record_key from deduped.contact_identity_map as identity
        inner join cleaned.cleaned_contacts as cleaned on identity.contact_record_id = cleaned.contact_record_id
        where coalesce(cleaned.email_address, '') <> '{person["email"].lower()}'
          and identity.contact_id not in (select contact_id from deduped.contact_identity_map
                                          where source_record_key = '{theirs}')
        order by identity.source_record_key limit 2""")]
    assert record(ws, [Decision(theirs, others[0], "cannot_link", f"{person['first_name']} {person['last_name']} "
                                                                  "is not this one"),
                       Decision(others[0], others[1], "cannot_link")]) == 0
    assert _traces(ws, needles, name)  # the scan finds the person before the erasure

    code = subprocess.run([sys.executable, "-m", "batch", "forget", "--email", person["email"].upper()],
                          cwd=REPO_ROOT, env=ws.dbt_env(), capture_output=True, text=True, check=False)
    assert code.returncode == 0, code.stdout[-3000:] + code.stderr[-3000:]
    # nothing about the person is printed
    assert not any(n.lower() in (code.stdout + code.stderr).lower() for n in needles + [" ".join(name)])
    assert _traces(ws, needles, name) == []
    # the rebuild ran every model and every data test a full build runs, and no seed or unit
    # test (they hold the repository's rows, no client's)
    invocations = query(ws, """
        select count(*) filter (where resource_type = 'model'), count(*) filter (where resource_type = 'test'),
               count(*) filter (where resource_type in ('seed', 'unit_test'))
        from monitoring.dbt_results group by invocation_id order by min(invocation_started_at)""")
    full = max(models for models, _, _ in invocations), max(tests for _, tests, _ in invocations)
    assert invocations[-1] == (*full, 0)
    assert query(ws, "select source_record_key_a, source_record_key_b from review.merge_decisions") == [
        tuple(others)], "the decision about the others is kept"

    # the suppression list keeps a keyed hash, never the address nor its plain sha256 (which
    # anyone could check a guessed address against)
    erasures = (ws.landing_dir / "suppression__erasures.csv").read_text()
    assert email_hmac(person["email"]) in erasures and person["email"].lower() not in erasures.lower()
    assert email_sha256(person["email"]) not in erasures
    # every landing row is still accounted for, and the data tests pass on what is left
    assert run_dbt(ws, ["test", "--select", "source:landing+"]) == 0

    # the CRM exports the person again: the row is not imported, and its quarantine row keeps no text
    (ws.landing_dir / "hubspot__reexport.csv").write_text(
        "Email,First Name,Last Name,Phone\n"
        f"{person['email']},{person['first_name']},{person['last_name']},{person['phone_e164']}\n")
    reports = run_load(ws).reports
    assert [(r.rows_loaded, r.quarantine_reasons) for r in reports] == [(0, {"suppressed": 1})]
    assert run_dbt(ws, ["build"]) == 0
    run_export(ws)
    assert _traces(ws, needles, name) == []
