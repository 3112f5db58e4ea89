"""Enrichment against the real provider emulator on loopback: faults, budget, 402, waterfall, keys.

One warehouse is built per module (demo data -> load -> dbt build) and copied into each
test's workspace, so every test starts from the same enrichment_requests.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import pytest
import requests
from conftest import query

from batch.dbt import run_dbt
from batch.enrich import enrich as enrich_command
from ingestion.enrichment.loader import Budget, Progress, backoff_delay, run_enrichment
from ingestion.enrichment.providers import RunLimits
from ingestion.landing.load import run_load
from ingestion.settings import REPO_ROOT, Settings
from tooling.demo.generator import generate
from tooling.emulator import APOLLO, COMPANY, PERSON, Emulator, EmulatorConfig, Faults
from tooling.standin import emulator_endpoints

KEYS = {PERSON: "sk-person-LEAKCHECK-4417", COMPANY: "sk-company-LEAKCHECK-9902", APOLLO: "ap-LEAKCHECK-3310"}
# the unit tests, whose inputs are fixed rows, run in test_dbt_build
REBUILD = ["build", "--select", "source:enrichment+", "--exclude", "test_type:unit"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse built from 1,500 demo contacts, and its ground truth."""
    root = tmp_path_factory.mktemp("enrichment_base")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"CONTACTS_WAREHOUSE": root / "warehouse" / "contacts.duckdb",
                            "LANDING_DIR": root / "landing", "EXPORT_DIR": root / "exports",
                            "GROUND_TRUTH_DIR": root / "truth", "DBT_TARGET_PATH": root / "dbt_target",
                            "DBT_LOG_PATH": root / "dbt_logs"}.items():
            mp.setenv(name, str(value))
        from ingestion.settings import load_settings
        settings = load_settings()
        generate(1500, 11, settings.landing_dir, settings.ground_truth_dir)
        run_load(settings)
        assert run_dbt(settings, ["build", "--exclude", "test_type:unit"]) == 0
    return root


