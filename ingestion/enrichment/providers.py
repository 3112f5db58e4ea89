"""Provider configuration and the vendor APIs the loader speaks.

Each row of the `enrichment_providers` seed names a provider, its kind (person: asked per
contact; company: asked per company domain) and its `api`, one of `API_SHAPES`:

| api                       | vendor           | call                               | per call |
|---------------------------|------------------|------------------------------------|----------|
| `pdl_person_bulk`         | People Data Labs | POST /v5/person/bulk               | 1-100    |
| `pdl_company_bulk`        | People Data Labs | POST /v5/company/enrich/bulk       | 1-100    |
| `apollo_people_bulk_match`| Apollo           | POST /api/v1/people/bulk_match     | 1-10     |

Configuration comes from dlt's config providers, so environment variables override
`.dlt/secrets.toml`, which overrides `.dlt/config.toml`:

    [sources.enrichment]                      # the night
    max_credits = 10000                       # never billed more per night, retries and reruns included (0: no limit)
    max_calls = 2000                          # never more HTTP calls per run (0: no limit)
    max_seconds = 7200                        # the enrichment step's deadline (0: none)

    [sources.enrichment.providers.person]     # one section per row of the enrichment_providers seed
    base_url = "https://api.peopledatalabs.com"
    batch_size = 50                           # requests per call (capped at the API's maximum)
    concurrency = 4                           # calls in flight at once
    timeout_seconds = 30                      # per call, wall clock: connect, headers and body together
    max_seconds = 0                           # this provider's share of a run (0: only the step's deadline)
    max_retries = 5                           # per batch: 5xx before any work, timeouts before sending, resets
    retry_lost_answers = false                # ask again in the same run after an answer that may have been billed
    backoff_seconds = 0.5                     # first retry waits up to this (exponential, full jitter)
    max_backoff_seconds = 30
    breaker_failures = 10                     # consecutive failed calls that stop the provider for the run
    rate_limit_reset_header = "x-ratelimit-reset"          # when the window resets (seconds, epoch, date)
    rate_limit_remaining_header = "x-ratelimit-remaining"  # 0: every worker waits for the reset
    rate_limit_window_seconds = 0             # a window with no reset header lasts this long (Apollo: 60)
    max_rate_limit_waits = 30                 # 429s per batch waited out (they are not failures)
    max_rate_limit_wait_seconds = 300         # a longer window stops the provider for the run
    send_min_likelihood = true                # ask for enrichment_min_likelihood (dbt var): no bill for less

The defaults of `batch_size` and the rate-limit headers are the API's (ApiShape). The API
key is a secret: `api_key` in `.dlt/secrets.toml` under the same section, or
`SOURCES__ENRICHMENT__PROVIDERS__PERSON__API_KEY`. It is held in a `Secret`, which prints
as `***`, and it is only ever put in a request header.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import dlt
import yaml

from ingestion.settings import REPO_ROOT, Secret, config_value

PERSON = "person"
COMPANY = "company"
FIELDS = ("job_title", "seniority", "company_size", "industry")


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
        return cls(max_credits=config_value("sources.enrichment.max_credits", 0),
                   max_calls=config_value("sources.enrichment.max_calls", 0),
                   flush_seconds=config_value("sources.enrichment.flush_seconds", 5.0),
                   max_seconds=config_value("sources.enrichment.max_seconds", 7200.0))


def project_min_likelihood() -> int:
    """The dbt var enrichment_min_likelihood: answers less likely are ignored by the models."""
    project = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text(encoding="utf-8"))
    return int((project.get("vars") or {}).get("enrichment_min_likelihood", 0))


class UnknownApi(ValueError):
    pass


@dataclass
class ProviderConfig:
    name: str
    kind: str
    rank: int
    base_url: str
    api_key: Secret
    api_name: str = "pdl_person_bulk"
    batch_size: int = 50
    concurrency: int = 4
    timeout_seconds: float = 30.0
    max_retries: int = 5
    retry_lost_answers: bool = False
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    breaker_failures: int = 10
    max_seconds: float = 0.0
    rate_limit_reset_header: str = "x-ratelimit-reset"
    rate_limit_remaining_header: str = "x-ratelimit-remaining"
    rate_limit_window_seconds: float = 0.0
    max_rate_limit_waits: int = 30
    max_rate_limit_wait_seconds: float = 300.0
    min_likelihood: int = 0          # sent to the provider when it takes one (0: not sent)

    @classmethod
    def from_config(cls, name: str, kind: str, rank: int, api_name: str) -> ProviderConfig:
        """Raises UnknownApi when the seed names an API the loader does not speak, or one of another kind."""
        api = API_SHAPES.get(api_name)
        if api is None:
            raise UnknownApi(f"api {api_name!r} is not one the loader speaks ({', '.join(sorted(API_SHAPES))})")
        if api.kind != kind:
            raise UnknownApi(f"api {api_name!r} answers {api.kind} requests, the seed says {kind}")
        section = f"sources.enrichment.providers.{name}"

        def get(key: str, default: Any) -> Any:
            return config_value(f"{section}.{key}", default)

        return cls(name=name, kind=kind, rank=rank, api_name=api_name,
                   base_url=str(get("base_url", "")).rstrip("/"),
                   api_key=Secret(dlt.secrets.get(f"{section}.api_key")),
                   batch_size=max(1, min(get("batch_size", api.default_batch), api.max_batch)),
                   concurrency=max(1, get("concurrency", 4)),
                   timeout_seconds=get("timeout_seconds", 30.0), max_retries=get("max_retries", 5),
                   retry_lost_answers=_flag(get("retry_lost_answers", False)),
                   backoff_seconds=get("backoff_seconds", 0.5),
                   max_backoff_seconds=get("max_backoff_seconds", 30.0),
                   breaker_failures=get("breaker_failures", 10), max_seconds=get("max_seconds", 0.0),
                   rate_limit_reset_header=get("rate_limit_reset_header", api.reset_header).lower(),
                   rate_limit_remaining_header=get("rate_limit_remaining_header", api.remaining_header).lower(),
                   rate_limit_window_seconds=get("rate_limit_window_seconds", api.window_seconds),
                   max_rate_limit_waits=get("max_rate_limit_waits", 30),
                   max_rate_limit_wait_seconds=get("max_rate_limit_wait_seconds", 300.0),
                   min_likelihood=project_min_likelihood()
                   if api.takes_min_likelihood and _flag(get("send_min_likelihood", True)) else 0)

    @property
    def api(self) -> ApiShape:
        return API_SHAPES[self.api_name]


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
    """How one vendor API is called, how its answers read and what it bills."""

    kind = PERSON
    path = ""
    max_batch = 100
    default_batch = 50            # a lost answer may be billed again when asked again: keep batches small
    takes_min_likelihood = False
    reset_header = "x-ratelimit-reset"
    remaining_header = "x-ratelimit-remaining"
    window_seconds = 0.0          # a rate-limit window that announces no reset (0: none known)

    def headers(self, key: Secret) -> dict[str, str]:
        return {"X-Api-Key": key.reveal(), "Content-Type": "application/json"}

    def body(self, batch: list[Request], min_likelihood: int = 0) -> bytes:
        raise NotImplementedError

    def answers(self, parsed: Any, batch: list[Request]) -> dict[str, ItemAnswer]:
        """request id -> answer, for the items the provider answered; raises ValueError when
        the body is not the API's shape (the call's answer is then lost)."""
        raise NotImplementedError

    def supplied(self, answer: ItemAnswer) -> tuple[set[str], str | None]:
        """The target fields a matched answer supplies, and the company domain they belong to."""
        raise NotImplementedError


def _fields(job_title: Any, seniority: Any, size: Any, industry: Any) -> set[str]:
    return {f for f, v in (("job_title", job_title), ("seniority", seniority), ("company_size", size),
                           ("industry", industry)) if v}


class PdlBulkApi(ApiShape):
    """People Data Labs' bulk enrichment: {"requests": [{"params", "metadata"}]}, an array back
    in order, each item with `status` (200, 404, 402...), `likelihood` and the metadata echoed.
    PDL bills every 200 item, every time it is asked (no idempotency key)."""

    max_batch = 100
    takes_min_likelihood = True

    def params(self, request: Request) -> dict[str, Any]:
        raise NotImplementedError

    def body(self, batch: list[Request], min_likelihood: int = 0) -> bytes:
        requests = []
        for r in batch:
            params = self.params(r)
            if min_likelihood:  # the provider neither answers nor bills a match less likely than this
                params["min_likelihood"] = min_likelihood
            requests.append({"params": params, "metadata": {"request_id": r.request_id}})
        return json.dumps({"requests": requests}).encode()

    def answers(self, parsed: Any, batch: list[Request]) -> dict[str, ItemAnswer]:
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


class PdlPersonBulkApi(PdlBulkApi):
    """POST /v5/person/bulk: the person's fields under `data`."""

    path = "/v5/person/bulk"

    def params(self, request: Request) -> dict[str, Any]:
        return {k: v for k, v in (("email", request.lookup_email), ("first_name", request.lookup_first_name),
                                  ("last_name", request.lookup_last_name), ("company", request.lookup_company)) if v}

    def supplied(self, answer: ItemAnswer) -> tuple[set[str], str | None]:
        data = answer.payload.get("data") or {}
        return (_fields(data.get("job_title"), data.get("job_title_levels"),
                        data.get("job_company_size") or data.get("job_company_employee_count"),
                        data.get("job_company_industry")),
                data.get("job_company_website") or None)


