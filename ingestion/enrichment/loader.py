"""The enrichment loader: ask the providers what `enriched.enrichment_requests` lists.

Providers are asked in waterfall order (`waterfall_rank` of the `enrichment_providers`
seed). Before a provider is asked, the fields an earlier provider supplied in this run
are dropped from each request (company fields count for the whole domain); a request
left with nothing to ask is skipped as covered.

Per provider: batches of `batch_size`, `concurrency` calls in flight, retries with
exponential back-off and full jitter, a wall-clock deadline per call (connect, headers
and body: ingestion/enrichment/http.py), per provider and per step, 429s waited out
(Retry-After, or the window an `x-ratelimit-reset` header announces), and a circuit
breaker that stops the provider after `breaker_failures` consecutive failed calls. A
401 or a 402 stops that provider cleanly; the others go on. SIGTERM cuts the calls in
flight and ends the run within a second or two.

The budget (`max_credits` per night, `max_calls` per run) is never exceeded, by what
the provider can have billed: every call reserves one credit per request in it and
writes that worst case to the credit ledger (ingestion/enrichment/ledger.py) before it
is sent; a call whose answer was lost keeps it spent, and a retry reserves again,
because a provider without an idempotency key bills every time it is asked. The ledger
outlives the process, so a crashed attempt's calls count against the night too.

A call whose answer may have been billed (a timeout after sending, a reset, a cut or
unreadable body, a gateway error) is not asked again in the same run unless the provider's
`retry_lost_answers` is set: its requests wait for the next run, so a vendor that bills and
then fails bills each request at most once a night. When a request that lost an answer is
matched later, that match may have been billed twice: the run counts those
(`possible_double_charges`), per provider.

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
import random
import secrets
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import dlt
import duckdb
import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from ingestion.enrichment import DATASET_NAME, PIPELINE_NAME, RESPONSES_TABLE, provider_responses
from ingestion.enrichment.http import CallExpired, DeadlineSession, InFlight
from ingestion.enrichment.ledger import CreditLedger, OpenCall, utc_day
from ingestion.enrichment.providers import FIELDS, ItemAnswer, ProviderConfig, Request, RunLimits, UnknownApi
from ingestion.faults import checkpoint
from ingestion.pipelines import finish_interrupted, loader_file_format, read_warehouse, warehouse_pipeline
from ingestion.settings import Settings, table_exists

log = logging.getLogger(__name__)

REQUEST_COLUMNS = ["request_id", "provider", "provider_kind", "waterfall_rank", "subject_key", "contact_id",
                   "company_domain", "lookup_email", "lookup_first_name", "lookup_last_name", "lookup_company",
                   "wants_job_title", "wants_seniority", "wants_company_size", "wants_industry", "lost_answers"]


def _now() -> datetime:
    return datetime.now(UTC)


class RequestsNotBuilt(RuntimeError):
    pass


# ---------------------------------------------------------------- reading ----

def read_requests(settings: Settings, only: list[str] | None = None, limit: int | None = None
                  ) -> tuple[list[Request], dict[str, tuple[str, int, str]]]:
    """The requests, in waterfall order (at most `limit` per provider), and every provider's (kind, rank, api)."""
    with read_warehouse(settings) as con:
        if con is None:
            raise RequestsNotBuilt(f"no warehouse at {settings.warehouse}: run the load and `dbt build` first")
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
            providers = con.execute("select provider, provider_kind, waterfall_rank, api "
                                    "from reference.enrichment_providers order by waterfall_rank").fetchall()
        except duckdb.CatalogException as exc:
            raise RequestsNotBuilt("enriched.enrichment_requests does not exist yet: run `dbt build` "
                                   "(contacts build) before enriching") from exc
    out = []
    for row in rows:
        rec = dict(zip(REQUEST_COLUMNS, row))
        wants = frozenset(f for f in FIELDS if rec.pop(f"wants_{f}"))
        out.append(Request(**rec, wants=wants))
    return out, {name: (kind, rank, api) for name, kind, rank, api in providers}


# ----------------------------------------------------------------- budget ----