@pytest.fixture
def ws(workspace: Settings, built: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A fresh copy of the built warehouse, and provider settings pointing nowhere yet."""
    workspace.warehouse.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(built / "warehouse" / "contacts.duckdb", workspace.warehouse)
    shutil.copytree(built / "truth", workspace.ground_truth_dir)
    for provider, key in KEYS.items():
        monkeypatch.setenv(f"SOURCES__ENRICHMENT__PROVIDERS__{provider.upper()}__API_KEY", key)
        monkeypatch.setenv(f"SOURCES__ENRICHMENT__PROVIDERS__{provider.upper()}__BACKOFF_SECONDS", "0.01")
        monkeypatch.setenv(f"SOURCES__ENRICHMENT__PROVIDERS__{provider.upper()}__TIMEOUT_SECONDS", "2")
    return workspace


def start(settings: Settings, monkeypatch: pytest.MonkeyPatch, providers: tuple[str, ...] = (PERSON, COMPANY),
          **config) -> Emulator:  # noqa: ANN003
    """The emulator, and the `providers` pointed at it (the others have no base_url: skipped)."""
    emulator = Emulator(EmulatorConfig(truth_dir=settings.ground_truth_dir, api_keys=dict(KEYS), **config)).start()
    for provider in providers:
        monkeypatch.setenv(f"SOURCES__ENRICHMENT__PROVIDERS__{provider.upper()}__BASE_URL", emulator.url)
    return emulator


def provider_env(monkeypatch: pytest.MonkeyPatch, provider: str, **values) -> None:  # noqa: ANN003
    for key, value in values.items():
        monkeypatch.setenv(f"SOURCES__ENRICHMENT__PROVIDERS__{provider.upper()}__{key.upper()}", str(value))


def enrich(settings: Settings, **kwargs):  # noqa: ANN003, ANN201
    kwargs.setdefault("limits", RunLimits(flush_seconds=0.5))
    return run_enrichment(settings, progress=Progress(enabled=False), **kwargs)


def requests_now(settings: Settings, providers: tuple[str, ...] = (PERSON, COMPANY)) -> dict[str, tuple]:
    """The requests enrichment_requests lists for `providers` (by default the ones `start` points at the
    emulator; Apollo's stay listed, unasked, when it has no base_url)."""
    return {r[0]: r[1:] for r in query(settings, "select request_id, provider, subject_key, requested_fields, "
                                                 "company_domain from enriched.enrichment_requests")
            if r[1] in providers}


def responses(settings: Settings) -> list[tuple]:
    return query(settings, "select request_id, provider, outcome, credits_charged, company_domain, payload "
                           "from raw_enrichment.provider_responses")


# ------------------------------------------------------------- emulator ----

def test_emulator_behaves_like_a_provider(tmp_path: Path) -> None:
    truth = tmp_path / "truth"
    generate(300, 5, tmp_path / "landing", truth)
    import pyarrow.parquet as pq
    person = pq.read_table(truth / "persons.parquet").to_pylist()[0]
    company = {c["company_id"]: c for c in pq.read_table(truth / "companies.parquet").to_pylist()}[person["company_id"]]
    config = EmulatorConfig(truth_dir=truth, api_keys=dict(KEYS), match_rate={PERSON: 1.0, COMPANY: 1.0, APOLLO: 1.0},
                            credits={PERSON: 2, APOLLO: 3})
    with Emulator(config) as emulator:
        url = emulator.url + "/v5/person/bulk"
        one = {"requests": [{"params": {"email": person["email"].upper()}, "metadata": {"request_id": "r1"}}]}
        assert requests.post(url, json=one, timeout=5).status_code == 401
        assert requests.post(url, json=one, headers={"X-Api-Key": "wrong"}, timeout=5).status_code == 401
        too_many = {"requests": [{"params": {"email": "x@y.z"}}] * 101}
        assert requests.post(url, json=too_many, headers={"X-Api-Key": KEYS[PERSON]}, timeout=5).status_code == 400

        answer = requests.post(url, json=one, headers={"X-Api-Key": KEYS[PERSON]}, timeout=5).json()
        item = answer[0]
        assert item["status"] == 200 and item["likelihood"] == 9 and item["metadata"] == {"request_id": "r1"}
        assert item["data"]["job_title"] == person["job_title"].lower()
        assert item["data"]["job_company_website"] == company["domain"]
        assert item["data"]["job_company_employee_count"] == company["employee_count"]
        # the same request id again: the same answer, not billed twice
        again = requests.post(url, json=one, headers={"X-Api-Key": KEYS[PERSON]}, timeout=5).json()[0]
        assert again["data"] == item["data"] and again["billed"] is False
        assert emulator.ledger.charged[PERSON] == 1

        by_name = {"requests": [
            {"params": {"first_name": person["first_name"], "last_name": person["last_name"],
                        "company": company["domain"]}, "metadata": {"request_id": "r2"}},
            {"params": {"email": "nobody@nowhere.example"}, "metadata": {"request_id": "r3"}},
            {"params": {"email": person["email"]}, "metadata": {"request_id": "r4"}}]}
        items = requests.post(url, json=by_name, headers={"X-Api-Key": KEYS[PERSON]}, timeout=5).json()
        # a miss is free; the second match uses the last credit, the third gets item status 402
        assert [i["status"] for i in items] == [200, 404, 402]
        assert emulator.ledger.charged[PERSON] == 2
        # no credits left: the whole call is refused
        assert requests.post(url, json=one | {"requests": [{"params": {"email": "a@b.c"}}]},
                             headers={"X-Api-Key": KEYS[PERSON]}, timeout=5).status_code == 402

        # People Data Labs' company bulk: the same envelope, the company's fields at the top level
        lookup = requests.post(emulator.url + "/v5/company/enrich/bulk",
                               json={"requests": [
                                   {"params": {"website": company["domain"]}, "metadata": {"request_id": "c1"}},
                                   {"params": {"website": "gmail.com"}, "metadata": {"request_id": "c2"}}]},
                               headers={"X-Api-Key": KEYS[COMPANY]}, timeout=5).json()
        found, missing = lookup
        assert found["status"] == 200 and found["metadata"] == {"request_id": "c1"}
        assert found["employee_count"] == company["employee_count"] and found["website"] == company["domain"]
        assert missing["status"] == 404

        # Apollo: `details` in, `matches` back in the same order, null for a miss
        bulk_match = emulator.url + "/api/v1/people/bulk_match"
        details = {"details": [{"email": "nobody@nowhere.example"},
                               {"first_name": person["first_name"], "last_name": person["last_name"],
                                "domain": company["domain"]}]}
        refused = requests.post(bulk_match, json=details, headers={"x-api-key": KEYS[PERSON]}, timeout=5)
        assert refused.status_code == 401
        assert requests.post(bulk_match, json={"details": [{"email": "x@y.z"}] * 11},
                             headers={"x-api-key": KEYS[APOLLO]}, timeout=5).status_code == 422
        matched = requests.post(bulk_match, json=details, headers={"x-api-key": KEYS[APOLLO]}, timeout=5).json()
        assert matched["matches"][0] is None and matched["matches"][1]["title"] == person["job_title"]
        assert matched["matches"][1]["organization"]["primary_domain"] == company["domain"]
        assert (matched["credits_consumed"], matched["missing_records"]) == (1, 1)
        # Apollo bills every ask (no idempotency key); a call needing more credits than are left is refused
        again = requests.post(bulk_match, json=details, headers={"x-api-key": KEYS[APOLLO]}, timeout=5)
        assert again.json()["credits_consumed"] == 1 and emulator.ledger.charged[APOLLO] == 2
        assert requests.post(bulk_match, json=details, headers={"x-api-key": KEYS[APOLLO]},
                             timeout=5).status_code == 402

    config = EmulatorConfig(truth_dir=truth, api_keys=dict(KEYS),
                            faults={PERSON: Faults(rate_limit_rate=1.0, retry_after_seconds=7), COMPANY: Faults()})
    with Emulator(config) as emulator:
        limited = requests.post(emulator.url + "/v5/person/bulk", json=one, headers={"X-Api-Key": KEYS[PERSON]},
                                timeout=5)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"


def test_backoff_honours_retry_after_and_grows() -> None:
    import random
    rng = random.Random(1)
    assert all(backoff_delay(1, 0.5, 30, 3.0, rng) >= 3.0 for _ in range(50))
    assert all(backoff_delay(n, 0.5, 30, None, rng) <= min(30, 0.5 * 2 ** (n - 1))
               for n in range(1, 10) for _ in range(20))
    assert max(backoff_delay(6, 0.5, 30, None, rng) for _ in range(200)) > 4  # grows with the attempt


def test_budget_reservations_never_overspend() -> None:
    budget = Budget(max_credits=10)
    assert budget.reserve_credits(8) == 8
    assert budget.reserve_credits(8) == 2          # only what is left
    budget.settle(8, 3)                             # 5 of the first batch came back unused
    assert budget.reserve_credits(100) == 5
    budget.settle(2, 2)
    budget.settle(5, 5)
    assert budget.reserve_credits(1) == 0 and budget.credits_exhausted


def test_rate_limit_reset_headers_are_read_in_every_form() -> None:
    from datetime import datetime, timedelta
    from email.utils import format_datetime

    from ingestion.enrichment.loader import reset_seconds

    soon = datetime.now(UTC) + timedelta(seconds=30)
    for value in ("30", str(int(soon.timestamp())), str(int(soon.timestamp() * 1000)), format_datetime(soon),
                  soon.isoformat(), soon.strftime("%Y-%m-%dT%H:%M:%SZ"), '{"minute": 30, "second": 1}'):
        assert 25 <= reset_seconds(value) <= 31, value
    assert reset_seconds("not a time") is None and reset_seconds("") is None and reset_seconds(None) is None
    assert reset_seconds("0") == 0.0


def test_the_credit_ledger_counts_cut_off_calls_and_condenses_earlier_nights(tmp_path: Path) -> None:
    from ingestion.enrichment.ledger import CreditLedger

    path = tmp_path / "credits.jsonl"
    night = CreditLedger(path, "night-1")
    night.sent("c1", PERSON, 10, ["r1", "r2"], "run-a")
    night.ended("c1", 3, lost=False)
    night.sent("c2", PERSON, 10, ["r3"], "run-a")
    night.ended("c2", 10, lost=True)
    night.sent("c3", PERSON, 7, ["r4", "r5"], "run-a")  # the process dies here
    again = CreditLedger(path, "night-1")
    assert again.spent_before == 3 + 10 + 7
    assert [(c.call_id, c.request_ids, c.run_id) for c in again.open_calls] == [("c3", ["r4", "r5"], "run-a")]
    again.close_open_calls()
    assert CreditLedger(path, "night-1").open_calls == [] and CreditLedger(path, "night-1").spent_before == 20
    # a new night starts at zero; the last one is kept as one total line
    next_night = CreditLedger(path, "night-2")
    assert next_night.spent_before == 0
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [{"period": "night-1", "event": "total", "spent": 20}]
    path.write_text(path.read_text() + '{"period": "night-2", "event": "sent", "call": "x", "res')  # cut mid-line
    assert CreditLedger(path, "night-2").spent_before == 0


# ---------------------------------------------------------------- loader ----

def test_a_faulty_provider_loses_nothing_and_bills_nothing_twice(ws: Settings, monkeypatch) -> None:
    faults = Faults(server_error_rate=0.2, rate_limit_rate=0.1, retry_after_seconds=1, malformed_rate=0.05)
    emulator = start(ws, monkeypatch, faults={PERSON: faults, COMPANY: faults})
    try:
        asked = requests_now(ws)
        assert len(asked) > 1000
        # first run: no retries, one call at a time, so some batches fail for good
        for provider in (PERSON, COMPANY):
            provider_env(monkeypatch, provider, max_retries=0, concurrency=1, batch_size=25, breaker_failures=1000)
        first = enrich(ws)
        rows = responses(ws)
        answered = {r[0] for r in rows if r[2] in ("matched", "not_found")}
        assert first.pending > 0 and answered
        # every request of the run is answered or still pending after the rebuild
        assert run_dbt(ws, REBUILD) == 0
        pending = requests_now(ws)
        person_asked = {rid for rid, (provider, *_) in asked.items() if provider == PERSON}
        assert not answered & set(pending)
        # the rest is covered: it wanted only company fields, which a colleague's answer or a
        # company lookup supplied
        supplied_domains = {json.loads(r[5])["data"]["job_company_website"] for r in responses(ws)
                            if r[1] == PERSON and r[2] == "matched"}
        supplied_domains |= {r[4] for r in responses(ws) if r[1] == COMPANY and r[2] == "matched"}
        covered = person_asked - answered - set(pending)
        assert all(set(asked[rid][2].split()) <= {"company_size", "industry"} and asked[rid][3] in supplied_domains
                   for rid in covered)
        # a pending request keeps its id, so the provider can tell a retry from a new question
        assert {rid for rid in pending if pending[rid][0] == PERSON} <= person_asked

        # second run: retries, also of answers that may have been billed, concurrency; it finishes the rest
        for provider in (PERSON, COMPANY):
            provider_env(monkeypatch, provider, max_retries=8, concurrency=4, batch_size=50,
                         retry_lost_answers="true")
        second = enrich(ws)
        assert second.pending == 0
        assert run_dbt(ws, REBUILD) == 0
        assert requests_now(ws) == {}

        rows = responses(ws)
        matched = [r for r in rows if r[2] == "matched"]
        answered_ids = [r[0] for r in rows if r[2] in ("matched", "not_found")]
        assert len(answered_ids) == len(set(answered_ids)), "a request was answered twice"
        lost = {r[0] for r in query(ws, "select request_id from raw_enrichment.provider_responses "
                                        "where may_be_billed and outcome = 'failed'")}
        for provider in (PERSON, COMPANY):
            ids = {r[0] for r in matched if r[1] == provider}
            # billed once per match (this provider is idempotent): our rows and the matches agree,
            # and every other id the provider billed is one whose answer we lost and know we may
            # have paid for (not asked again once a colleague's answer supplied its fields)
            credited = {r[0] for r in matched if r[1] == provider and r[3] == 1}
            assert ids - credited <= lost  # a repeat after a lost answer: the idempotent provider's free copy
            assert emulator.ledger.charged[provider] == len(emulator.ledger.billed_ids[provider])
            assert ids <= emulator.ledger.billed_ids[provider]
            assert emulator.ledger.billed_ids[provider] - ids <= lost
        assert emulator.ledger.statuses[(PERSON, 429)] > 0 and emulator.ledger.statuses[(PERSON, 500)] \
            + emulator.ledger.statuses[(PERSON, 502)] + emulator.ledger.statuses[(PERSON, 503)] > 0
        assert {r[2] for r in rows} >= {"matched", "not_found", "failed"}
    finally:
        emulator.stop()


def test_the_budget_is_honoured_exactly(ws: Settings, monkeypatch) -> None:
    emulator = start(ws, monkeypatch)
    try:
        provider_env(monkeypatch, PERSON, batch_size=10, concurrency=3)
        result = enrich(ws, limits=RunLimits(max_credits=37, flush_seconds=0.5))
        assert emulator.ledger.charged[PERSON] + emulator.ledger.charged[COMPANY] == 37
        assert sum(p.credits for p in result.providers) == 37
        assert sum(r[3] for r in responses(ws)) == 37
        assert result.providers[0].stopped == "credit budget of the night used up"
        assert result.pending > 1000

        calls_before = sum(emulator.ledger.calls.values())
        enrich(ws, limits=RunLimits(max_calls=3, flush_seconds=0.5))
        assert sum(emulator.ledger.calls.values()) - calls_before == 3
    finally:
        emulator.stop()


def test_a_402_stops_that_provider_and_the_run_finishes(ws: Settings, monkeypatch) -> None:
    emulator = start(ws, monkeypatch, credits={PERSON: 25, COMPANY: None})
    try:
        provider_env(monkeypatch, PERSON, batch_size=20, concurrency=2)
        result = enrich(ws)
        person, company = result.providers
        assert "credits ran out" in person.stopped
        assert person.credits == emulator.ledger.charged[PERSON] == 25
        assert person.pending > 0
        # the company provider was still asked, for what the person provider could not supply
        assert company.stopped is None and company.matched > 0
        assert run_dbt(ws, REBUILD) == 0
        still = requests_now(ws)
        assert sum(1 for provider, *_ in still.values() if provider == PERSON) > 0
    finally:
        emulator.stop()


def test_the_waterfall_asks_the_second_provider_only_for_what_the_first_missed(ws: Settings, monkeypatch) -> None:
    emulator = start(ws, monkeypatch)
    try:
        result = enrich(ws)
        person, company = result.providers
        rows = responses(ws)
        supplied_domains = {json.loads(r[5])["data"]["job_company_website"]
                            for r in rows if r[1] == PERSON and r[2] == "matched"}
        asked_domains = set(emulator.ledger.asked[COMPANY])
        assert company.covered > 0 and asked_domains
        assert not asked_domains & supplied_domains
        assert {r[4] for r in rows if r[1] == COMPANY} == asked_domains
        # and only company fields were asked of it
        asked_fields = {f for r in query(ws, "select requested_fields from raw_enrichment.provider_responses "
                                             "where provider = 'company'") for f in r[0].split()}
        assert asked_fields <= {"company_size", "industry"}
        # a domain the company provider did not find is not asked again before the back-off
        assert run_dbt(ws, REBUILD) == 0
        assert requests_now(ws) == {}
    finally:
        emulator.stop()


def assert_answers_equal_the_truth(settings: Settings, at_least: int) -> None:
    """Every answer that reached the staging models says what the emulator's truth says
    (person answers matched on an e-mail address, company answers on the domain)."""
    import duckdb

    truth = settings.ground_truth_dir
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        checked = con.execute(f"""
            select
                count(*),
                count(*) filter (where lower(a.job_title) = lower(p.job_title)),
                count(*) filter (where a.seniority = p.seniority),
                count(*) filter (where a.department = p.department),
                count(*) filter (where a.company_size_band = c.size_band),
                count(*) filter (where a.industry = c.industry)
            from enriched.enriched_person_answers as a
            inner join deduped.golden_contacts as g on a.contact_id = g.contact_id
            inner join read_parquet('{truth}/persons.parquet') as p
                on g.email_address in (lower(p.email), lower(p.personal_email))
            inner join read_parquet('{truth}/companies.parquet') as c on p.company_id = c.company_id
            where a.likelihood = 9
        """).fetchone()
        company = con.execute(f"""
            select count(*), count(*) filter (where a.industry = c.industry and a.company_size_band = c.size_band
                                              and a.revenue_range = c.revenue_range)
            from enriched.enriched_company_answers as a
            inner join read_parquet('{truth}/companies.parquet') as c on a.company_domain = c.domain
        """).fetchone()
    finally:
        con.close()
    total = checked[0]
    assert total >= at_least
    assert list(checked[1:]) == [total] * 5
    assert company[0] > 0 and company[0] == company[1]


def test_answers_land_right_and_map_to_canonical_enums(ws: Settings, monkeypatch) -> None:
    emulator = start(ws, monkeypatch, enum_version=2)  # a provider that renamed its enums
    try:
        enrich(ws)
        assert run_dbt(ws, REBUILD) == 0
        assert_answers_equal_the_truth(ws, at_least=500)
        # a first-party title that names no level leaves seniority unknown, and the provider's lands
        assert query(ws, "select count(*) from enriched.dim_contacts where seniority_source = 'person' "
                         "and job_title_source <> 'person'")[0][0] > 0
        # a person answer's employer facts reach colleagues who were not asked or not found
        assert query(ws, """
            select count(*) from enriched.dim_contacts as d
            where d.company_size_band_source = 'person' and d.contact_id not in (
                select contact_id from raw_enrichment.provider_responses
                where provider = 'person' and outcome = 'matched' and contact_id is not null)""")[0][0] > 0
    finally:
        emulator.stop()


def test_the_waterfall_crosses_vendors_and_apollo_answers_land_right(ws: Settings, monkeypatch) -> None:
    """People Data Labs (person, then company) and then Apollo: Apollo is asked only about
    contacts still missing a person field, in calls of at most 10, under a per-minute window
    whose headers announce no reset; its positional matches land on the right contacts with
    its enums mapped (a `matches` cut short is a lost answer, a non-object match unread:
    neither is lined up by guesswork, both stay pending), and win a field only where People
    Data Labs had nothing."""
    window = Faults(rate_limit_per_window=4, rate_limit_window_seconds=1.0, partial_rate=0.15, junk_item_rate=0.15,
                    each_at_least_once=True)
    emulator = start(ws, monkeypatch, providers=(PERSON, COMPANY, APOLLO), faults={APOLLO: window})
    provider_env(monkeypatch, APOLLO, rate_limit_window_seconds=1, concurrency=2)
    try:
        result = enrich(ws)
        person, company, apollo = result.providers
        assert apollo.stopped is None and apollo.matched > 0 and apollo.covered > 0
        assert person.pending == company.pending == 0
        assert emulator.ledger.faults[(APOLLO, "partial")] and emulator.ledger.faults[(APOLLO, "junk_item")]
        assert apollo.failed > 0 and apollo.pending == apollo.failed + apollo.unanswered
        assert emulator.ledger.items[APOLLO] <= 10 * emulator.ledger.calls[APOLLO]
        # the window was waited for when the headers said no call was left, not hammered
        assert emulator.ledger.statuses[(APOLLO, 429)] <= emulator.ledger.calls[APOLLO] // 4 + 2
        rows = query(ws, "select provider, api, contact_id, requested_fields from raw_enrichment.provider_responses")
        assert {(r[0], r[1]) for r in rows} == {(PERSON, "pdl_person_bulk"), (COMPANY, "pdl_company_bulk"),
                                                (APOLLO, "apollo_people_bulk_match")}
        matched_by_pdl = {c for c, in query(ws, "select contact_id from raw_enrichment.provider_responses "
                                                "where provider = 'person' and outcome = 'matched'")}
        apollo_rows = [r for r in rows if r[0] == APOLLO]
        # nobody People Data Labs matched is asked for a person field it supplied
        assert all(not ({"job_title", "seniority"} & set(r[3].split())) for r in apollo_rows
                   if r[2] in matched_by_pdl)
        assert run_dbt(ws, REBUILD) == 0
        truth = ws.ground_truth_dir
        total, right = query(ws, f"""
            select count(*), count(*) filter (where lower(a.job_title) = lower(p.job_title)
                and a.seniority = p.seniority and a.department is not distinct from p.department
                and a.company_size_band = c.size_band and a.industry = c.industry
                and a.company_domain = c.domain)
            from enriched.enriched_person_answers as a
            inner join deduped.golden_contacts as g on a.contact_id = g.contact_id
            inner join read_parquet('{truth}/persons.parquet') as p
                on g.email_address in (lower(p.email), lower(p.personal_email))
            inner join read_parquet('{truth}/companies.parquet') as c on p.company_id = c.company_id
            where a.provider = 'apollo'""")[0]
        assert total > 0 and right == total
        assert query(ws, "select count(*) from enriched.enriched_person_answers where provider = 'apollo' "
                         "and (seniority is null or industry is null)")[0][0] == 0
        # Apollo supplies what People Data Labs could not, and only that
        assert query(ws, "select count(*) from enriched.dim_contacts where job_title_source = 'apollo'")[0][0] > 0
        assert query(ws, """select count(*) from enriched.dim_contacts where job_title_source = 'apollo'
                            and contact_id in (select contact_id from enriched.enriched_person_answers
                                               where provider = 'person' and job_title is not null)""")[0][0] == 0
    finally:
        emulator.stop()


def test_a_lost_answer_is_asked_again_the_next_night_not_the_same_one(ws: Settings, monkeypatch) -> None:
    """A vendor that bills and then resets the connection, with People Data Labs' billing
    (every ask billed): by default each request is sent once a night, and the match that
    the next night brings is counted as possibly billed twice; with retry_lost_answers the
    same night asks again, up to max_retries."""
    emulator = start(ws, monkeypatch, providers=(PERSON,), idempotent=False, faults={PERSON: Faults(reset_rate=1.0)})
    provider_env(monkeypatch, PERSON, batch_size=10, max_retries=2, concurrency=1, breaker_failures=2)
    try:
        night = enrich(ws, only=[PERSON], limit=30)
        (stats,) = night.providers
        # each call sent once; two lost in a row open the circuit: the third batch waits too
        assert stats.failed == 20 and stats.not_sent == 10 and "circuit open" in stats.stopped
        assert night.pending == 30 and night.credits_at_risk == 20
        assert len(emulator.ledger.asked[PERSON]) == 20 and set(emulator.ledger.asked[PERSON].values()) == {1}
        billed_first = emulator.ledger.charged[PERSON]
        assert 0 < billed_first <= night.period_credits

        emulator.config.faults[PERSON] = Faults()
        provider_env(monkeypatch, PERSON, breaker_failures=10)
        assert run_dbt(ws, REBUILD) == 0
        asked = set(emulator.ledger.asked[PERSON])
        lost = {r for r, in query(ws, "select request_id from enriched.enrichment_requests where lost_answers > 0")}
        assert asked <= lost
        second = enrich(ws, only=[PERSON], limit=30)
        again = [r for r in emulator.ledger.asked[PERSON] if r in asked]
        assert again and second.possible_double_charges == query(ws, f"""
            select count(*) from raw_enrichment.provider_responses where outcome = 'matched'
            and run_id = '{second.run_id}' and request_id in ({", ".join(f"'{r}'" for r in lost)})""")[0][0] > 0
        # what the vendor billed for those requests twice is what the summary said it may have
        assert emulator.ledger.charged[PERSON] - billed_first >= second.possible_double_charges

        emulator.config.faults[PERSON] = Faults(reset_rate=1.0)
        provider_env(monkeypatch, PERSON, retry_lost_answers="true")
        before = dict(emulator.ledger.asked[PERSON])
        third = enrich(ws, only=[PERSON], limit=10)
        assert third.pending == 10
        assert {n - before.get(r, 0) for r, n in emulator.ledger.asked[PERSON].items() if n > before.get(r, 0)} == {3}
    finally:
        emulator.stop()


def test_dry_run_sends_nothing(ws: Settings, monkeypatch) -> None:
    emulator = start(ws, monkeypatch)
    try:
        result = enrich(ws, dry_run=True, limits=RunLimits(max_credits=500))
        assert sum(emulator.ledger.calls.values()) == 0
        (person, rank, listed, would_send, calls, credits), *_ = result.plan
        assert (person, rank) == (PERSON, 1) and would_send == listed > 500
        assert calls == -(-listed // 50) and credits == 500  # batch_size 50 (.dlt/config.toml)
        assert not (ws.pipelines_dir / "contacts_enrichment").exists()
    finally:
        emulator.stop()


def test_api_keys_never_appear_in_logs_or_tables(ws: Settings, monkeypatch, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    faults = Faults(server_error_rate=0.3, malformed_rate=0.1)
    emulator = start(ws, monkeypatch, providers=(PERSON, COMPANY, APOLLO),
                     faults={PERSON: faults, COMPANY: faults, APOLLO: faults})
    try:
        # a rejected key: the provider stops, the message names the setting, not the key
        for provider in (PERSON, APOLLO):
            monkeypatch.setenv(f"SOURCES__ENRICHMENT__PROVIDERS__{provider.upper()}__API_KEY",
                               KEYS[provider] + "-revoked")
        rejected = enrich(ws)
        assert "API key rejected" in rejected.providers[0].stopped
        assert "API key rejected" in rejected.providers[2].stopped
        assert "LEAKCHECK" not in repr(rejected)
        for provider in (PERSON, APOLLO):
            monkeypatch.setenv(f"SOURCES__ENRICHMENT__PROVIDERS__{provider.upper()}__API_KEY", KEYS[provider])
            provider_env(monkeypatch, provider, max_retries=1)
        answered = enrich(ws)
        assert answered.providers[0].matched > 0 and answered.providers[2].matched > 0
    finally:
        emulator.stop()
    out = capsys.readouterr()
    text = caplog.text + out.out + out.err
    import duckdb
    con = duckdb.connect(str(ws.warehouse), read_only=True)
    try:
        columns = con.execute("select table_schema, table_name, column_name from information_schema.columns "
                              "where data_type = 'VARCHAR'").fetchall()
        for schema, table, column in columns:
            text += "\n".join(str(v[0]) for v in con.execute(
                f'select distinct "{column}" from "{schema}"."{table}"').fetchall())
    finally:
        con.close()
    for path in ws.pipelines_dir.rglob("*"):
        if path.is_file():
            text += path.read_bytes().decode("utf-8", "replace")
    assert "LEAKCHECK" not in text


def test_a_killed_run_is_finished_by_the_next_without_double_billing(ws: Settings, monkeypatch) -> None:
    slow = Faults(latency_ms=150)
    emulator = start(ws, monkeypatch, providers=(PERSON, COMPANY, APOLLO), faults={PERSON: slow, COMPANY: slow})
    try:
        provider_env(monkeypatch, PERSON, batch_size=20, concurrency=1)
        env = {**os.environ, "SOURCES__ENRICHMENT__FLUSH_SECONDS": "0.3"}
        proc = subprocess.Popen([sys.executable, "-m", "batch", "enrich", "--no-progress"], cwd=REPO_ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while emulator.ledger.calls[PERSON] < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        billed_before = emulator.ledger.charged[PERSON]
        assert billed_before > 0

        result = enrich(ws)
        # the killed run's answers were extracted but not loaded: this run loads them first
        assert result.recovered_packages > 0
        assert result.pending == 0
        assert run_dbt(ws, REBUILD) == 0
        assert requests_now(ws, (PERSON, COMPANY, APOLLO)) == {}
        rows = responses(ws)
        answered = [r[0] for r in rows if r[2] in ("matched", "not_found")]
        assert len(answered) == len(set(answered))
        matched = {r[0] for r in rows if r[1] == PERSON and r[2] == "matched"}
        assert emulator.ledger.charged[PERSON] == len(matched) == len(emulator.ledger.billed_ids[PERSON])
        # Apollo, asked after People Data Labs, billed once per match (it bills every ask)
        apollo = [r for r in rows if r[1] == APOLLO and r[2] == "matched"]
        assert apollo and emulator.ledger.charged[APOLLO] == len(apollo)
    finally:
        emulator.stop()


def test_without_a_provider_enrichment_is_skipped_and_the_emulator_only_answers_for_demo_data(
        ws: Settings, capsys) -> None:
    # no base_url anywhere: nothing is sent, and the emulator is not started unasked
    assert not any(k.endswith("__BASE_URL") for k in os.environ if k.startswith("SOURCES__ENRICHMENT"))
    result, where = enrich_command(ws)
    assert result is None and "no enrichment provider configured" in where.skipped and not where.refused
    assert "Enrichment skipped" in capsys.readouterr().out
    # asked for (demo mode), it is still refused for data the demo generator did not write:
    # real contacts would come back "not found" and be held back from the real provider
    (ws.landing_dir / "client__contacts.csv").write_text("email\nsomeone@client.example\n", encoding="utf-8")
    result, where = enrich_command(ws, endpoints=emulator_endpoints)
    assert result is None and "only answers for demo data" in where.skipped and where.refused
    assert query(ws, "select count(*) from information_schema.tables where table_schema = 'raw_enrichment'") == [(0,)]


# ------------------------------------------------------- a hostile vendor ----

def run_bounded(fn, seconds: float = 240):  # noqa: ANN001, ANN201
    """Run fn in a thread; fail (instead of hanging the suite) if it does not return in time."""
    import threading

    box: dict = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the enrichment did not end within {seconds}s"
    if "error" in box:
        raise box["error"]
    return box["result"]


def still_wanted(settings: Settings) -> dict[tuple[str, str], set[str]]:
    """(provider, subject) -> the fields its pending request wants, after a rebuild."""
    return {(provider, subject): set(fields.split())
            for _, (provider, subject, fields, _) in requests_now(settings).items()}


def known_fields(settings: Settings) -> dict[str, set[str]]:
    """contact -> the target fields dim_contacts holds for it."""
    rows_ = query(settings, "select contact_id, job_title is not null, seniority is not null, "
                            "company_size_band is not null, industry is not null from enriched.dim_contacts")
    names = ("job_title", "seniority", "company_size", "industry")
    return {r[0]: {n for n, known in zip(names, r[1:]) if known} for r in rows_}


def lost_requests(settings: Settings, asked: dict[str, tuple], answered: set[str]) -> list[str]:
    """Requests that were asked, got no answer, are no longer pending, and whose fields are
    still unknown (for the contact; for a company lookup, for some contact at the domain):
    what the enrichment lost."""
    pending = still_wanted(settings)
    known = known_fields(settings)
    at_domain: dict[str, list[str]] = {}
    for contact_id, domain in query(settings, "select contact_id, company_domain from enriched.dim_contacts "
                                              "where company_domain is not null"):
        at_domain.setdefault(domain, []).append(contact_id)
    lost = []
    for rid, (provider, subject, fields, _domain) in asked.items():
        if rid in answered or (provider, subject) in pending:
            continue
        contacts = [subject] if provider == PERSON else at_domain.get(subject, [])
        if any(set(fields.split()) - known.get(c, set()) for c in contacts):
            lost.append(rid)
    return lost


HOSTILE = Faults(server_error_rate=0.08, gateway_rate=0.05, reset_rate=0.05, malformed_rate=0.05,
                 junk_item_rate=0.1, trickle_rate=0.06, trickle_seconds=1.0, hang_rate=0.03,
                 rate_limit_per_window=6, rate_limit_window_seconds=1.0, each_at_least_once=True)


def test_three_nights_against_a_hostile_vendor_lose_nothing_and_never_bill_past_the_ceiling(ws: Settings,
                                                                                              monkeypatch) -> None:
    """People Data Labs' billing (every match billed every time, no idempotency key) and the
    faults real APIs and proxies produce: 5xx, gateway pages, resets mid-body, cut bodies,
    non-object items, trickling and hanging answers, a fixed rate-limit window announced
    in x-ratelimit-* headers only, and a credits-exhausted episode on night 2."""
    emulator = start(ws, monkeypatch, idempotent=False, faults={PERSON: HOSTILE, COMPANY: HOSTILE})
    try:
        for provider in (PERSON, COMPANY):
            provider_env(monkeypatch, provider, batch_size=20, concurrency=4, timeout_seconds=2, max_retries=3,
                         breaker_failures=1000)
        ceiling = 300
        for night in (1, 2, 3):
            asked = requests_now(ws)
            billed_before = dict(emulator.ledger.charged)
            if night == 2:  # the vendor's own credits run out mid-night, then come back
                emulator.credits_left[PERSON] = 40
            result = run_bounded(lambda night=night: enrich(ws, budget_period=f"night-{night}",
                                                limits=RunLimits(max_credits=ceiling, flush_seconds=0.5,
                                                                 max_seconds=120)))
            emulator.credits_left[PERSON] = None
            assert not [p.stopped for p in result.providers if "deadline" in (p.stopped or "")]  # none ran over
            billed = sum(emulator.ledger.charged[p] - billed_before.get(p, 0) for p in (PERSON, COMPANY))
            # the ceiling holds by the vendor's own count, and our ledger never counts less
            assert billed <= ceiling, (night, billed)
            assert billed <= result.period_credits <= ceiling
            assert run_dbt(ws, REBUILD) == 0
            answered = {r[0] for r in responses(ws) if r[2] in ("matched", "not_found")}
            lost = lost_requests(ws, asked, answered)
            print(f"night {night}: asked {len(asked)}, answered {len(asked.keys() & answered)}, pending "
                  f"{len(requests_now(ws))}, lost {len(lost)}, vendor billed {billed}, ledger {result.period_credits}, "
                  f"ceiling {ceiling}, calls {sum(p.calls for p in result.providers)}")
            assert lost == [], night
        # every fault happened
        assert {fault for (_provider, fault) in emulator.ledger.faults} == {
            "server_error", "gateway", "reset", "malformed", "junk_item", "trickle", "hang", "rate_limit_window"}
        # what landed equals what the vendor said, whatever the faults around it
        assert_answers_equal_the_truth(ws, at_least=100)
    finally:
        emulator.stop()


def test_a_non_object_item_in_every_answer_ends_nothing(ws: Settings, monkeypatch) -> None:
    """[{...}, "internal error"]: the run ends, the reservation of every batch is settled,
    and the requests behind the junk stay pending."""
    emulator = start(ws, monkeypatch, faults={PERSON: Faults(junk_item_rate=1.0), COMPANY: Faults(junk_item_rate=1.0)})
    try:
        provider_env(monkeypatch, PERSON, batch_size=10, concurrency=4, max_retries=1)
        asked = requests_now(ws)
        result = run_bounded(lambda: enrich(ws, limits=RunLimits(max_credits=120, flush_seconds=0.5)))
        person = result.providers[0]
        assert person.matched > 0 and person.stopped == "credit budget of the night used up"
        assert emulator.ledger.faults[(PERSON, "junk_item")] == person.calls
        assert sum(emulator.ledger.charged.values()) <= 120
        assert run_dbt(ws, REBUILD) == 0
        answered = {r[0] for r in responses(ws) if r[2] in ("matched", "not_found")}
        assert lost_requests(ws, asked, answered) == []
    finally:
        emulator.stop()


def test_a_trickling_or_hanging_vendor_is_cut_at_the_call_deadline(ws: Settings, monkeypatch) -> None:
    """Headers, then a byte every second; or nothing at all: each call ends at
    timeout_seconds of wall clock, counted as possibly billed, its requests pending."""
    emulator = start(ws, monkeypatch, faults={PERSON: Faults(trickle_rate=0.5, trickle_seconds=1.0, hang_rate=1.0),
                                              COMPANY: Faults(trickle_rate=1.0, trickle_seconds=1.0)})
    try:
        for provider in (PERSON, COMPANY):
            provider_env(monkeypatch, provider, batch_size=25, concurrency=4, timeout_seconds=1.5, max_retries=0)
        result = run_bounded(lambda: enrich(ws, limit=100))
        assert all(p.matched == p.not_found == 0 and p.failed > 0 for p in result.providers)
        rows_ = query(ws, "select distinct error_message, may_be_billed from raw_enrichment.provider_responses")
        assert rows_ == [("no answer within timeout_seconds", True)]
        assert result.credits_at_risk == sum(p.failed for p in result.providers)
    finally:
        emulator.stop()


def test_the_night_budget_holds_across_a_crash_and_a_second_attempt(ws: Settings, monkeypatch) -> None:
    """A killed enrichment, then the night's second attempt: one ceiling for both, by the
    vendor's count; the calls the kill cut off are on record as possibly billed."""
    emulator = start(ws, monkeypatch, idempotent=False,
                     faults={PERSON: Faults(latency_ms=150), COMPANY: Faults(latency_ms=150)})
    try:
        provider_env(monkeypatch, PERSON, batch_size=20, concurrency=2)
        env = {**os.environ, "SOURCES__ENRICHMENT__FLUSH_SECONDS": "30", "SOURCES__ENRICHMENT__MAX_CREDITS": "200"}
        proc = subprocess.Popen([sys.executable, "-m", "batch", "enrich", "--no-progress"], cwd=REPO_ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while emulator.ledger.calls[PERSON] < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        billed_by_first = sum(emulator.ledger.charged.values())
        assert billed_by_first > 0
        # nothing the killed run asked reached the warehouse (rows are flushed every 30 s)
        assert query(ws, "select count(*) from information_schema.tables "
                         "where table_name = 'provider_responses'")[0][0] == 0 or not responses(ws)

        second = enrich(ws, limits=RunLimits(max_credits=200, flush_seconds=0.5))  # the same UTC day: one night
        assert second.credits_before >= billed_by_first
        assert sum(emulator.ledger.charged.values()) <= 200 <= second.period_credits + 20
        cut_off = query(ws, "select count(*) from raw_enrichment.provider_responses where error_message = "
                            "'the run that sent it ended before the answer was recorded' and may_be_billed")[0][0]
        assert cut_off > 0
    finally:
        emulator.stop()


def test_a_vendor_that_announces_its_window_in_headers_is_waited_for(ws: Settings, monkeypatch) -> None:
    """x-ratelimit-remaining / x-ratelimit-reset (epoch seconds) and no Retry-After, as
    People Data Labs does: the 429s are waited out, not counted as failures."""
    window = Faults(rate_limit_per_window=3, rate_limit_window_seconds=1.0)
    emulator = start(ws, monkeypatch, faults={PERSON: window, COMPANY: window})
    try:
        for provider in (PERSON, COMPANY):
            provider_env(monkeypatch, provider, batch_size=10, concurrency=4, max_retries=0, breaker_failures=2)
        result = run_bounded(lambda: enrich(ws, limit=60))
        assert all(p.failed == 0 and p.stopped is None and p.matched + p.not_found == p.to_send
                   for p in result.providers), result.providers
        assert emulator.ledger.statuses[(PERSON, 429)] + emulator.ledger.statuses[(COMPANY, 429)] > 0
    finally:
        emulator.stop()


def test_the_step_deadline_ends_a_run_whose_provider_never_answers(ws: Settings, monkeypatch) -> None:
    """A call timeout of five minutes, a step deadline of three seconds: the step ends at
    its deadline, the providers say why, and the requests stay pending."""
    hang = Faults(hang_rate=1.0)
    emulator = start(ws, monkeypatch, faults={PERSON: hang, COMPANY: hang})
    try:
        for provider in (PERSON, COMPANY):
            provider_env(monkeypatch, provider, timeout_seconds=300, batch_size=25, concurrency=2)
        asked = requests_now(ws)
        result = run_bounded(lambda: enrich(ws, limit=100, limits=RunLimits(max_seconds=3, flush_seconds=0.5)),
                             seconds=60)
        person, company = result.providers
        assert "deadline" in person.stopped and "deadline" in company.stopped
        assert person.failed > 0 and person.matched == 0
        assert run_dbt(ws, REBUILD) == 0
        assert lost_requests(ws, asked, set()) == []
    finally:
        emulator.stop()


def test_person_requests_ask_for_the_projects_min_likelihood(monkeypatch) -> None:
    """The provider neither answers nor bills a match the models would ignore."""
    import yaml

    from ingestion.enrichment.providers import ProviderConfig
    from ingestion.enrichment.providers import Request as ProviderRequest

    wanted = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]["enrichment_min_likelihood"]
    config = ProviderConfig.from_config(PERSON, PERSON, 1, "pdl_person_bulk")
    request = ProviderRequest("r1", PERSON, PERSON, 1, "c1", "c1", "acme.com", "ann@acme.com", "Ann", "Lee", "acme.com",
                              frozenset({"job_title"}))
    body = json.loads(config.api.body([request], config.min_likelihood))
    assert body["requests"][0]["params"]["min_likelihood"] == wanted > 0
    monkeypatch.setenv("SOURCES__ENRICHMENT__PROVIDERS__PERSON__SEND_MIN_LIKELIHOOD", "false")
    config = ProviderConfig.from_config(PERSON, PERSON, 1, "pdl_person_bulk")
    body = json.loads(config.api.body([request], config.min_likelihood))
    assert "min_likelihood" not in body["requests"][0]["params"]


def test_apollo_matches_are_read_by_position_and_a_misaligned_answer_is_lost() -> None:
    """Apollo's answer names no request: `matches[i]` answers `details[i]`, null is a miss,
    anything else is unread (asked again); a `matches` of another length cannot be lined up
    and is a lost answer, never a guess. An API the loader does not speak, or of another
    kind, is refused by name."""
    from ingestion.enrichment.providers import API_SHAPES, ProviderConfig, UnknownApi
    from ingestion.enrichment.providers import Request as ProviderRequest

    api = API_SHAPES["apollo_people_bulk_match"]
    batch = [ProviderRequest(f"r{i}", APOLLO, PERSON, 3, f"c{i}", f"c{i}", domain, email, "Ann", "Lee", company,
                             frozenset({"job_title"}))
             for i, (domain, email, company) in enumerate([("acme.com", "ann@acme.com", "acme.com"),
                                                           (None, None, "Acme Ltd"), (None, None, "Initech")])]
    body = json.loads(api.body(batch))
    assert body["details"][0] == {"email": "ann@acme.com", "first_name": "Ann", "last_name": "Lee",
                                  "domain": "acme.com"}
    assert body["details"][1]["organization_name"] == "Acme Ltd" and "domain" not in body["details"][1]
    assert body["reveal_personal_emails"] is False and body["reveal_phone_number"] is False  # no 8-credit phones
    answers = api.answers({"matches": [{"title": "CFO", "organization": {"primary_domain": "acme.com"}}, None, "x"]},
                          batch)
    assert answers["r0"].status == 200 and answers["r0"].billed and answers["r0"].payload["title"] == "CFO"
    assert answers["r1"].status == 404 and not answers["r1"].billed
    assert "r2" not in answers
    assert api.supplied(answers["r0"]) == ({"job_title"}, "acme.com")
    for misaligned in ({"matches": [None, None]}, {"matches": None}, [None, None, None]):
        with pytest.raises(ValueError):
            api.answers(misaligned, batch)
    with pytest.raises(UnknownApi, match="not one the loader speaks"):
        ProviderConfig.from_config("x", PERSON, 9, "clearbit_v2")
    with pytest.raises(UnknownApi, match="answers company requests"):
        ProviderConfig.from_config("x", PERSON, 9, "pdl_company_bulk")
