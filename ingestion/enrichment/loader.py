"""The enrichment loader: ask the providers what `enriched.enrichment_requests` lists.

Providers are asked in waterfall order (`waterfall_rank` of the `enrichment_providers`
seed). Before a provider is asked, the fields an earlier provider supplied in this run
are dropped from each request (company fields count for the whole domain); a request
left with nothing to ask is skipped as covered.

Per provider: batches of `batch_size`, `concurrency` calls in flight, retries with
exponential back-off and full jitter that wait at least `Retry-After`, a timeout per
call, and a circuit breaker that stops the provider after `breaker_failures`
consecutive failed calls. A 401 or a 402 stops that provider cleanly; the others go on.

The budget (`max_credits`, `max_calls`) is never exceeded: a batch is sent only with
one credit reserved per request in it (every request might match), and the credits of
a call whose answer was lost (timeout, truncated body) stay spent, since the provider
may have billed them.

Every request sent gets a row in `raw_enrichment.provider_responses` (append-only, via
dlt, as Arrow): matched, not_found, failed or unanswered. Rows are extracted to dlt's
load package every `flush_seconds`, so a killed run loses at most that window; the
next run loads what a killed run extracted before it asks anything. Requests without
an answer stay in enrichment_requests with the same request id and are asked again by
the next run; answered ones drop out, so nobody is asked (or billed) twice.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import secrets
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import dlt
import pyarrow as pa
import requests

from ingestion.enrichment.providers import FIELDS, ItemAnswer, ProviderConfig, Request, RunLimits
from ingestion.faults import checkpoint
from ingestion.settings import Settings, table_exists

log = logging.getLogger(__name__)

PIPELINE_NAME = "contacts_enrichment"
DATASET_NAME = "raw_enrichment"
RESPONSES_TABLE = "provider_responses"
UTC_TS = pa.timestamp("us", tz="UTC")
RESPONSES_SCHEMA = pa.schema([
    pa.field("request_id", pa.string(), nullable=False),
    pa.field("provider", pa.string(), nullable=False),
    pa.field("provider_kind", pa.string(), nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("batch_id", pa.string()),
    pa.field("contact_id", pa.string()),
    pa.field("company_domain", pa.string()),
    pa.field("requested_fields", pa.string()),
    pa.field("attempts", pa.int32()),
    pa.field("requested_at", UTC_TS),
    pa.field("answered_at", UTC_TS),
    pa.field("http_status", pa.int32()),
    pa.field("item_status", pa.int32()),
    pa.field("outcome", pa.string(), nullable=False),
    pa.field("likelihood", pa.int32()),
    pa.field("credits_charged", pa.int32()),
    pa.field("payload", pa.string()),
    pa.field("error_message", pa.string()),
    pa.field("may_be_billed", pa.bool_()),
    pa.field("_loaded_at", UTC_TS, nullable=False),
])
REQUEST_COLUMNS = ["request_id", "provider", "provider_kind", "waterfall_rank", "subject_key", "contact_id",
                   "company_domain", "lookup_email", "lookup_first_name", "lookup_last_name", "lookup_company",
                   "wants_job_title", "wants_seniority", "wants_company_size", "wants_industry", "lost_answers"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class RequestsNotBuilt(RuntimeError):
    pass


# ---------------------------------------------------------------- reading ----

def read_requests(settings: Settings, only: list[str] | None = None, limit: int | None = None
                  ) -> tuple[list[Request], dict[str, tuple[str, int]]]:
    """The requests, in waterfall order (at most `limit` per provider), and every provider's (kind, rank)."""
    import duckdb

    if not settings.warehouse.exists():
        raise RequestsNotBuilt(f"no warehouse at {settings.warehouse}: run the load and `dbt build` first")
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        # answered since enrichment_requests was built (a run without a dbt build in between,
        # or answers a killed run left): never asked, nor billed, again
        where, params = ["1 = 1"], []
        if table_exists(con, DATASET_NAME, RESPONSES_TABLE):
            where.append(f"request_id not in (select request_id from {DATASET_NAME}.{RESPONSES_TABLE} "
                         "where outcome in ('matched', 'not_found'))")
        if only:
            where.append(f"provider in ({', '.join('?' for _ in only)})")
            params += list(only)
        qualify = f"qualify row_number() over (partition by provider order by request_id) <= {int(limit)}" \
            if limit is not None else ""
        try:
            rows = con.execute(f"select {', '.join(REQUEST_COLUMNS)} from enriched.enrichment_requests "
                               f"where {' and '.join(where)} {qualify} "
                               "order by waterfall_rank, provider, request_id", params).fetchall()
            providers = con.execute("select provider, provider_kind, waterfall_rank "
                                    "from reference.enrichment_providers order by waterfall_rank").fetchall()
        except duckdb.CatalogException as exc:
            raise RequestsNotBuilt("enriched.enrichment_requests does not exist yet: run `dbt build` "
                                   "(python -m ingestion build) before enriching") from exc
    finally:
        con.close()
    out = []
    for row in rows:
        rec = dict(zip(REQUEST_COLUMNS, row))
        wants = frozenset(f for f in FIELDS if rec.pop(f"wants_{f}"))
        out.append(Request(**rec, wants=wants))
    return out, {name: (kind, rank) for name, kind, rank in providers}