class Budget:
    """Credits and calls for the whole night, reserved before they can be spent.

    `spent` starts at what the night's ledger already holds (earlier attempts, crashed
    calls), so a retry of the night cannot spend `max_credits` again. Waiting for credits
    ends when `halt` is set (a signal, the step's deadline)."""

    def __init__(self, max_credits: int = 0, max_calls: int = 0, spent: int = 0,
                 halt: threading.Event | None = None) -> None:
        self.max_credits = max_credits or math.inf
        self.max_calls = max_calls or math.inf
        self.reserved = 0
        self.spent = spent      # billed, plus what lost answers may have billed
        self.calls = 0
        self.halt = halt or threading.Event()
        self._cond = threading.Condition()

    def reserve_credits(self, wanted: int) -> int:
        """Up to `wanted` credits, waiting while in-flight reservations may come back; 0: none left."""
        with self._cond:
            while not self.halt.is_set():
                free = self.max_credits - self.spent - self.reserved
                if free >= 1:
                    granted = int(min(wanted, free))
                    self.reserved += granted
                    return granted
                if self.reserved == 0:
                    return 0
                self._cond.wait(timeout=0.2)
            return 0

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
    return warehouse_pipeline(settings, PIPELINE_NAME, DATASET_NAME)


class ResponseWriter:
    """Buffers response rows from worker threads; the main thread extracts them to dlt."""

    def __init__(self, pipeline: dlt.Pipeline | None, flush_seconds: float, file_format: str | None = None) -> None:
        self.pipeline = pipeline
        self.flush_seconds = flush_seconds
        self.file_format = file_format
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
        # extracted = on disk in a load package: a kill after this point loses nothing
        self.pipeline.extract(provider_responses(rows), loader_file_format=self.file_format)
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
    at_risk: int = 0            # credits lost answers may have cost (no answer to show for them)
    double_charges: int = 0     # matches billed for requests whose earlier answer may have been billed too
    stopped: str | None = None
    stopped_by_budget: bool = False  # the run's own budget, not trouble with the provider

    @property
    def pending(self) -> int:
        return self.failed + self.unanswered + self.not_sent


