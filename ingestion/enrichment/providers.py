"""Provider configuration and the two API shapes the loader speaks.

Configuration comes from dlt's config providers, so environment variables override
`.dlt/secrets.toml`, which overrides `.dlt/config.toml`:

    [sources.enrichment]                      # the night
    max_credits = 10000                       # never billed more per night, retries and reruns included (0: no limit)
    max_calls = 2000                          # never more HTTP calls per run (0: no limit)
    max_seconds = 7200                        # the enrichment step's deadline (0: none)

    [sources.enrichment.providers.person]     # one section per row of the enrichment_providers seed
    base_url = "https://api.peopledatalabs.com"
    batch_size = 100                          # requests per call (the API's maximum is 100)
    concurrency = 4                           # calls in flight at once
    timeout_seconds = 30                      # per call, wall clock: connect, headers and body together
    max_seconds = 0                           # this provider's share of a run (0: only the step's deadline)
    max_retries = 5                           # per batch: 5xx, timeouts, resets, malformed bodies
    backoff_seconds = 0.5                     # first retry waits up to this (exponential, full jitter)
    max_backoff_seconds = 30
    breaker_failures = 10                     # consecutive failed calls that stop the provider for the run
    rate_limit_reset_header = "x-ratelimit-reset"          # when the window resets (seconds, epoch, date)
    rate_limit_remaining_header = "x-ratelimit-remaining"  # 0: every worker waits for the reset
    max_rate_limit_waits = 30                 # 429s per batch waited out (they are not failures)
    max_rate_limit_wait_seconds = 300         # a longer window stops the provider for the run
    send_min_likelihood = true                # ask for enrichment_min_likelihood (dbt var): no bill for less

The API key is a secret: `api_key` in `.dlt/secrets.toml` under the same section, or
`SOURCES__ENRICHMENT__PROVIDERS__PERSON__API_KEY`. It is held in a `Secret`, which prints
as `***`, and it is only ever put in a request header.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import dlt
import yaml

from ingestion.settings import REPO_ROOT, Secret

PERSON = "person"
COMPANY = "company"
FIELDS = ("job_title", "seniority", "company_size", "industry")


def _setting(key: str, default: Any) -> Any:
    value = dlt.config.get(key)
    if value is None or value == "":
        return default
    return type(default)(value) if default is not None and not isinstance(default, bool) else value


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass
class RunLimits:
    max_credits: int = 0
    max_calls: int = 0
    flush_seconds: float = 5.0
    max_seconds: float = 7200.0

    @classmethod
    def from_config(cls) -> RunLimits:
        return cls(max_credits=_setting("sources.enrichment.max_credits", 0),
                   max_calls=_setting("sources.enrichment.max_calls", 0),
                   flush_seconds=_setting("sources.enrichment.flush_seconds", 5.0),
                   max_seconds=_setting("sources.enrichment.max_seconds", 7200.0))


def project_min_likelihood() -> int:
    """The dbt var enrichment_min_likelihood: answers less likely are ignored by the models."""
    project = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text(encoding="utf-8"))
    return int((project.get("vars") or {}).get("enrichment_min_likelihood", 0))


@dataclass
class ProviderConfig:
    name: str
    kind: str
    rank: int
    base_url: str
    api_key: Secret
    batch_size: int = 100
    concurrency: int = 4
    timeout_seconds: float = 30.0
    max_retries: int = 5
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    breaker_failures: int = 10
    max_seconds: float = 0.0
    rate_limit_reset_header: str = "x-ratelimit-reset"
    rate_limit_remaining_header: str = "x-ratelimit-remaining"
    max_rate_limit_waits: int = 30
    max_rate_limit_wait_seconds: float = 300.0
    min_likelihood: int = 0          # sent to the provider when it takes one (0: not sent)

    @classmethod
    def from_config(cls, name: str, kind: str, rank: int) -> ProviderConfig:
        section = f"sources.enrichment.providers.{name}"
        api = API_SHAPES[kind]

        def get(key: str, default: Any) -> Any:
            return _setting(f"{section}.{key}", default)

        return cls(name=name, kind=kind, rank=rank, base_url=str(get("base_url", "")).rstrip("/"),
                   api_key=Secret(dlt.secrets.get(f"{section}.api_key")),
                   batch_size=min(get("batch_size", api.max_batch), api.max_batch),
                   concurrency=max(1, get("concurrency", 4)),
                   timeout_seconds=get("timeout_seconds", 30.0), max_retries=get("max_retries", 5),
                   backoff_seconds=get("backoff_seconds", 0.5),
                   max_backoff_seconds=get("max_backoff_seconds", 30.0),
                   breaker_failures=get("breaker_failures", 10), max_seconds=get("max_seconds", 0.0),
                   rate_limit_reset_header=get("rate_limit_reset_header", "x-ratelimit-reset").lower(),
                   rate_limit_remaining_header=get("rate_limit_remaining_header", "x-ratelimit-remaining").lower(),
                   max_rate_limit_waits=get("max_rate_limit_waits", 30),
                   max_rate_limit_wait_seconds=get("max_rate_limit_wait_seconds", 300.0),
                   min_likelihood=project_min_likelihood() if _flag(get("send_min_likelihood", True)) else 0)

    @property
    def api(self) -> ApiShape:
        return API_SHAPES[self.kind]


@dataclass
class Request:
    """One row of enriched.enrichment_requests."""

    request_id: str
    provider: str
    provider_kind: str
    waterfall_rank: int
    subject_key: str
    contact_id: str | None
    company_domain: str | None
    lookup_email: str | None
    lookup_first_name: str | None
    lookup_last_name: str | None
    lookup_company: str | None
    wants: frozenset[str]
    lost_answers: int = 0        # earlier calls that may have been billed but whose answer was lost
    attempts: int = 0


@dataclass
class ItemAnswer:
    status: int                  # 200 matched, 404 not found, 402 out of credits, other: error
    likelihood: int | None
    billed: bool
    payload: dict


class ApiShape:
    """How one kind of provider is called and how its answers read."""

    path = ""
    max_batch = 100

    def headers(self, key: Secret) -> dict[str, str]:
        raise NotImplementedError

    def body(self, batch: list[Request], min_likelihood: int = 0) -> bytes:
        raise NotImplementedError

    def answers(self, parsed: Any) -> dict[str, ItemAnswer]:
        """request id -> answer, for the items the provider answered."""
        raise NotImplementedError

    def supplied(self, answer: ItemAnswer) -> tuple[set[str], str | None]:
        """The target fields a matched answer supplies, and the company domain they belong to."""
        raise NotImplementedError


class PersonBulkApi(ApiShape):
    """People Data Labs' bulk person enrichment: POST /v5/person/bulk, an array back in order."""

    path = "/v5/person/bulk"
    max_batch = 100

    def headers(self, key: Secret) -> dict[str, str]:
        return {"X-Api-Key": key.reveal(), "Content-Type": "application/json"}

    def body(self, batch: list[Request], min_likelihood: int = 0) -> bytes:
        requests = []
        for r in batch:
            params = {k: v for k, v in (("email", r.lookup_email), ("first_name", r.lookup_first_name),
                                        ("last_name", r.lookup_last_name), ("company", r.lookup_company)) if v}
            if min_likelihood:  # the provider neither answers nor bills a match less likely than this
                params["min_likelihood"] = min_likelihood
            requests.append({"params": params, "metadata": {"request_id": r.request_id}})
        return json.dumps({"requests": requests}).encode()

    def answers(self, parsed: Any) -> dict[str, ItemAnswer]:
        """Items that are not objects, or carry no request id or no numeric status, are
        left out: their requests count as unanswered and are asked again."""
        if not isinstance(parsed, list):
            raise ValueError("expected a JSON array")
        out = {}
        for item in parsed:
            if not isinstance(item, dict) or not isinstance(item.get("metadata"), dict):
                continue
            request_id = item["metadata"].get("request_id")
            status = item.get("status")
            if not isinstance(request_id, str) or not isinstance(status, int) or isinstance(status, bool):
                continue
            likelihood = item.get("likelihood")
            out[request_id] = ItemAnswer(status, likelihood if isinstance(likelihood, int) else None,
                                         bool(item.get("billed", status == 200)), item)
        return out

    def supplied(self, answer: ItemAnswer) -> tuple[set[str], str | None]:
        data = answer.payload.get("data") or {}
        fields = set()
        if data.get("job_title"):
            fields.add("job_title")
        if data.get("job_title_levels"):
            fields.add("seniority")
        if data.get("job_company_size") or data.get("job_company_employee_count"):
            fields.add("company_size")
        if data.get("job_company_industry"):
            fields.add("industry")
        return fields, (data.get("job_company_website") or None)