# ----------------------------------------------------------------- budget ----

class Budget:
    """Credits and calls for the whole run, reserved before they can be spent."""

    def __init__(self, max_credits: int = 0, max_calls: int = 0) -> None:
        self.max_credits = max_credits or math.inf
        self.max_calls = max_calls or math.inf
        self.reserved = 0
        self.spent = 0          # billed, plus what lost answers may have billed
        self.calls = 0
        self._cond = threading.Condition()

    def reserve_credits(self, wanted: int) -> int:
        """Up to `wanted` credits, waiting while in-flight reservations may come back; 0: none left."""
        with self._cond:
            while True:
                free = self.max_credits - self.spent - self.reserved
                if free >= 1:
                    granted = int(min(wanted, free))
                    self.reserved += granted
                    return granted
                if self.reserved == 0:
                    return 0
                self._cond.wait(timeout=1.0)

    def settle(self, reserved: int, spent: int) -> None:
        with self._cond:
            self.reserved -= reserved
            self.spent += spent
            self._cond.notify_all()

    def take_call(self) -> bool:
        with self._cond:
            if self.calls >= self.max_calls:
                return False
            self.calls += 1
            return True

    @property
    def credits_exhausted(self) -> bool:
        return self.spent >= self.max_credits


# ----------------------------------------------------------------- writer ----

def make_pipeline(settings: Settings) -> dlt.Pipeline:
    os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(pipeline_name=PIPELINE_NAME,
                        destination=dlt.destinations.duckdb(credentials=str(settings.warehouse)),
                        dataset_name=DATASET_NAME, pipelines_dir=str(settings.pipelines_dir))


def recover_pending(pipeline: dlt.Pipeline) -> int:
    """Load what a killed run extracted; returns the number of packages."""
    if not pipeline.has_pending_data:
        return 0
    pending = len(pipeline.list_extracted_load_packages()) + len(pipeline.list_normalized_load_packages())
    log.warning("loading %d enrichment package(s) left by an interrupted run", pending)
    pipeline.normalize()
    pipeline.load()
    return pending


class ResponseWriter:
    """Buffers response rows from worker threads; the main thread extracts them to dlt."""

    def __init__(self, pipeline: dlt.Pipeline | None, flush_seconds: float) -> None:
        self.pipeline = pipeline
        self.flush_seconds = flush_seconds
        self.rows: list[dict] = []
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()

    def add(self, rows: list[dict]) -> None:
        with self._lock:
            self.rows.extend(rows)

    def maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            rows, self.rows = self.rows, []
        self._last_flush = time.monotonic()
        if not rows or self.pipeline is None:
            return
        loaded_at = _now()
        for row in rows:
            row["_loaded_at"] = loaded_at
        table = pa.Table.from_pylist(rows, schema=RESPONSES_SCHEMA)
        # extracted = on disk in a load package: a kill after this point loses nothing
        self.pipeline.extract(table, table_name=RESPONSES_TABLE, write_disposition="append")
        self.pipeline.normalize()
        checkpoint("enrich")  # fault injection for the recovery tests; see ingestion/faults.py

    def close(self) -> None:
        self.flush()
        if self.pipeline is not None and self.pipeline.has_pending_data:
            self.pipeline.load()


