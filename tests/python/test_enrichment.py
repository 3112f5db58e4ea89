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
from pathlib import Path

import pytest
import requests

from conftest import query
from ingestion.cli import run_dbt
from ingestion.demo.generator import generate
from ingestion.enrichment.emulator import COMPANY, PERSON, Emulator, EmulatorConfig, Faults
from ingestion.enrichment.loader import Budget, Progress, backoff_delay, run_enrichment
from ingestion.enrichment.providers import RunLimits
from ingestion.load import run_load
from ingestion.settings import REPO_ROOT, Settings

KEYS = {PERSON: "sk-person-LEAKCHECK-4417", COMPANY: "sk-company-LEAKCHECK-9902"}
REBUILD = ["build", "--select", "source:enrichment+"]


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
        assert run_dbt(settings, ["build"]) == 0
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


def start(settings: Settings, monkeypatch: pytest.MonkeyPatch, **config) -> Emulator:  # noqa: ANN003
    emulator = Emulator(EmulatorConfig(truth_dir=settings.ground_truth_dir, api_keys=dict(KEYS), **config)).start()
    for provider in (PERSON, COMPANY):
        monkeypatch.setenv(f"SOURCES__ENRICHMENT__PROVIDERS__{provider.upper()}__BASE_URL", emulator.url)
    return emulator


def provider_env(monkeypatch: pytest.MonkeyPatch, provider: str, **values) -> None:  # noqa: ANN003
    for key, value in values.items():
        monkeypatch.setenv(f"SOURCES__ENRICHMENT__PROVIDERS__{provider.upper()}__{key.upper()}", str(value))


def enrich(settings: Settings, **kwargs):  # noqa: ANN003, ANN201
    kwargs.setdefault("limits", RunLimits(flush_seconds=0.5))
    return run_enrichment(settings, progress=Progress(enabled=False), **kwargs)


def requests_now(settings: Settings) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in query(settings, "select request_id, provider, subject_key, requested_fields, "
                                                 "company_domain from enriched.enrichment_requests")}


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
    config = EmulatorConfig(truth_dir=truth, api_keys=dict(KEYS), match_rate={PERSON: 1.0, COMPANY: 1.0},
                            credits={PERSON: 2, COMPANY: None})
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

        lookup = requests.post(emulator.url + "/v1/companies/lookup",
                               json={"lookups": [{"domain": company["domain"], "request_id": "c1"},
                                                 {"domain": "gmail.com", "request_id": "c2"}]},
                               headers={"Authorization": f"Bearer {KEYS[COMPANY]}"}, timeout=5).json()
        found, missing = lookup["results"]
        assert found["found"] is True and found["company"]["metrics"]["employees"] == company["employee_count"]
        assert missing["found"] is False

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
    assert all(backoff_delay(n, 0.5, 30, None, rng) <= min(30, 0.5 * 2 ** (n - 1)) for n in range(1, 10) for _ in range(20))
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
        # the rest is covered: it wanted only company fields, which a colleague's answer supplied
        supplied_domains = {json.loads(r[5])["data"]["job_company_website"] for r in responses(ws)
                            if r[1] == PERSON and r[2] == "matched"}
        covered = person_asked - answered - set(pending)
        assert all(set(asked[rid][2].split()) <= {"company_size", "industry"} and asked[rid][3] in supplied_domains
                   for rid in covered)
        # a pending request keeps its id, so the provider can tell a retry from a new question
        assert {rid for rid in pending if pending[rid][0] == PERSON} <= person_asked

        # second run: retries, concurrency; it finishes the rest
        for provider in (PERSON, COMPANY):
            provider_env(monkeypatch, provider, max_retries=8, concurrency=4, batch_size=50)
        second = enrich(ws)
        assert second.pending == 0
        assert run_dbt(ws, REBUILD) == 0
        assert requests_now(ws) == {}

        rows = responses(ws)
        matched = [r for r in rows if r[2] == "matched"]
        answered_ids = [r[0] for r in rows if r[2] in ("matched", "not_found")]
        assert len(answered_ids) == len(set(answered_ids)), "a request was answered twice"
        for provider in (PERSON, COMPANY):
            ids = {r[0] for r in matched if r[1] == provider}
            # billed once per match: the provider's ledger, our rows and the matches agree
            assert emulator.ledger.charged[provider] == len(ids) == sum(r[3] for r in matched if r[1] == provider)
            assert emulator.ledger.billed_ids[provider] == ids
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
        assert result.providers[0].stopped == "credit budget of the run used up"
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
        assert {f for r in query(ws, "select requested_fields from raw_enrichment.provider_responses "
                                     "where provider = 'company'") for f in r[0].split()} <= {"company_size", "industry"}
        # a domain the company provider did not find is not asked again before the back-off
        assert run_dbt(ws, REBUILD) == 0
        assert requests_now(ws) == {}
    finally:
        emulator.stop()


