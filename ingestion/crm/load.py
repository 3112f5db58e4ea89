"""Read every configured CRM's changes into the raw tables, in committed chunks.

Called by the load step (ingestion/landing/load.py) after the landing files, through the
same dlt pipeline, so a package a killed run left is loaded by the next run before
anything is read. Per CRM and endpoint: extract up to `pages_per_load` pages of new
records, normalise, load (the chunk's rows and its cursor commit together), and again
until the API has no more. A CRM that fails (a refused token, an error that outlasts
dlt's retries) keeps the chunks it committed, is reported with the reason, and the other
CRMs go on; the next run resumes from its last committed cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import dlt
import requests

from ingestion.crm import PageCounter, configured_crms, crm_source
from ingestion.crm.apis import API_CLASSES, CrmApi, Endpoint
from ingestion.faults import checkpoint
from ingestion.landing import FileReport
from ingestion.landing.mapping import HeaderAliases

log = logging.getLogger(__name__)


class StuckCursor(RuntimeError):
    pass


@dataclass
class CrmPull:
    """What one CRM gave this run."""

    crm: str
    pages: int = 0
    chunks: int = 0
    reports: list[FileReport] = field(default_factory=list)   # one per page with records, loaded
    error: str | None = None

    @property
    def rows_read(self) -> int:
        return sum(r.rows_read for r in self.reports)

    @property
    def rows_loaded(self) -> int:
        return sum(r.rows_loaded for r in self.reports)

    @property
    def rows_quarantined(self) -> int:
        return sum(r.rows_quarantined for r in self.reports)


def describe_failure(exc: BaseException, secrets: list[str]) -> str:
    """What went wrong, for the log and the run record: the HTTP status and path when the
    API refused, never a secret (dlt's messages can carry a URL; keys travel in headers)."""
    seen, cause = set(), exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, requests.HTTPError) and cause.response is not None:
            response = cause.response
            path = requests.utils.urlparse(response.url).path
            text = f"HTTP {response.status_code} from {path}: {response.text[:200]}"
            break
        if isinstance(cause, requests.RequestException):
            text = f"{type(cause).__name__}: the API could not be reached"
            break
        cause = cause.__cause__ or cause.__context__
    else:
        text = f"{type(exc).__name__}: {exc}"
    for secret in secrets:
        text = text.replace(secret, "***")
    return text.replace("\n", " ")[:400]


def _extract_and_load(pipeline: dlt.Pipeline, api: CrmApi, endpoint: Endpoint, aliases: HeaderAliases,
                      suppressed: set[str], loaded_at: datetime, file_format: str | None, limit: int | None,
                      pull: CrmPull, before_load: Callable[[int], None] | None) -> PageCounter:
    """One chunk: up to `limit` pages extracted, then loaded with the cursor they moved."""
    counter = PageCounter(api.has_next)
    pipeline.extract(crm_source(api, endpoint, aliases, suppressed, loaded_at, counter, limit),
                     loader_file_format=file_format)
    pipeline.normalize()
    rows = sum(r.rows_read for r in counter.reports)
    if rows and before_load is not None:
        before_load(rows)
    checkpoint("crm")  # fault injection for the recovery tests; see ingestion/faults.py
    pipeline.load()
    pull.pages += counter.pages
    pull.chunks += 1
    pull.reports += counter.reports
    return counter


def changed_in_crms(pipeline: dlt.Pipeline, aliases: HeaderAliases) -> tuple[int, list[str]]:
    """How many records the configured CRMs changed since each one's committed cursor (what
    the next night would read; deletions are not counted), and the CRMs that could not be
    asked (with why, never a secret). For a night that waits for enough new rows."""
    sources = pipeline.state.get("sources", {})
    changed, uncounted = 0, []
    for config in configured_crms()[0]:
        api = API_CLASSES[config.name](config, aliases)
        endpoint = next(e for e in api.endpoints() if e.chunked)
        cursor = (sources.get(f"crm_{config.name}", {}).get("resources", {}).get(endpoint.name, {})
                  .get("incremental", {}).get(api.cursor_path, {}).get("last_value"))
        try:
            changed += api.count_changed(cursor)
        except Exception as exc:  # noqa: BLE001 - an API that cannot be asked: the night will say why
            uncounted.append(f"{config.name} ({describe_failure(exc, config.secrets())})")
    return changed, uncounted


def pull_crms(pipeline: dlt.Pipeline, aliases: HeaderAliases, suppressed: set[str], loaded_at: datetime,
              file_format: str | None, before_load: Callable[[int], None] | None = None
              ) -> tuple[list[CrmPull], list[str]]:
    """Every configured CRM read and loaded; the pulls, and the CRMs skipped (with why).
    `before_load` is called with the rows of each chunk before the chunk is loaded."""
    configs, skipped = configured_crms()
    pulls = []
    for config in configs:
        api = API_CLASSES[config.name](config, aliases)
        pull = CrmPull(config.name)
        pulls.append(pull)
        try:
            for endpoint in api.endpoints():
                limit = api.pages_per_load if endpoint.chunked else None
                while True:
                    counter = _extract_and_load(pipeline, api, endpoint, aliases, suppressed, loaded_at,
                                                file_format, limit, pull, before_load)
                    if limit is None or not counter.more:
                        break
                    if not counter.reports:
                        # a chunk is `limit` pages of new records (dlt's incremental drops the ones
                        # loaded before, and the limit counts the others), so a chunk with none though
                        # the API has more is a search stopped at its last reachable page: more
                        # records than a search can page through share the cursor's value
                        raise StuckCursor(f"{config.name}: more records than one search can page through "
                                          f"share one {endpoint.cursor_field} value; the cursor cannot move "
                                          "past them")
        except Exception as exc:  # noqa: BLE001 - one CRM's failure must not stop the others
            pull.error = describe_failure(exc, config.secrets())
            log.error("CRM %s: reading stopped, %s (what was committed stays; the next run resumes there)",
                      config.name, pull.error)
        log.info("CRM %s: %d page(s) in %d chunk(s), %d read, %d loaded, %d quarantined", config.name,
                 pull.pages, pull.chunks, pull.rows_read, pull.rows_loaded, pull.rows_quarantined)
    return pulls, skipped
