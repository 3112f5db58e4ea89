"""A local emulator of three enrichment APIs: a real HTTP server on 127.0.0.1.

`make run` (`contacts-demo run`) starts it when no provider URL is configured and the data is
the demo's (tooling/standin.py); the tests and `make bench` start it too. It answers from
the demo generator's ground truth, so what lands in the warehouse can be checked. Each
provider knows a different share of the people and companies (`match_rate`), so a
waterfall across them has gaps to fill.

**person**, People Data Labs' bulk person enrichment: `POST /v5/person/bulk` with header
`X-Api-Key`, body `{"requests": [{"params": {"email": .., "first_name": .., "last_name": ..,
"company": ..}, "metadata": {"request_id": ..}}, ...]}` (1-100 requests). The answer is a
JSON array in request order; each item has `status` (200 matched, 404 not found, 402 out of
credits), `likelihood` (1-10), `data` (job title, seniority and department enums, company
name, website, size range, employee count, industry, location, `job_last_verified`) and the
request's `metadata` echoed. It matches on any of the person's e-mail addresses, else on
first + last name with the company's domain or name.

**company**, People Data Labs' bulk company enrichment: `POST /v5/company/enrich/bulk`, the
same envelope with `params: {"website": ..}`; each item has `status`, `likelihood`, the
`metadata` echoed and the company's fields at the top level (`name`, `display_name`,
`website`, `size`, `employee_count`, `industry`, `inferred_revenue`, `location.country`).

**apollo**, Apollo's bulk people enrichment: `POST /api/v1/people/bulk_match` with header
`x-api-key`, body `{"details": [{"email", "first_name", "last_name", "domain" or
"organization_name"}]}` (1-10). The answer is `{"status": "success", "matches": [...],
"total_requested_enrichments", "unique_enriched_records", "missing_records",
"credits_consumed"}`, `matches` in the order of `details`, null for a miss; a match has
`title`, `seniority`, `departments`, `city`, `country` and `organization` (`name`,
`primary_domain`, `estimated_num_employees`, `industry`). Every answer carries Apollo's
per-minute headers (`x-rate-limit-minute`, `x-minute-usage`, `x-minute-requests-left`),
which announce no reset. *Assumed, not documented*: a call when the credits are used up,
or that would need more than are left, is refused whole with 402.

**Real behaviour**: a wrong or missing key gets 401; credits run out (402, per call when
none are left, per item when they run out mid-batch for People Data Labs); one credit per
match, none for a miss; a People Data Labs request's `min_likelihood` param is honoured (a
less likely match is a free 404). With `idempotent` (the default) a request id is billed
once: asking again for an id already billed returns the same answer free, as providers that
take an idempotency key do. Without it (`idempotent=False`, as People Data Labs and Apollo
bill) every match is billed every time it is asked.

**Faults**, each a probability per call: `server_error_rate` (500/502/503, before any
work), `rate_limit_rate` (429 with `Retry-After`), `malformed_rate` (the call is
processed and billed, the body cut short), `slow_rate` (answered after `slow_seconds`,
past a client's timeout), `partial_rate` (only the first part of the batch is answered),
`junk_item_rate` (one item of the answer is a string, not an object; that item is not
billed), `gateway_rate` (processed and billed, then a 502 HTML page from a gateway),
`reset_rate` (processed and billed, then the connection is reset mid-body),
`trickle_rate` (processed and billed, headers sent, then one byte every
`trickle_seconds`), `hang_rate` (never answers); `latency_ms` delays every call.
`rate_limit_per_window` calls per `rate_limit_window_seconds` (a fixed window, as People
Data Labs and Apollo count) answers the rest with 429 and no Retry-After (People Data
Labs: `x-ratelimit-reset`, epoch seconds; Apollo: no reset at all); every answer says
how many calls are left. `enum_version` 2 renames some enums, as providers do between API
versions. With `each_at_least_once`, every fault with a rate happens at least once (on the
first call to any provider that can have it), whatever the draws, so a test that names
every fault does not depend on how many calls a busy machine made.

Run alone: `contacts-demo emulator --port 8799` (see `--help`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import random
import socket
import struct
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tooling.loopback import LoopbackServer

log = logging.getLogger(__name__)

PERSON = "person"
COMPANY = "company"
APOLLO = "apollo"
PROVIDERS = (PERSON, COMPANY, APOLLO)
PATHS = {"/v5/person/bulk": PERSON, "/v5/company/enrich/bulk": COMPANY, "/api/v1/people/bulk_match": APOLLO}
MAX_BATCH = {PERSON: 100, COMPANY: 100, APOLLO: 10}
DEFAULT_KEYS = {PERSON: "emulator-person-key", COMPANY: "emulator-company-key", APOLLO: "emulator-apollo-key"}
DEFAULT_MATCH_RATE = {PERSON: 0.85, COMPANY: 0.9, APOLLO: 0.6}

# Provider enums, as each API spells them (our canonical value -> theirs). The seed
# provider_enums maps them back; enum_version 2 renames a few, as a new API version would.
PERSON_LEVELS = {"c_level": "cxo", "vp": "vp", "director": "director", "manager": "manager",
                 "senior": "senior", "entry": "entry"}
PERSON_LEVELS_V2 = {**PERSON_LEVELS, "c_level": "c_suite", "entry": "entry_level"}
PERSON_ROLES = {"marketing": "marketing", "sales": "sales", "engineering": "engineering",
                "it": "information_technology", "finance": "finance", "hr": "human_resources",
                "operations": "operations", "executive": "executive"}
PERSON_ROLES_V2 = {**PERSON_ROLES, "it": "it", "hr": "people"}
PERSON_INDUSTRIES = {
    "software": "computer software", "financial_services": "financial services",
    "healthcare": "hospital & health care", "manufacturing": "mechanical or industrial engineering",
    "retail": "retail", "telecommunications": "telecommunications", "media": "media production",
    "education": "education management", "logistics": "logistics and supply chain",
    "energy": "oil & energy", "professional_services": "management consulting",
    "pharmaceuticals": "pharmaceuticals", "insurance": "insurance", "hospitality": "hospitality"}
# People Data Labs' inferred_revenue ranges; two of ours span two of theirs
COMPANY_REVENUE = {"<1M": ["$0-$1M"], "1M-10M": ["$1M-$10M"], "10M-50M": ["$10M-$25M", "$25M-$50M"],
                   "50M-100M": ["$50M-$100M"], "100M-500M": ["$100M-$250M", "$250M-$500M"],
                   "500M-1B": ["$500M-$1B"], "1B-10B": ["$1B-$10B"], "10B+": ["$10B+"]}
# Apollo's enums: seniority, departments (master departments), LinkedIn-style industries
APOLLO_SENIORITY = {"c_level": "c_suite", "vp": "vp", "director": "director", "manager": "manager",
                    "senior": "senior", "entry": "entry"}
APOLLO_DEPARTMENTS = {"marketing": "master_marketing", "sales": "master_sales",
                      "engineering": "master_engineering_technical", "it": "master_information_technology",
                      "finance": "master_finance", "hr": "master_human_resources",
                      "operations": "master_operations", "executive": "c_suite"}
APOLLO_INDUSTRIES = {**PERSON_INDUSTRIES, "logistics": "logistics & supply chain"}
COUNTRY_NAMES = {"US": "united states", "CA": "canada", "GB": "united kingdom", "DE": "germany",
                 "FR": "france", "NL": "netherlands", "AU": "australia", "IN": "india"}


def fold(text: str | None) -> str:
    """Lower-case ASCII letters and digits only: how the emulator compares names."""
    if not text:
        return ""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def _share(key: str) -> float:
    """A stable number in [0, 1) per key: decides who the provider knows."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0x100000000