def test_answers_land_right_and_map_to_canonical_enums(ws: Settings, monkeypatch) -> None:
    emulator = start(ws, monkeypatch, enum_version=2)  # a provider that renamed its enums
    try:
        enrich(ws)
        assert run_dbt(ws, REBUILD) == 0
        import duckdb
        con = duckdb.connect(str(ws.warehouse), read_only=True)
        try:
            truth = ws.ground_truth_dir
            checked = con.execute(f"""
                select
                    count(*),
                    count(*) filter (where lower(a.job_title) = lower(p.job_title)),
                    count(*) filter (where a.seniority = p.seniority),
                    count(*) filter (where a.department = p.department),
                    count(*) filter (where a.company_size_band = c.size_band),
                    count(*) filter (where a.industry = c.industry)
                from staging.stg_enrichment__person_answers as a
                inner join deduped.golden_contacts as g on a.contact_id = g.contact_id
                inner join read_parquet('{truth}/persons.parquet') as p
                    on g.email_address in (lower(p.email), lower(p.personal_email))
                inner join read_parquet('{truth}/companies.parquet') as c on p.company_id = c.company_id
                where a.likelihood = 9
            """).fetchone()
            company = con.execute(f"""
                select count(*), count(*) filter (where a.industry = c.industry and a.company_size_band = c.size_band
                                                  and a.revenue_range = c.revenue_range)
                from staging.stg_enrichment__company_answers as a
                inner join read_parquet('{truth}/companies.parquet') as c on a.company_domain = c.domain
            """).fetchone()
        finally:
            con.close()
        total = checked[0]
        assert total > 500
        assert list(checked[1:]) == [total] * 5
        assert company[0] > 0 and company[0] == company[1]
    finally:
        emulator.stop()


def test_dry_run_sends_nothing(ws: Settings, monkeypatch) -> None:
    emulator = start(ws, monkeypatch)
    try:
        result = enrich(ws, dry_run=True, limits=RunLimits(max_credits=500))
        assert sum(emulator.ledger.calls.values()) == 0
        (person, rank, listed, would_send, calls, credits), *_ = result.plan
        assert (person, rank) == (PERSON, 1) and would_send == listed > 500
        assert calls == -(-listed // 100) and credits == 500
        assert not (ws.pipelines_dir / "contacts_enrichment").exists()
    finally:
        emulator.stop()


def test_api_keys_never_appear_in_logs_or_tables(ws: Settings, monkeypatch, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    faults = Faults(server_error_rate=0.3, malformed_rate=0.1)
    emulator = start(ws, monkeypatch, faults={PERSON: faults, COMPANY: faults})
    try:
        # a rejected key: the provider stops, the message names the setting, not the key
        monkeypatch.setenv("SOURCES__ENRICHMENT__PROVIDERS__PERSON__API_KEY", KEYS[PERSON] + "-revoked")
        rejected = enrich(ws)
        assert "API key rejected" in rejected.providers[0].stopped
        assert "LEAKCHECK" not in repr(rejected)
        monkeypatch.setenv("SOURCES__ENRICHMENT__PROVIDERS__PERSON__API_KEY", KEYS[PERSON])
        provider_env(monkeypatch, PERSON, max_retries=1)
        assert enrich(ws).providers[0].matched > 0
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
    emulator = start(ws, monkeypatch, faults={PERSON: slow, COMPANY: slow})
    try:
        provider_env(monkeypatch, PERSON, batch_size=20, concurrency=1)
        env = {**os.environ, "SOURCES__ENRICHMENT__FLUSH_SECONDS": "0.3"}
        proc = subprocess.Popen([sys.executable, "-m", "ingestion", "enrich", "--no-progress"], cwd=REPO_ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while emulator.ledger.calls[PERSON] < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        billed_before = emulator.ledger.charged[PERSON]
        assert 0 < billed_before

        result = enrich(ws)
        # the killed run's answers were extracted but not loaded: this run loads them first
        assert result.recovered_packages > 0
        assert result.pending == 0
        assert run_dbt(ws, REBUILD) == 0
        assert requests_now(ws) == {}
        rows = responses(ws)
        answered = [r[0] for r in rows if r[2] in ("matched", "not_found")]
        assert len(answered) == len(set(answered))
        matched = {r[0] for r in rows if r[1] == PERSON and r[2] == "matched"}
        assert emulator.ledger.charged[PERSON] == len(matched) == len(emulator.ledger.billed_ids[PERSON])
    finally:
        emulator.stop()


def test_without_a_provider_enrichment_is_skipped_and_the_emulator_only_answers_for_demo_data(
        ws: Settings, capsys) -> None:
    from ingestion.cli import enrich as enrich_command
    # no base_url anywhere: nothing is sent, and the emulator is not started unasked
    assert not any(k.endswith("__BASE_URL") for k in os.environ if k.startswith("SOURCES__ENRICHMENT"))
    result, note = enrich_command(ws)
    assert result is None and "no enrichment provider configured" in note
    assert "Enrichment skipped" in capsys.readouterr().out
    # asked for (demo mode), it is still refused for data the demo generator did not write:
    # real contacts would come back "not found" and be held back from the real provider
    (ws.landing_dir / "client__contacts.csv").write_text("email\nsomeone@client.example\n", encoding="utf-8")
    result, note = enrich_command(ws, demo=True)
    assert result is None and "only answers for demo data" in note
    assert query(ws, "select count(*) from information_schema.tables where table_schema = 'raw_enrichment'") == [(0,)]