class CompanyLookupApi(ApiShape):
    """Domain firmographics: POST /v1/companies/lookup, {"results": [...]} back."""

    path = "/v1/companies/lookup"
    max_batch = 25

    def headers(self, key: Secret) -> dict[str, str]:
        return {"Authorization": f"Bearer {key.reveal()}", "Content-Type": "application/json"}

    def body(self, batch: list[Request], min_likelihood: int = 0) -> bytes:
        return json.dumps({"lookups": [{"domain": r.lookup_company, "request_id": r.request_id}
                                       for r in batch]}).encode()

    def answers(self, parsed: Any) -> dict[str, ItemAnswer]:
        results = parsed.get("results") if isinstance(parsed, dict) else None
        if not isinstance(results, list):
            raise ValueError("expected {'results': [...]}")
        out = {}
        for item in results:
            request_id = item.get("request_id") if isinstance(item, dict) else None
            if isinstance(request_id, str):
                found = item.get("found")
                status = 200 if found is True else 404 if found is False else 402
                out[request_id] = ItemAnswer(status, None, bool(item.get("billed", status == 200)), item)
        return out

    def supplied(self, answer: ItemAnswer) -> tuple[set[str], str | None]:
        company = answer.payload.get("company") or {}
        fields = set()
        if (company.get("metrics") or {}).get("employees"):
            fields.add("company_size")
        if (company.get("category") or {}).get("industry"):
            fields.add("industry")
        return fields, answer.payload.get("domain")


API_SHAPES: dict[str, ApiShape] = {PERSON: PersonBulkApi(), COMPANY: CompanyLookupApi()}