@dataclass
class Faults:
    server_error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after_seconds: int = 1
    malformed_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 5.0
    partial_rate: float = 0.0
    latency_ms: float = 0.0
    junk_item_rate: float = 0.0
    gateway_rate: float = 0.0
    reset_rate: float = 0.0
    trickle_rate: float = 0.0
    trickle_seconds: float = 2.0
    hang_rate: float = 0.0
    rate_limit_per_window: int = 0
    rate_limit_window_seconds: float = 60.0
    each_at_least_once: bool = False


@dataclass
class Reply:
    """What the emulator sends back, and how: whole, trickled, reset mid-body, or never."""

    status: int
    headers: dict[str, str]
    body: bytes
    delivery: str = "whole"   # whole | trickle | reset | hang


@dataclass
class EmulatorConfig:
    truth_dir: Path | None = None
    api_keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_KEYS))  # a provider not here: 401
    credits: dict[str, int | None] = field(default_factory=dict)       # not here: no limit
    match_rate: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MATCH_RATE))
    faults: dict[str, Faults] = field(default_factory=dict)            # not here: none
    enum_version: int = 1
    seed: int = 7
    idempotent: bool = True


@dataclass
class Ledger:
    """What the emulated provider saw and billed (for tests and the benchmark)."""

    calls: Counter = field(default_factory=Counter)            # provider -> HTTP calls
    statuses: Counter = field(default_factory=Counter)         # (provider, http status) -> calls
    items: Counter = field(default_factory=Counter)            # provider -> items received
    charged: Counter = field(default_factory=Counter)          # provider -> credits charged
    billed_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    asked: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    faults: Counter = field(default_factory=Counter)           # (provider, fault) -> times injected

    def as_dict(self) -> dict[str, Any]:
        return {p: {"calls": self.calls[p], "items": self.items[p], "charged": self.charged[p],
                    "billed_request_ids": len(self.billed_ids[p]),
                    "statuses": {str(s): n for (q, s), n in self.statuses.items() if q == p}}
                for p in PROVIDERS}