# --------------------------------------------------------------- progress ----

class Progress:
    """One line on the terminal per provider, redrawn in place; silent when not a terminal."""

    def __init__(self, enabled: bool | None = None, stream=sys.stderr) -> None:  # noqa: ANN001
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self._last = 0.0

    def update(self, stats: ProviderStats, force: bool = False) -> None:
        if not self.enabled or (not force and time.monotonic() - self._last < 0.2):
            return
        self._last = time.monotonic()
        done = stats.matched + stats.not_found + stats.failed + stats.unanswered
        total = max(1, stats.to_send)
        filled = int(30 * min(done, total) / total)
        self.stream.write(f"\r  {stats.provider:<10} [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{stats.to_send:,}"
                          f"  matched {stats.matched:,}  not found {stats.not_found:,}  failed {stats.failed:,}"
                          f"  credits {stats.credits:,}  ")
        self.stream.flush()

    def finish(self, stats: ProviderStats) -> None:
        if self.enabled:
            self.update(stats, force=True)
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------- running ----

@dataclass
class ProviderStats:
    provider: str
    requested: int = 0          # rows of enrichment_requests for this provider
    covered: int = 0            # dropped: an earlier provider supplied every wanted field
    to_send: int = 0
    matched: int = 0
    not_found: int = 0
    failed: int = 0             # calls failed after every retry
    unanswered: int = 0         # left out of an answer, or out of credits mid-batch
    not_sent: int = 0           # budget, circuit breaker, 401/402 stopped the provider first
    credits: int = 0
    calls: int = 0
    seconds: float = 0.0
    stopped: str | None = None
    stopped_by_budget: bool = False  # the run's own budget, not trouble with the provider

    @property
    def pending(self) -> int:
        return self.failed + self.unanswered + self.not_sent


@dataclass
class EnrichmentResult:
    run_id: str
    providers: list[ProviderStats] = field(default_factory=list)
    recovered_packages: int = 0
    credits_at_risk: int = 0
    dry_run: bool = False
    plan: list[list[object]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def pending(self) -> int:
        return sum(p.pending for p in self.providers)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - _now()).total_seconds())
        except (TypeError, ValueError):
            return None


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None, rng: random.Random) -> float:
    """Full-jitter exponential back-off, never shorter than the provider's Retry-After."""
    delay = rng.uniform(0, min(cap, base * 2 ** (attempt - 1)))
    return max(delay, retry_after) if retry_after is not None else delay