@dataclass
class EnrichmentResult:
    run_id: str
    period: str = ""            # the night max_credits is for (see ingestion/enrichment/ledger.py)
    max_credits: int = 0        # 0: no limit
    credits_before: int = 0     # the night's ledger before this run: earlier attempts, cut-off calls
    period_credits: int = 0     # after it: everything the night may have been billed
    providers: list[ProviderStats] = field(default_factory=list)
    recovered_packages: int = 0
    credits_at_risk: int = 0
    dry_run: bool = False
    plan: list[list[object]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def possible_double_charges(self) -> int:
        """Credits that may have been billed twice: a match for a request an earlier call
        (of this run or an earlier one) carried and whose answer was lost."""
        return sum(p.double_charges for p in self.providers)

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


def reset_seconds(value: str | None) -> float | None:
    """Seconds until a rate-limit window resets, from an `x-ratelimit-reset`-style header:
    seconds from now, epoch seconds or milliseconds, an HTTP or ISO 8601 date (UTC unless
    it says otherwise), or a JSON object of windows (the latest one counts)."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text
    if isinstance(parsed, dict):
        waits = [reset_seconds(str(v)) for v in parsed.values()]
        return max((w for w in waits if w is not None), default=None)
    if isinstance(parsed, (int, float)) and not isinstance(parsed, bool):
        number = float(parsed)
        if number > 1e12:                         # epoch milliseconds
            return max(0.0, number / 1000 - time.time())
        if number > 1e9:                          # epoch seconds
            return max(0.0, number - time.time())
        return max(0.0, number)                   # seconds from now
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - _now()).total_seconds())


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None, rng: random.Random) -> float:
    """Full-jitter exponential back-off, never shorter than the provider's Retry-After."""
    delay = rng.uniform(0, min(cap, base * 2 ** (attempt - 1)))
    return max(delay, retry_after) if retry_after is not None else delay


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the call failed before the request could reach the provider (no connection)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


@dataclass
class CallResult:
    """How one HTTP call to a provider ended."""

    answers: dict[str, ItemAnswer] | None = None
    http_status: int | None = None
    error: str = ""
    may_be_billed: bool = False   # the provider may have billed it, and we have no answer
    retry: bool = False           # another attempt may succeed
    wait: float | None = None     # the provider asked us to wait this long first (rate limit)
    stop: str | None = None       # stop this provider for the run, with why


@dataclass
class BatchCalls:
    """One batch's calls: the credits reserved for the next, those possibly billed without an
    answer, and the call that is in the ledger as sent and not yet as ended."""

    batch: list[Request]
    batch_id: str
    reserved: int
    attempts: int = 0
    rate_limited: int = 0
    lost: int = 0
    open_call: str | None = None

    @property
    def ids(self) -> list[str]:
        return [r.request_id for r in self.batch]


class ProviderRun:
    """One provider's share of a run: a queue of requests, worker threads, a breaker.

    Every call is bounded by a wall-clock deadline (timeout_seconds, and the provider's
    and the step's deadlines); every call's worst case is in the credit ledger before it
    goes out; whatever happens to a batch, its reservation is settled and its requests
    are recorded (answered, or failed and asked again next run)."""

    def __init__(self, config: ProviderConfig, requests_: list[Request], budget: Budget, writer: ResponseWriter,
                 run_id: str, stats: ProviderStats, *, ledger: CreditLedger, deadline: float = math.inf,
                 in_flight: InFlight | None = None) -> None:
        self.config = config
        self.api = config.api
        self.url = config.base_url + self.api.path
        self.queue: deque[Request] = deque(requests_)
        self.budget = budget
        self.writer = writer
        self.run_id = run_id
        self.stats = stats
        self.ledger = ledger
        self.halt = budget.halt   # set: every worker stops at once (a signal, the step's deadline)
        self.in_flight = in_flight or InFlight()
        self.deadline = min(deadline, time.monotonic() + config.max_seconds if config.max_seconds else math.inf)
        self.answers: list[tuple[Request, ItemAnswer]] = []
        self._lock = threading.Lock()
        self._batches = 0
        self._consecutive_failures = 0
        self._paused_until = 0.0  # monotonic: the provider's rate-limit window, for every worker
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

    def end_all(self, reason: str) -> None:
        """Stop every worker now: calls in flight are cut, waits end (a signal, a deadline)."""
        self.stop(reason)
        self.halt.set()
        self.in_flight.cancel(reason)

    def _next_batch(self) -> tuple[list[Request], int, str]:
        """Pop a batch with one credit reserved per request, and its id; empty when done or stopped."""
        with self._lock:
            if self.stats.stopped or not self.queue:
                return [], 0, ""
            wanted = min(self.config.batch_size, len(self.queue))
        granted = self.budget.reserve_credits(wanted)
        if granted == 0:
            if not self.halt.is_set():
                self.stop("credit budget of the night used up", budget=True)
            return [], 0, ""
        with self._lock:
            batch = [self.queue.popleft() for _ in range(min(granted, len(self.queue)))]
            self._batches += 1
            batch_id = f"{self.run_id}-{self.config.name}-{self._batches}"
        if len(batch) < granted:
            self.budget.settle(granted - len(batch), 0)
        return batch, len(batch), batch_id

    def worker(self) -> None:
        session = DeadlineSession(self.in_flight)
        try:
            while True:
                batch, reserved, batch_id = self._next_batch()
                if not batch:
                    return
                try:
                    self._send(session, batch, reserved, batch_id)
                except Exception as exc:  # noqa: BLE001 - a bug must not leave the run waiting for this worker
                    log.error("provider %s: recording a batch failed on %s", self.config.name, type(exc).__name__)
                    log.debug("recording failure", exc_info=True)
                    self.stop(f"internal error ({type(exc).__name__}); see the log")
                    return
        finally:
            session.close()

    # ---- one call ----
    def _call(self, session: DeadlineSession, batch: list[Request], body: bytes, headers: dict[str, str]
              ) -> CallResult:
        deadline = min(time.monotonic() + self.config.timeout_seconds, self.deadline)
        try:
            response = session.post_within(self.url, deadline, data=body, headers=headers)
        except CallExpired as exc:
            ended = str(exc)
            return CallResult(error="no answer within timeout_seconds" if ended == "deadline" else f"cut off: {ended}",
                              may_be_billed=True, retry=ended == "deadline")
        except requests.Timeout as exc:  # a read timed out: the same wall clock, seen from the socket
            if _never_sent(exc):
                return CallResult(error=f"connection error: {type(exc).__name__}", retry=True)
            return CallResult(error="no answer within timeout_seconds", may_be_billed=True, retry=True)
        except requests.RequestException as exc:
            if _never_sent(exc):
                return CallResult(error=f"connection error: {type(exc).__name__}", retry=True)
            # the request went out; the answer did not come back whole (a reset, a cut body)
            return CallResult(error=f"connection lost: {type(exc).__name__}", may_be_billed=True, retry=True)
        status = response.status_code
        self._note_rate_limit(response)
        if status == 200:
            try:
                return CallResult(answers=self.api.answers(response.json(), batch), http_status=200)
            except Exception:  # noqa: BLE001 - any body we cannot read is a lost answer, whatever it holds
                return CallResult(http_status=200, error="malformed response body", may_be_billed=True, retry=True)
        if status in (401, 403):
            return CallResult(http_status=status, error=f"HTTP {status}",
                              stop=f"API key rejected (HTTP {status}); check the {self.config.name} api_key")
        if status == 402:
            return CallResult(http_status=status, error="HTTP 402", stop="the provider's credits ran out (HTTP 402)")
        if status == 429:
            return CallResult(http_status=status, error="HTTP 429 rate limited", retry=True,
                              wait=self._rate_limit_wait(response))
        if status >= 500:
            # 503: not taken in; other 5xx (a gateway page) may come after the provider billed
            return CallResult(http_status=status, error=f"HTTP {status}", may_be_billed=status != 503, retry=True)
        return CallResult(http_status=status, error=self._safe(f"HTTP {status}: {response.text[:200]}"))

    def _reset_seconds(self, response: requests.Response) -> float | None:
        header = self.config.rate_limit_reset_header
        return reset_seconds(response.headers.get(header)) if header else None

    def _rate_limit_wait(self, response: requests.Response) -> float | None:
        """How long a 429 asks us to wait: Retry-After, the reset header, else the API's window."""
        waits = [w for w in (_retry_after(response), self._reset_seconds(response)) if w is not None]
        if waits:
            return max(waits)
        return self.config.rate_limit_window_seconds or None

    def _note_rate_limit(self, response: requests.Response) -> None:
        """A window with no calls left pauses every worker of this provider until it resets."""
        remaining = response.headers.get(self.config.rate_limit_remaining_header)
        if remaining is None:
            return
        try:
            values = json.loads(remaining)
        except ValueError:
            return
        values = values.values() if isinstance(values, dict) else [values]
        if any(isinstance(v, (int, float)) and v <= 0 for v in values):
            wait = self._reset_seconds(response) or self.config.rate_limit_window_seconds
            if wait:
                self._pause(wait)

    def _pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def _sleep(self, seconds: float) -> None:
        """Sleep, but no longer than the deadlines, and not at all once halted."""
        seconds = min(seconds, max(0.0, self.deadline - time.monotonic()))
        if seconds > 0:
            self.halt.wait(seconds)

    def _why_not_send(self) -> str | None:
        if self.halt.is_set() or self.stats.stopped:
            return f"provider stopped: {self.stats.stopped or 'the run was stopped'}"
        if time.monotonic() >= self.deadline:
            self.stop("its deadline passed (max_seconds)")
            return "deadline passed before the call"
        with self._lock:
            pause = self._paused_until - time.monotonic()
        if pause > self.config.max_rate_limit_wait_seconds:
            self.stop(f"rate limited for {pause:,.0f} s more (more than max_rate_limit_wait_seconds)")
            return "rate limited"
        self._sleep(pause)
        return None

    # ---- one batch ----
    def _send(self, session: DeadlineSession, batch: list[Request], reserved: int, batch_id: str) -> None:
        """Call until the batch is answered, given up or the provider stops; then record it."""
        state = BatchCalls(batch, batch_id, reserved)
        body = self.api.body(batch, self.config.min_likelihood)
        headers = self.api.headers(self.config.api_key)
        requested_at = _now()
        result = CallResult(error="not sent")
        try:
            while True:
                refused = self._before_call(state)
                if refused is not None:
                    result = refused
                    break
                result = self._attempt(session, state, body, headers)
                if not self._again(state, result):
                    break
        except Exception as exc:  # noqa: BLE001 - whatever goes wrong, the batch is settled and recorded
            result = self._settle_crash(state, exc)
        finally:
            if state.reserved:
                self.budget.settle(state.reserved, 0)
        if result.answers is None and state.attempts == 0:
            # never sent (the provider stopped meanwhile): back to the queue, counted as not sent
            with self._lock:
                self.queue.extend(batch)
            return
        self._record(batch, batch_id, requested_at, state.attempts, result, state.lost)

    def _before_call(self, state: BatchCalls) -> CallResult | None:
        """Why this call may not go out (as the batch's result), or None: credits and a call reserved."""
        why_not = self._why_not_send()
        if why_not:
            return CallResult(error=why_not)
        wanted = len(state.batch)
        if state.reserved < wanted:  # the last attempt's credits went to a lost answer
            state.reserved += self.budget.reserve_credits(wanted - state.reserved)
            if state.reserved < wanted:
                self.stop("credit budget of the night used up", budget=True)
                return CallResult(error="credit budget of the night used up before a retry")
        if not self.budget.take_call():
            self.stop("call budget of the run used up", budget=True)
            return CallResult(error="call budget of the run used up")
        return None

    def _attempt(self, session: DeadlineSession, state: BatchCalls, body: bytes, headers: dict[str, str]
                 ) -> CallResult:
        """One call, in the ledger before it goes out and settled when it ends."""
        ids = state.ids
        state.attempts += 1
        state.open_call = f"{state.batch_id}-{state.attempts}"
        self.ledger.sent(state.open_call, self.config.name, len(ids), ids, self.run_id)
        with self._lock:
            self.stats.calls += 1
        result = self._call(session, state.batch, body, headers)
        if result.answers is not None:
            charged = sum(1 for rid in ids if (a := result.answers.get(rid)) is not None
                          and a.status == 200 and a.billed)
            # an item left out of the answer, or unreadable, may have been billed all the same
            unread = sum(1 for rid in ids if rid not in result.answers)
            self.ledger.ended(state.open_call, charged + unread, lost=False)
            state.open_call = None
            self.budget.settle(state.reserved, charged + unread)
            state.reserved = 0
            with self._lock:
                self.stats.at_risk += unread
                self._consecutive_failures = 0
            return result
        spent = len(ids) if result.may_be_billed else 0
        self.ledger.ended(state.open_call, spent, lost=result.may_be_billed)
        state.open_call = None
        if result.may_be_billed:
            self.budget.settle(state.reserved, spent)
            state.reserved = 0
            state.lost += spent
        return result

    def _again(self, state: BatchCalls, result: CallResult) -> bool:
        """Whether to call again after `result`: a rate limit is waited out, a failure retried with back-off."""
        cfg = self.config
        if result.answers is not None:
            return False
        if result.stop:
            self.stop(result.stop)
            return False
        if not result.retry:
            return False
        if result.http_status == 429 and state.rate_limited < cfg.max_rate_limit_waits:
            state.rate_limited += 1  # the provider's pace, not a failure: wait for its window
            self._pause(result.wait if result.wait is not None else
                        backoff_delay(state.rate_limited, cfg.backoff_seconds, cfg.max_backoff_seconds, None,
                                      self._rng))
            return True
        with self._lock:
            self._consecutive_failures += 1
            tripped = self._consecutive_failures >= cfg.breaker_failures
        if tripped:
            self.stop(f"circuit open after {cfg.breaker_failures} failed calls in a row (last: {result.error})")
        if result.may_be_billed and not cfg.retry_lost_answers:
            # asking again could bill again: the requests wait for the next run instead, so a
            # vendor that bills and then fails is billed at most once a night per request
            return False
        failures = state.attempts - state.rate_limited
        if failures > cfg.max_retries:
            return False
        self._sleep(backoff_delay(failures, cfg.backoff_seconds, cfg.max_backoff_seconds, result.wait, self._rng))
        return True

    def _settle_crash(self, state: BatchCalls, exc: Exception) -> CallResult:
        """A bug or an unexpected error mid-batch: the call in flight counts at its worst case."""
        log.error("provider %s: a batch failed on %s; its requests stay pending", self.config.name,
                  type(exc).__name__)
        log.debug("batch failure", exc_info=True)
        if state.open_call is not None:
            self.ledger.ended(state.open_call, len(state.batch), lost=True)
            state.lost += len(state.batch)
            self.budget.settle(state.reserved, len(state.batch))
            state.reserved = 0
            return CallResult(error=f"internal error: {type(exc).__name__}", may_be_billed=True)
        return CallResult(error=f"internal error: {type(exc).__name__}")

    def _record(self, batch: list[Request], batch_id: str, requested_at: datetime, attempts: int,
                result: CallResult, lost: int) -> None:
        cfg = self.config
        answered_at = _now()
        rows: list[dict] = []
        requeue: list[Request] = []
        double = 0
        for request in batch:
            request.attempts += attempts
            answer = result.answers.get(request.request_id) if result.answers is not None else None
            row = {"request_id": request.request_id, "provider": cfg.name, "provider_kind": cfg.kind,
                   "api": cfg.api_name, "run_id": self.run_id, "batch_id": batch_id, "contact_id": request.contact_id,
                   "company_domain": request.company_domain, "requested_fields": " ".join(sorted(request.wants)),
                   "attempts": request.attempts, "requested_at": requested_at, "http_status": result.http_status,
                   "may_be_billed": lost > 0}
            if result.answers is None:
                row.update(outcome="failed", error_message=result.error or "no answer")
            elif answer is None:
                if request.attempts <= cfg.max_retries and not self.stats.stopped:
                    requeue.append(request)     # left out of a partial answer: into a later batch
                    continue
                row.update(outcome="unanswered", error_message="left out of the provider's answer")
            elif answer.status in (200, 404):
                row.update(outcome="matched" if answer.status == 200 else "not_found", answered_at=answered_at,
                           item_status=answer.status, likelihood=answer.likelihood,
                           credits_charged=1 if answer.status == 200 and answer.billed else 0,
                           payload=json.dumps(answer.payload, sort_keys=True))
                if answer.status == 200:
                    self.answers.append((request, answer))
                    if answer.billed and (request.lost_answers or lost):
                        double += 1
            else:
                if answer.status == 402:
                    self.stop("the provider's credits ran out (item status 402)")
                row.update(outcome="unanswered", item_status=answer.status,
                           error_message=f"item status {answer.status}")
            rows.append(row)
        self.writer.add(rows)
        with self._lock:
            self.queue.extend(requeue)
            self.stats.credits += sum(r.get("credits_charged") or 0 for r in rows)
            self.stats.at_risk += lost
            self.stats.double_charges += double
            for row in rows:
                outcome = row["outcome"]
                setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)

    def run(self, progress: Progress) -> None:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.config.concurrency,
                                thread_name_prefix=f"enrich-{self.config.name}") as pool:
            futures = [pool.submit(self.worker) for _ in range(self.config.concurrency)]
            pending = set(futures)
            try:
                while pending:
                    _, pending = wait(pending, timeout=0.2)
                    progress.update(self.stats)
                    self.writer.maybe_flush()
                    if time.monotonic() >= self.deadline and not self.halt.is_set():
                        self.stop("its deadline passed (max_seconds)")
                        self.in_flight.cancel("deadline")
            except BaseException:  # a signal (SIGTERM, Ctrl-C): the workers stop within a second
                self.end_all("the run was stopped")
                wait(futures)
                raise
            for f in futures:
                f.result()
        with self._lock:
            self.stats.not_sent += len(self.queue)
        self.stats.seconds = time.perf_counter() - started
        progress.finish(self.stats)