class Truth:
    """The demo ground truth, indexed the ways a provider matches."""

    def __init__(self, truth_dir: Path | None) -> None:
        self.persons: list[dict] = []
        self.companies: dict[str, dict] = {}
        self.by_email: dict[str, int] = {}
        self.by_name_company: dict[tuple[str, str, str], list[int]] = {}
        self.by_domain: dict[str, dict] = {}
        if truth_dir is None or not (Path(truth_dir) / "persons.parquet").exists():
            return
        import pyarrow.parquet as pq

        self.companies = {c["company_id"]: c for c in pq.read_table(Path(truth_dir) / "companies.parquet").to_pylist()}
        self.by_domain = {c["domain"]: c for c in self.companies.values()}
        self.persons = pq.read_table(Path(truth_dir) / "persons.parquet").to_pylist()
        for i, p in enumerate(self.persons):
            for email in (p["email"], p["personal_email"]):
                if email:
                    self.by_email.setdefault(email.lower(), i)
            company = self.companies[p["company_id"]]
            first, last = fold(p["first_name"]), fold(p["last_name"])
            for key in (fold(company["domain"]), fold(company["name"])):
                self.by_name_company.setdefault((first, last, key), []).append(i)

    def match_person(self, params: dict) -> tuple[dict, int] | None:
        """The person a request points at and the likelihood, or None."""
        emails = params.get("email") or []
        for email in [emails] if isinstance(emails, str) else emails:
            i = self.by_email.get(str(email).strip().lower())
            if i is not None:
                return self.persons[i], 9
        first, last = fold(params.get("first_name")), fold(params.get("last_name"))
        company = str(params.get("company") or "")
        if first and last and company:
            for key in (fold(company), fold(company.rsplit(".", 1)[0] if "." in company else company)):
                hits = self.by_name_company.get((first, last, key))
                if hits:
                    # two colleagues of one name: the provider picks one, less sure of it
                    return self.persons[min(hits)], 7 if len(hits) == 1 else 4
        return None