class ProviderRun:
    """One provider's share of a run: a queue of requests, worker threads, a breaker."""

    def __init__(self, config: ProviderConfig, requests_: list[Request], budget: Budget, writer: ResponseWriter,
                 run_id: str, stats: ProviderStats) -> None:
        self.config = config
        self.api = config.api
        self.url = config.base_url + self.api.path
        self.queue: deque[Request] = deque(requests_)
        self.budget = budget
        self.writer = writer
        self.run_id = run_id
        self.stats = stats
        self.answers: list[tuple[Request, ItemAnswer]] = []
        self.at_risk = 0
        self._lock = threading.Lock()
        self._batches = 0
        self._consecutive_failures = 0
        self._rng = random.Random()

    def _safe(self, text: str) -> str:
        key = self.config.api_key.reveal()
        return text.replace(key, "***") if key else text

    def stop(self, reason: str, budget: bool = False) -> None:
        with self._lock:
            if self.stats.stopped is None:
                self.stats.stopped = reason
                self.stats.stopped_by_budget = budget
                log.warning("provider %s stopped for this run: %s", self.config.name, reason)

    def _next_batch(self) -> tuple[list[Request], int]:
        """Pop a batch with one credit reserved per request; empty when done or stopped."""
        with self._lock:
            if self.stats.stopped or not self.queue:
                return [], 0
            wanted = min(self.config.batch_size, len(self.queue))
        granted = self.budget.reserve_credits(wanted)
        if granted == 0:
            self.stop("credit budget of the run used up", budget=True)
            return [], 0
        with self._lock:
            batch = [self.queue.popleft() for _ in range(min(granted, len(self.queue)))]
            self._batches += 1
        if len(batch) < granted:
            self.budget.settle(granted - len(batch), 0)
        return batch, len(batch)

    def worker(self) -> None:
        session = requests.Session()
        try:
            while True:
                batch, reserved = self._next_batch()
                if not batch:
                    return
                self._send(session, batch, reserved)
        finally:
            session.close()

    def _send(self, session: requests.Session, batch: list[Request], reserved: int) -> None:
        cfg = self.config
        batch_id = f"{self.run_id}-{cfg.name}-{self._batches}"
        body = self.api.body(batch)
        headers = self.api.headers(cfg.api_key)
        requested_at = _now()
        attempt = 0
        http_status: int | None = None
        error = ""
        lost = 0     # credits a lost answer may have cost
        answers: dict[str, ItemAnswer] | None = None
        while answers is None:
            if self.stats.stopped:
                error = error or f"provider stopped: {self.stats.stopped}"
                break
            if not self.budget.take_call():
                self.stop("call budget of the run used up", budget=True)
                error = "call budget of the run used up"
                break
            attempt += 1
            with self._lock:
                self.stats.calls += 1
            retry_after = None
            failed = False
            try:
                response = session.post(self.url, data=body, headers=headers, timeout=cfg.timeout_seconds)
            except requests.Timeout:
                failed, error, http_status, lost = True, "timeout", None, len(batch)
            except requests.RequestException as exc:
                failed, error, http_status = True, f"connection error: {type(exc).__name__}", None
            else:
                http_status = response.status_code
                if http_status == 200:
                    try:
                        answers = self.api.answers(response.json())
                    except ValueError:
                        failed, error, lost = True, "malformed response body", len(batch)
                elif http_status in (401, 403):
                    self.stop(f"API key rejected (HTTP {http_status}); check the {cfg.name} api_key")
                    error = f"HTTP {http_status}"
                    break
                elif http_status == 402:
                    self.stop("the provider's credits ran out (HTTP 402)")
                    error = "HTTP 402"
                    break
                elif http_status == 429:
                    retry_after = _retry_after(response)
                    error = "HTTP 429 rate limited"
                elif http_status >= 500:
                    failed, error = True, f"HTTP {http_status}"
                else:
                    error = self._safe(f"HTTP {http_status}: {response.text[:200]}")
                    break
            if answers is not None:
                with self._lock:
                    self._consecutive_failures = 0
                break
            if failed:
                with self._lock:
                    self._consecutive_failures += 1
                    tripped = self._consecutive_failures >= cfg.breaker_failures
                if tripped:
                    self.stop(f"circuit open after {cfg.breaker_failures} failed calls in a row (last: {error})")
            if attempt > cfg.max_retries:
                break
            time.sleep(backoff_delay(attempt, cfg.backoff_seconds, cfg.max_backoff_seconds, retry_after, self._rng))

        if answers is None and attempt == 0:
            # never sent (the provider stopped meanwhile): back to the queue, counted as not sent
            self.budget.settle(reserved, 0)
            with self._lock:
                self.queue.extend(batch)
            return
        answered_at = _now()
        rows: list[dict] = []
        charged = 0
        requeue: list[Request] = []
        for request in batch:
            request.attempts += attempt
            answer = answers.get(request.request_id) if answers is not None else None
            row = {"request_id": request.request_id, "provider": cfg.name, "provider_kind": cfg.kind,
                   "run_id": self.run_id, "batch_id": batch_id, "contact_id": request.contact_id,
                   "company_domain": request.company_domain, "requested_fields": " ".join(sorted(request.wants)),
                   "attempts": request.attempts, "requested_at": requested_at, "http_status": http_status}
            if answers is None:
                row.update(outcome="failed", error_message=error or "no answer", may_be_billed=lost > 0)
            elif answer is None:
                if request.attempts <= cfg.max_retries and not self.stats.stopped:
                    requeue.append(request)     # left out of a partial answer: into a later batch
                    continue
                row.update(outcome="unanswered", error_message="left out of the provider's answer")
            elif answer.status in (200, 404):
                # billed now (a repeat of a request id the provider already billed, after a lost
                # answer, is free); the answer itself cost one credit either way
                charged += 1 if answer.status == 200 and answer.billed else 0
                row.update(outcome="matched" if answer.status == 200 else "not_found", answered_at=answered_at,
                           item_status=answer.status, likelihood=answer.likelihood,
                           credits_charged=1 if answer.status == 200 else 0,
                           payload=json.dumps(answer.payload, sort_keys=True))
                if answer.status == 200:
                    self.answers.append((request, answer))
            else:
                if answer.status == 402:
                    self.stop("the provider's credits ran out (item status 402)")
                row.update(outcome="unanswered", item_status=answer.status,
                           error_message=f"item status {answer.status}")
            rows.append(row)
        # credits of a lost answer stay spent: the provider may have billed them
        self.budget.settle(reserved, charged + (lost if answers is None else 0))
        self.writer.add(rows)
        with self._lock:
            self.at_risk += lost if answers is None else 0
            self.queue.extend(requeue)
            self.stats.credits += charged
            for row in rows:
                outcome = row["outcome"]
                setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)

    def run(self, progress: Progress) -> None:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.config.concurrency,
                                thread_name_prefix=f"enrich-{self.config.name}") as pool:
            futures = [pool.submit(self.worker) for _ in range(self.config.concurrency)]
            pending = set(futures)
            while pending:
                _, pending = wait(pending, timeout=0.2)
                progress.update(self.stats)
                self.writer.maybe_flush()
            for f in futures:
                f.result()
        with self._lock:
            self.stats.not_sent += len(self.queue)
        self.stats.seconds = time.perf_counter() - started
        progress.finish(self.stats)