# ------------------------------------------------------------------- main ----

def _configured_providers(kinds: dict[str, tuple[str, int, str]], only: list[str] | None
                          ) -> tuple[list[ProviderConfig], list[str]]:
    configs, skipped = [], []
    for name, (kind, rank, api) in sorted(kinds.items(), key=lambda kv: kv[1][1]):
        if only and name not in only:
            continue
        try:
            cfg = ProviderConfig.from_config(name, kind, rank, api)
        except UnknownApi as exc:
            skipped.append(f"{name}: {exc} (seeds/enrichment_providers.csv)")
            continue
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
                   progress: Progress | None = None, budget_period: str | None = None) -> EnrichmentResult:
    """Ask the providers for what enriched.enrichment_requests lists; see the module doc.

    `budget_period` names the night `max_credits` is for (the nightly run passes its own,
    shared by its retries and resumed runs); by default the UTC date."""
    run_id = f"{_now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    result = EnrichmentResult(run_id=run_id, dry_run=dry_run, period=budget_period or utc_day())
    limits = limits or RunLimits.from_config()
    step_deadline = time.monotonic() + limits.max_seconds if limits.max_seconds else math.inf
    pipeline = None if dry_run else make_pipeline(settings)
    if pipeline is not None:
        # answers a killed run received are loaded before anything is asked again
        result.recovered_packages = finish_interrupted(pipeline)
    requests_, kinds = read_requests(settings, only, limit)
    configs, result.skipped = _configured_providers(kinds, only)
    for reason in result.skipped:
        log.warning("enrichment provider skipped: %s", reason)
    by_provider: dict[str, list[Request]] = {}
    for r in requests_:
        by_provider.setdefault(r.provider, []).append(r)
    ledger = CreditLedger(settings.credit_ledger, result.period)
    result.max_credits = limits.max_credits

    if dry_run:
        credits_left = max(0, (limits.max_credits or math.inf) - ledger.spent_before)
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

    writer = ResponseWriter(pipeline, limits.flush_seconds, loader_file_format(settings))
    # calls a crash cut off: spent at their worst case, their requests on record as such
    writer.add(_cut_off_rows(ledger.close_open_calls(), requests_, run_id,
                             {name: api for name, (_kind, _rank, api) in kinds.items()}))
    budget = Budget(limits.max_credits, limits.max_calls, spent=ledger.spent_before)
    result.credits_before = ledger.spent_before
    progress = progress or Progress()
    by_contact: dict[str, set[str]] = {}
    by_domain: dict[str, set[str]] = {}
    # answers received since enrichment_requests was built (a killed run's, just recovered)
    # cover the later providers' requests, as if they had come in this run
    received: dict[str, list[tuple]] = {}
    for provider, contact_id, company_domain, likelihood, payload in read_answers_since_requests(settings):
        answer = ItemAnswer(status=200, likelihood=likelihood, billed=False, payload=json.loads(payload or "{}"))
        received.setdefault(provider, []).append((contact_id, company_domain, answer))
    try:
        for cfg in configs:
            stats = ProviderStats(cfg.name, requested=len(by_provider.get(cfg.name, [])))
            result.providers.append(stats)
            todo = []
            for r in by_provider.get(cfg.name, []):
                remaining = _remaining(r, by_contact, by_domain)
                if not remaining:
                    stats.covered += 1
                    continue
                r.wants = remaining
                todo.append(r)
            if limit is not None:
                stats.not_sent += max(0, len(todo) - limit)
                todo = todo[:limit]
            stats.to_send = len(todo)
            if time.monotonic() >= step_deadline or budget.halt.is_set():
                stats.stopped = "the enrichment step's deadline passed ([sources.enrichment] max_seconds)"
                stats.not_sent += len(todo)
                continue
            log.info("enrichment: asking %s for %d requests (%d covered by earlier providers)",
                     cfg.name, len(todo), stats.covered)
            run = ProviderRun(cfg, todo, budget, writer, run_id, stats, ledger=ledger, deadline=step_deadline)
            run.run(progress)
            result.credits_at_risk += stats.at_risk
            for request, answer in run.answers:
                _cover(cfg, request.contact_id, request.company_domain, answer, by_contact, by_domain)
            for contact_id, company_domain, answer in received.get(cfg.name, []):
                _cover(cfg, contact_id, company_domain, answer, by_contact, by_domain)
            writer.maybe_flush()
    finally:
        result.period_credits = budget.spent
        writer.close()
    return result