class PdlCompanyBulkApi(PdlBulkApi):
    """POST /v5/company/enrich/bulk, asked by website: the company's fields at the top level
    of each item (`name`, `website`, `size`, `employee_count`, `industry`, `inferred_revenue`)."""

    kind = COMPANY
    path = "/v5/company/enrich/bulk"

    def params(self, request: Request) -> dict[str, Any]:
        return {"website": request.lookup_company}

    def supplied(self, answer: ItemAnswer) -> tuple[set[str], str | None]:
        item = answer.payload
        return (_fields(None, None, item.get("size") or item.get("employee_count"), item.get("industry")),
                item.get("website") or None)


class ApolloBulkMatchApi(ApiShape):
    """Apollo's bulk people enrichment: {"details": [...]} (1-10), {"matches": [...]} back in
    the order of `details`, null for a person Apollo could not match. No likelihood and no
    request id in the answer: a `matches` array of another length than the call's cannot be
    lined up and is read as a lost answer. Apollo bills one credit per person enriched with
    demographics (more only for revealed e-mails or phones, which are never asked for), again
    every time it is asked; its limits are per minute, and its rate-limit headers announce no
    reset."""

    path = "/api/v1/people/bulk_match"
    max_batch = 10
    default_batch = 10
    reset_header = ""
    remaining_header = "x-minute-requests-left"
    window_seconds = 60.0

    def body(self, batch: list[Request], min_likelihood: int = 0) -> bytes:
        details = []
        for r in batch:
            company = ("domain", r.company_domain) if r.company_domain else ("organization_name", r.lookup_company)
            details.append({k: v for k, v in (("email", r.lookup_email), ("first_name", r.lookup_first_name),
                                              ("last_name", r.lookup_last_name), company) if v})
        return json.dumps({"details": details, "reveal_personal_emails": False,
                           "reveal_phone_number": False}).encode()

    def answers(self, parsed: Any, batch: list[Request]) -> dict[str, ItemAnswer]:
        matches = parsed.get("matches") if isinstance(parsed, dict) else None
        if not isinstance(matches, list) or len(matches) != len(batch):
            raise ValueError("expected {'matches': [...]}, one per person asked")
        out = {}
        for request, match in zip(batch, matches, strict=True):
            if match is None:
                out[request.request_id] = ItemAnswer(404, None, False, {})
            elif isinstance(match, dict):
                out[request.request_id] = ItemAnswer(200, None, True, match)
            # anything else is unreadable: that request counts as unanswered and is asked again
        return out

    def supplied(self, answer: ItemAnswer) -> tuple[set[str], str | None]:
        person = answer.payload
        organization = person.get("organization") if isinstance(person.get("organization"), dict) else {}
        return (_fields(person.get("title"), person.get("seniority"), organization.get("estimated_num_employees"),
                        organization.get("industry")),
                organization.get("primary_domain") or None)


API_SHAPES: dict[str, ApiShape] = {"pdl_person_bulk": PdlPersonBulkApi(), "pdl_company_bulk": PdlCompanyBulkApi(),
                                   "apollo_people_bulk_match": ApolloBulkMatchApi()}