# ------------------------------------------------------------------- main ----

def _configured_providers(kinds: dict[str, tuple[str, int]], only: list[str] | None
                          ) -> tuple[list[ProviderConfig], list[str]]:
    configs, skipped = [], []
    for name, (kind, rank) in sorted(kinds.items(), key=lambda kv: kv[1][1]):
        if only and name not in only:
            continue
        cfg = ProviderConfig.from_config(name, kind, rank)
        if not cfg.base_url:
            skipped.append(f"{name}: no base_url configured (sources.enrichment.providers.{name}.base_url)")
        elif not cfg.api_key:
            skipped.append(f"{name}: no api_key (SOURCES__ENRICHMENT__PROVIDERS__{name.upper()}__API_KEY "
                           f"or .dlt/secrets.toml)")
        else:
            configs.append(cfg)
    return configs, skipped


def _remaining(request: Request, by_contact: dict[str, set[str]], by_domain: dict[str, set[str]]) -> frozenset[str]:
    supplied = set(by_contact.get(request.contact_id or "", ()))
    supplied |= by_domain.get(request.company_domain or "", set())
    return request.wants - supplied


def run_enrichment(settings: Settings, *, dry_run: bool = False, only: list[str] | None = None,
                   limit: int | None = None, limits: RunLimits | None = None,
                   progress: Progress | None = None) -> EnrichmentResult:
    """Ask the providers for what enriched.enrichment_requests lists; see the module doc."""
    run_id = f"{_now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    result = EnrichmentResult(run_id=run_id, dry_run=dry_run)
    limits = limits or RunLimits.from_config()
    pipeline = None if dry_run else make_pipeline(settings)
    if pipeline is not None:
        # answers a killed run received are loaded before anything is asked again
        result.recovered_packages = recover_pending(pipeline)
    requests_, kinds = read_requests(settings, only, limit)
    configs, result.skipped = _configured_providers(kinds, only)
    for reason in result.skipped:
        log.warning("enrichment provider skipped: %s", reason)
    by_provider: dict[str, list[Request]] = {}
    for r in requests_:
        by_provider.setdefault(r.provider, []).append(r)

    if dry_run:
        credits_left = limits.max_credits or math.inf
        calls_left = limits.max_calls or math.inf
        for cfg in configs:
            todo = by_provider.get(cfg.name, [])[:limit]
            calls = min(math.ceil(len(todo) / cfg.batch_size), calls_left)
            credits = min(len(todo), credits_left, calls * cfg.batch_size)
            calls_left -= calls
            credits_left -= credits
            result.plan.append([cfg.name, cfg.rank, len(by_provider.get(cfg.name, [])), len(todo),
                                int(calls), int(credits)])
        return result

    budget = Budget(limits.max_credits, limits.max_calls)
    writer = ResponseWriter(pipeline, limits.flush_seconds)
    progress = progress or Progress()
    by_contact: dict[str, set[str]] = {}
    by_domain: dict[str, set[str]] = {}
    # answers received since enrichment_requests was built (a killed run's, just recovered)
    # cover the later providers' requests, as if they had come in this run
    received: dict[str, list[tuple]] = {}
    for provider, contact_id, company_domain, payload in read_answers_since_requests(settings):
        answer = ItemAnswer(status=200, likelihood=None, billed=False, payload=json.loads(payload or "{}"))
        received.setdefault(provider, []).append((contact_id, company_domain, answer))
    try:
        for cfg in configs:
            stats = ProviderStats(cfg.name, requested=len(by_provider.get(cfg.name, [])))
            result.providers.append(stats)
            todo = []
            for r in by_provider.get(cfg.name, []):
                remaining = _remaining(r, by_contact, by_domain)
                # an answer a lost call may have paid for is fetched whatever the waterfall says
                if not remaining and not r.lost_answers:
                    stats.covered += 1
                    continue
                r.wants = remaining or r.wants
                todo.append(r)
            if limit is not None:
                stats.not_sent += max(0, len(todo) - limit)
                todo = todo[:limit]
            stats.to_send = len(todo)
            log.info("enrichment: asking %s for %d requests (%d covered by earlier providers)",
                     cfg.name, len(todo), stats.covered)
            run = ProviderRun(cfg, todo, budget, writer, run_id, stats)
            run.run(progress)
            result.credits_at_risk += run.at_risk
            for request, answer in run.answers:
                _cover(cfg, request.contact_id, request.company_domain, answer, by_contact, by_domain)
            for contact_id, company_domain, answer in received.get(cfg.name, []):
                _cover(cfg, contact_id, company_domain, answer, by_contact, by_domain)
            writer.maybe_flush()
    finally:
        writer.close()
    return result