def _cut_off_rows(calls: list[OpenCall], pending: list[Request], run_id: str, apis: dict[str, str]) -> list[dict]:
    """Response rows for the pending requests of calls a crash cut off: failed, may have been billed."""
    by_id = {r.request_id: r for r in pending}
    rows, now = [], _now()
    for call in calls:
        for request_id in call.request_ids:
            request = by_id.get(request_id)
            if request is None:  # answered after all (a package the crashed run extracted), or not needed
                continue
            request.lost_answers += 1
            rows.append({"request_id": request_id, "provider": request.provider,
                         "provider_kind": request.provider_kind, "api": apis.get(request.provider),
                         "run_id": call.run_id or f"{run_id}-cut-off",
                         "batch_id": call.call_id,
                         "contact_id": request.contact_id, "company_domain": request.company_domain,
                         "requested_fields": " ".join(sorted(request.wants)), "attempts": 1, "requested_at": now,
                         "outcome": "failed", "may_be_billed": True,
                         "error_message": "the run that sent it ended before the answer was recorded"})
    if rows:
        log.warning("%d request(s) of %d call(s) cut off by an interrupted run: counted as possibly billed, "
                    "asked again", len(rows), len(calls))
    return rows


def _cover(cfg: ProviderConfig, contact_id: str | None, company_domain: str | None, answer: ItemAnswer,
           by_contact: dict[str, set[str]], by_domain: dict[str, set[str]]) -> None:
    """Note the fields a matched answer supplies, for the contact and for its company's domain
    (enriched_provider_values gives a person answer's company facts to every contact at its
    company's domain). An answer less likely than enrichment_min_likelihood supplies nothing."""
    if answer.likelihood is not None and answer.likelihood < cfg.min_likelihood:
        return
    fields, domain = cfg.api.supplied(answer)
    if contact_id:
        by_contact.setdefault(contact_id, set()).update(fields)
    company_fields = fields & {"company_size", "industry"}
    for d in {domain, company_domain if cfg.kind == "company" else None} - {None}:
        by_domain.setdefault(d.lower(), set()).update(company_fields)