class Emulator(LoopbackServer):
    """Both providers on one loopback port. Use as a context manager, or start()/stop()."""

    thread_name = "provider-emulator"

    def __init__(self, config: EmulatorConfig | None = None, port: int = 0) -> None:
        self.config = config or EmulatorConfig()
        self.truth = Truth(self.config.truth_dir)
        self.ledger = Ledger()
        self.credits_left = dict(self.config.credits)
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self._windows: dict[str, tuple[float, int]] = {}  # provider -> (window start, calls in it)
        super().__init__(_handler(self), port)

    # --------------------------------------------------------------- logic ----
    def faults_of(self, provider: str) -> Faults:
        return self.config.faults.get(provider) or Faults()

    def draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def happens(self, provider: str, fault: str, rate: float) -> bool:
        """Draw whether `fault` (at `rate`) happens to this call, and count it when it does."""
        if not rate:
            return False
        forced = self.faults_of(provider).each_at_least_once
        drawn = self.draw() < rate
        with self._lock:
            first = not any(n for (_p, seen), n in self.ledger.faults.items() if seen == fault)
            if not drawn and not (forced and first):
                return False
            self.ledger.faults[(provider, fault)] += 1
        return True

    def window(self, provider: str) -> dict[str, str] | Reply:
        """The fixed rate-limit window: its headers, or a 429 when this call is over the limit."""
        f = self.faults_of(provider)
        if not f.rate_limit_per_window:
            return {}
        with self._lock:
            now = time.time()
            start, calls = self._windows.get(provider, (now, 0))
            if now - start >= f.rate_limit_window_seconds:
                start, calls = now, 0
            calls += 1
            self._windows[provider] = (start, calls)
        left = max(0, f.rate_limit_per_window - calls)
        if provider == APOLLO:  # Apollo's per-minute counters, with no reset announced
            headers = {"x-rate-limit-minute": str(f.rate_limit_per_window), "x-minute-usage": str(calls),
                       "x-minute-requests-left": str(left)}
        else:
            headers = {"x-ratelimit-reset": str(int(start + f.rate_limit_window_seconds) + 1),
                       "x-ratelimit-remaining": str(left)}
        if calls > f.rate_limit_per_window:
            with self._lock:
                self.ledger.faults[(provider, "rate_limit_window")] += 1
            return Reply(429, headers, json.dumps(
                {"error": {"type": "rate_limit_error", "message": "rate limit exceeded"}}).encode())
        return headers

    def fault(self, provider: str) -> Reply | None:
        """An injected failure that happens before the provider processes the call."""
        f = self.faults_of(provider)
        if f.latency_ms:
            time.sleep(f.latency_ms / 1000)
        if self.happens(provider, "hang", f.hang_rate):
            return Reply(0, {}, b"", "hang")
        if self.happens(provider, "server_error", f.server_error_rate):
            status = (500, 502, 503)[int(self.draw() * 3)]
            return Reply(status, {}, json.dumps({"error": {"type": "server_error", "message": "try again"}}).encode())
        if self.happens(provider, "rate_limit", f.rate_limit_rate):
            return Reply(429, {"Retry-After": str(f.retry_after_seconds)}, json.dumps(
                {"error": {"type": "rate_limit", "message": "too many requests"}}).encode())
        return None

    def bill(self, provider: str, request_id: str | None) -> str:
        """'billed', 'repeat' (already billed for this id, and the provider is idempotent:
        free) or 'no_credits'."""
        with self._lock:
            ids = self.ledger.billed_ids[provider]
            if request_id and request_id in ids and self.config.idempotent:
                return "repeat"
            left = self.credits_left.get(provider)
            if left is not None and left <= 0:
                return "no_credits"
            if left is not None:
                self.credits_left[provider] = left - 1
            self.ledger.charged[provider] += 1
            if request_id:
                ids.add(request_id)
            return "billed"

    def known(self, provider: str, key: str) -> bool:
        return _share(f"{provider}:{key}") < self.config.match_rate.get(provider, DEFAULT_MATCH_RATE[provider])

    def person_item(self, request: dict) -> dict:
        params = request.get("params") or {}
        metadata = request.get("metadata") or {}
        found = self.truth.match_person(params)
        if found is None or not self.known(PERSON, found[0]["person_id"]):
            return {"status": 404, "metadata": metadata,
                    "error": {"type": "not_found", "message": "No records were found matching your request"}}
        person, likelihood = found
        try:
            wanted = int(params.get("min_likelihood") or 0)
        except (TypeError, ValueError):
            wanted = 0
        if likelihood < wanted:  # not likely enough for the client: not found, and free
            return {"status": 404, "metadata": metadata,
                    "error": {"type": "not_found", "message": "No records were found matching your request"}}
        billing = self.bill(PERSON, metadata.get("request_id"))
        if billing == "no_credits":
            return {"status": 402, "metadata": metadata,
                    "error": {"type": "payment_required", "message": "You have hit your account maximum"}}
        v2 = self.config.enum_version >= 2
        company = self.truth.companies[person["company_id"]]
        levels = PERSON_LEVELS_V2 if v2 else PERSON_LEVELS
        roles = PERSON_ROLES_V2 if v2 else PERSON_ROLES
        size = company["size_band"]
        return {"status": 200, "likelihood": likelihood, "metadata": metadata, "billed": billing == "billed",
                "data": {
                    "full_name": f"{person['first_name']} {person['last_name']}".lower(),
                    "job_title": person["job_title"].lower(),
                    "job_title_role": roles.get(person["department"]),
                    "job_title_levels": [levels[person["seniority"]]],
                    "job_company_name": company["name"].lower(),
                    "job_company_website": company["domain"],
                    "job_company_size": size.replace("10001+", "10000+") if v2 else size,
                    "job_company_employee_count": company["employee_count"],
                    "job_company_industry": PERSON_INDUSTRIES[company["industry"]],
                    "location_country": COUNTRY_NAMES.get(person["country_code"], person["country_code"]),
                    "location_locality": (person["city"] or "").lower(),
                    "job_last_verified": f"2026-{1 + int(_share(person['person_id']) * 10):02d}-01",
                }}

    def company_item(self, request: dict) -> dict:
        params = request.get("params") or {}
        metadata = request.get("metadata") or {}
        website = str(params.get("website") or "").strip().lower()
        website = website.removeprefix("https://").removeprefix("http://").removeprefix("www.").split("/")[0]
        company = self.truth.by_domain.get(website)
        if company is None or not self.known(COMPANY, company["company_id"]):
            return {"status": 404, "metadata": metadata,
                    "error": {"type": "not_found", "message": "No records were found matching your request"}}
        likelihood = 9
        try:
            wanted = int(params.get("min_likelihood") or 0)
        except (TypeError, ValueError):
            wanted = 0
        if likelihood < wanted:
            return {"status": 404, "metadata": metadata,
                    "error": {"type": "not_found", "message": "No records were found matching your request"}}
        billing = self.bill(COMPANY, metadata.get("request_id"))
        if billing == "no_credits":
            return {"status": 402, "metadata": metadata,
                    "error": {"type": "payment_required", "message": "You have hit your account maximum"}}
        revenue = COMPANY_REVENUE[company["revenue_range"]]
        return {"status": 200, "likelihood": likelihood, "metadata": metadata, "billed": billing == "billed",
                "id": hashlib.sha256(company["company_id"].encode()).hexdigest()[:16],
                "name": company["name"].lower(), "display_name": company["name"],
                "website": company["domain"], "size": company["size_band"],
                "employee_count": company["employee_count"],
                "industry": PERSON_INDUSTRIES[company["industry"]],
                "inferred_revenue": revenue[int(_share(company["company_id"]) * len(revenue))],
                "location": {"country": COUNTRY_NAMES.get(company["country_code"], company["country_code"])}}

    def apollo_item(self, detail: dict) -> dict | None:
        """A match (billed), or None: Apollo's null for a person it could not match."""
        params = {"email": detail.get("email"), "first_name": detail.get("first_name"),
                  "last_name": detail.get("last_name"),
                  "company": detail.get("domain") or detail.get("organization_name")}
        found = self.truth.match_person(params)
        if found is None or not self.known(APOLLO, found[0]["person_id"]):
            return None
        person = found[0]
        self.bill(APOLLO, None)
        company = self.truth.companies[person["company_id"]]
        return {"id": hashlib.sha256(person["person_id"].encode()).hexdigest()[:24],
                "first_name": person["first_name"], "last_name": person["last_name"],
                "name": f"{person['first_name']} {person['last_name']}", "title": person["job_title"],
                "seniority": APOLLO_SENIORITY[person["seniority"]],
                "departments": [APOLLO_DEPARTMENTS[person["department"]]] if person["department"] else [],
                "city": person["city"], "country": COUNTRY_NAMES.get(person["country_code"], "").title() or None,
                "email_status": "verified",
                "organization": {"name": company["name"], "primary_domain": company["domain"],
                                 "website_url": f"http://www.{company['domain']}",
                                 "estimated_num_employees": company["employee_count"],
                                 "industry": APOLLO_INDUSTRIES[company["industry"]]}}

    def handle(self, provider: str, headers: dict[str, str], body: bytes) -> Reply:
        if headers.get("x-api-key") != self.config.api_keys.get(provider):
            error = {"error": "Invalid access credentials.", "error_code": "INVALID_API_KEY"} if provider == APOLLO \
                else {"error": {"type": "authentication_error", "message": "Invalid or missing API key"}}
            return Reply(401, {}, json.dumps(error).encode())
        window = self.window(provider)
        if isinstance(window, Reply):
            return window
        injected = self.fault(provider)
        if injected:
            return injected
        try:
            payload = json.loads(body)
            items = payload["details"] if provider == APOLLO else payload["requests"]
            if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH[provider]:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            error = {"type": "invalid_request_error", "message": f"send 1-{MAX_BATCH[provider]} requests"}
            return Reply(422 if provider == APOLLO else 400, window, json.dumps({"error": error}).encode())
        with self._lock:
            left = self.credits_left.get(provider)
        # Apollo (assumed): a call that could need more credits than are left is refused whole
        if left is not None and (left <= 0 or (provider == APOLLO and left < len(items))):
            return Reply(402, window, json.dumps({"error": {"type": "payment_required",
                                                            "message": "You have no credits left"}}).encode())
        f = self.faults_of(provider)
        if len(items) > 1 and self.happens(provider, "partial", f.partial_rate):
            items = items[:max(1, int(len(items) * self.draw()))]
        junk = int(self.draw() * len(items)) if self.happens(provider, "junk_item", f.junk_item_rate) else None
        with self._lock:
            self.ledger.items[provider] += len(items)
            for item in items:
                # what the provider is asked about: a request id, a website, a person's e-mail or name
                subject = (item.get("metadata") or {}).get("request_id") if provider == PERSON \
                    else (item.get("params") or {}).get("website") if provider == COMPANY \
                    else item.get("email") or f"{item.get('first_name')} {item.get('last_name')}"
                self.ledger.asked[provider][str(subject)] += 1
        answer_of = {PERSON: self.person_item, COMPANY: self.company_item, APOLLO: self.apollo_item}[provider]
        answered = ["internal error" if i == junk else answer_of(item) for i, item in enumerate(items)]
        answer: Any = answered
        if provider == APOLLO:
            enriched = sum(1 for a in answered if isinstance(a, dict))
            answer = {"status": "success", "error_code": None, "error_message": None,
                      "total_requested_enrichments": len(answered), "unique_enriched_records": enriched,
                      "missing_records": len(answered) - enriched, "credits_consumed": enriched,
                      "matches": answered}
        text = json.dumps(answer).encode()
        if self.happens(provider, "slow", f.slow_rate):
            self.stopping.wait(f.slow_seconds)
        # the work is done and billed; the gateway in front gave up
        if self.happens(provider, "gateway", f.gateway_rate):
            return Reply(502, {"Content-Type": "text/html"},
                         b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
                         b"</h1></center><hr><center>nginx</center></body></html>")
        if self.happens(provider, "reset", f.reset_rate):
            return Reply(200, window, text, "reset")
        if self.happens(provider, "trickle", f.trickle_rate):
            return Reply(200, window, text, "trickle")
        if self.happens(provider, "malformed", f.malformed_rate):
            text = text[: max(1, len(text) // 2)]
        return Reply(200, window, text)


def _handler(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:  # request lines at debug, never bodies
            log.debug("emulator: " + fmt, *args)

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            if "Content-Type" not in headers:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                self.wfile.write(body)

        def _deliver(self, reply: Reply) -> None:
            if reply.delivery == "whole":
                self._send(reply.status, reply.headers, reply.body)
                return
            self.close_connection = True
            if reply.delivery == "hang":  # read, never answered: the client's deadline must end it
                emulator.stopping.wait(3600)
                return
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.end_headers()
            try:
                if reply.delivery == "reset":  # half the body, then a TCP reset
                    self.wfile.write(reply.body[: len(reply.body) // 2])
                    self.wfile.flush()
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                for i in range(len(reply.body)):  # trickle: one byte at a time, for as long as it takes
                    self.wfile.write(reply.body[i:i + 1])
                    self.wfile.flush()
                    if emulator.stopping.wait(emulator.faults_of(self._provider).trickle_seconds):
                        return
            except OSError:  # the client gave up
                pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/health":
                self._send(200, {}, b'{"status": "ok"}')
            elif self.path == "/_emulator/ledger":
                self._send(200, {}, json.dumps(emulator.ledger.as_dict()).encode())
            else:
                self._send(404, {}, b'{"error": {"type": "not_found"}}')

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            provider = PATHS.get(self.path.split("?")[0])
            if provider is None:
                self._send(404, {}, b'{"error": {"type": "not_found"}}')
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._provider = provider
            reply = emulator.handle(provider, headers, body)
            with emulator._lock:
                emulator.ledger.calls[provider] += 1
                emulator.ledger.statuses[(provider, reply.status)] += 1
            self._deliver(reply)

    return Handler