def _cover(cfg: ProviderConfig, contact_id: str | None, company_domain: str | None, answer: ItemAnswer,
           by_contact: dict[str, set[str]], by_domain: dict[str, set[str]]) -> None:
    """Note the fields a matched answer supplies, for the contact and for its company's domain."""
    fields, domain = cfg.api.supplied(answer)
    if contact_id:
        by_contact.setdefault(contact_id, set()).update(fields)
    company_fields = fields & {"company_size", "industry"}
    for d in {domain, company_domain if cfg.kind == "company" else None} - {None}:
        by_domain.setdefault(d.lower(), set()).update(company_fields)


def read_answers_since_requests(settings: Settings) -> list[tuple]:
    """Matched answers to requests enriched.enrichment_requests still lists: received after it was built."""
    import duckdb

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        if not table_exists(con, DATASET_NAME, RESPONSES_TABLE):
            return []
        return con.execute(f"""
            select provider, contact_id, company_domain, payload from {DATASET_NAME}.{RESPONSES_TABLE}
            where outcome = 'matched' and request_id in (select request_id from enriched.enrichment_requests)
            """).fetchall()
    finally:
        con.close()


def describe(result: EnrichmentResult) -> tuple[list[str], list[list[object]]]:
    """Headers and rows of the run summary."""
    if result.dry_run:
        return (["provider", "rank", "requests", "would send", "calls (at most)", "credits (at most)"], result.plan)
    rows = [[p.provider, p.requested, p.covered, p.matched + p.not_found + p.failed + p.unanswered, p.matched,
             p.not_found, p.failed, p.pending, p.credits, p.calls, f"{p.seconds:.1f}", p.stopped or ""]
            for p in result.providers]
    return (["provider", "requested", "covered", "sent", "matched", "not found", "failed", "pending", "credits",
             "calls", "seconds", "stopped"], rows)


__all__ = ["Budget", "EnrichmentResult", "Progress", "RequestsNotBuilt", "backoff_delay", "describe",
           "run_enrichment"]