def read_answers_since_requests(settings: Settings) -> list[tuple]:
    """Matched answers to requests enriched.enrichment_requests still lists: received after it was built."""
    with read_warehouse(settings) as con:
        if con is None or not table_exists(con, DATASET_NAME, RESPONSES_TABLE):
            return []
        return con.execute(f"""
            select provider, contact_id, company_domain, likelihood, payload from {DATASET_NAME}.{RESPONSES_TABLE}
            where outcome = 'matched' and request_id in (select request_id from enriched.enrichment_requests)
            """).fetchall()


def describe(result: EnrichmentResult) -> tuple[list[str], list[list[object]]]:
    """Headers and rows of the run summary."""
    if result.dry_run:
        return (["provider", "rank", "requests", "would send", "calls (at most)", "credits (at most)"], result.plan)
    rows = [[p.provider, p.requested, p.covered, p.matched + p.not_found + p.failed + p.unanswered, p.matched,
             p.not_found, p.failed, p.pending, p.credits, p.at_risk, p.double_charges, p.calls, f"{p.seconds:.1f}",
             p.stopped or ""]
            for p in result.providers]
    return (["provider", "requested", "covered", "sent", "matched", "not found", "failed", "pending", "credits",
             "possibly billed, lost", "possibly billed twice", "calls", "seconds", "stopped"], rows)


__all__ = ["Budget", "EnrichmentResult", "Progress", "RequestsNotBuilt", "backoff_delay", "describe",
           "run_enrichment"]
