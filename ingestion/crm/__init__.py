"""CRM sources by API: HubSpot CRM v3 contacts and Salesforce REST, through dlt's `rest_api`
source, into the same raw tables as the landing files (`raw_landing.contacts`,
`quarantined_rows`, `file_loads`).

Each CRM is a `rest_api` configuration (ingestion/crm/apis.py: endpoints, paging, the
incremental cursor, auth) whose pages go through one transformer here: a page of records is
mapped onto the canonical fields by the header aliases (as a file's columns are), rows
without identity are quarantined, addresses on the suppression list are dropped, and the
page gets a `file_loads` row of its own (`file_format` = `api`, the cursor range it covers
in `api_cursor`), so read = loaded + quarantined holds per page as per file. Every row's
lineage: `source_system` (the CRM), `_source_file` (`<crm>:<endpoint>`), its position in
the page, the cursor value it carries (`updated_at`), and the dlt load.

A night reads only what changed: the search (HubSpot) or query (Salesforce) asks for
records modified since the last cursor dlt committed, oldest first, and dlt's incremental
drops the records at the cursor it has already loaded, so each record version lands once.
The pages are committed in chunks (`pages_per_load`): a killed run resumes from the last
committed chunk's cursor. Deleted records are read too (HubSpot's archived contacts,
Salesforce's `queryAll` with `IsDeleted`), as versions with `deleted` = true.

Configured in `.dlt/config.toml` (`[sources.crm.hubspot]`, `[sources.crm.salesforce]`) and
`.dlt/secrets.toml`; a CRM without credentials is skipped, said in one line.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dlt
import pyarrow as pa

from ingestion.crm.apis import API_CLASSES, CrmApi, CrmConfig, Endpoint
from ingestion.landing import (
    CONTACTS_TABLE,
    FILE_LOADS_TABLE,
    QUARANTINE_TABLE,
    FileReport,
    account_mapped,
    build_file_load_table,
    build_quarantine_table,
    drop_suppressed,
    file_load_id,
    hinted,
)
from ingestion.landing.mapping import HeaderAliases, map_file
from ingestion.landing.readers import LINE_NUMBER, RAW_TEXT, ROW_NUMBER, ParsedFile

log = logging.getLogger(__name__)

CRM_NAMES = tuple(API_CLASSES)


def configured_crms() -> tuple[list[CrmConfig], list[str]]:
    """The CRMs with what they need to be read, and why each other one is skipped."""
    ready, skipped = [], []
    for name in CRM_NAMES:
        config = CrmConfig.from_config(name)
        missing = API_CLASSES[name].missing(config)
        if missing:
            skipped.append(f"{name} ({missing})")
        else:
            ready.append(config)
    return ready, skipped


@dataclass
class PageCounter:
    """What one extract of an endpoint read: the pages that came back (dlt's incremental may
    have emptied some), whether the API had more after the last, and the reports of the
    pages with rows."""

    has_next: Callable[[Any], bool]
    pages: int = 0
    more: bool = False
    reports: list[FileReport] = field(default_factory=list)

    def count(self, response: Any) -> None:
        """A response hook, called with every page's answer."""
        self.pages += 1
        try:
            self.more = self.has_next(response.json())
        except ValueError:   # not JSON: dlt raises on it next
            self.more = False


def page_to_parsed(records: list[dict[str, str | None]]) -> ParsedFile:
    """A page of flattened records as a parsed file: one text column per field, in the order
    the fields first appear, the record's own JSON as its raw text (for the quarantine)."""
    headers: list[str] = []
    for record in records:
        headers.extend(k for k in record if k not in headers)
    columns = {h: pa.array([r.get(h) for r in records], pa.string()) for h in headers}
    columns[ROW_NUMBER] = pa.array(range(1, len(records) + 1), pa.int64())
    columns[LINE_NUMBER] = pa.nulls(len(records), pa.int64())
    columns[RAW_TEXT] = pa.array([json.dumps(r, ensure_ascii=False) for r in records], pa.string())
    return ParsedFile(file_format="api", headers=headers, table=pa.table(columns))


def page_rows(api: CrmApi, endpoint: Endpoint, aliases: HeaderAliases, suppressed: set[str],
              loaded_at: datetime, counter: PageCounter) -> Callable[[list[dict]], Iterator[Any]]:
    """The transformer's body: one page of an endpoint's records -> raw table rows."""
    label = f"{api.name}:{endpoint.path}"

    def rows(page: list[dict]) -> Iterator[Any]:
        records = [api.flatten(item) for item in page]
        if not records:
            return
        body = json.dumps(page, sort_keys=True, ensure_ascii=False).encode()
        sha = hashlib.sha256(body).hexdigest()
        cursors = sorted(c for c in (r.get(endpoint.cursor_field) for r in records) if c)
        report = FileReport(file_load_id=file_load_id(label, sha), file_path=label, file_sha256=sha,
                            file_size_bytes=len(body), source_system=api.name, started_at=datetime.now(UTC),
                            # the page's own clock orders its records among the files (cluster naming)
                            file_modified_at=api.parse_cursor(cursors[-1]) if cursors else loaded_at,
                            api_cursor=json.dumps({"field": endpoint.cursor_field,
                                                   "from": cursors[0] if cursors else None,
                                                   "to": cursors[-1] if cursors else None}))
        parsed = page_to_parsed(records)
        mapped = map_file(parsed, aliases, api.name)
        report, contacts, quarantine = account_mapped(parsed, mapped, report, api.name, loaded_at)
        report.file_format = "api"
        contacts, dropped = drop_suppressed(contacts, report, suppressed)
        quarantine += dropped
        if contacts.num_rows:
            yield hinted(contacts, CONTACTS_TABLE)
        if quarantine:
            yield hinted(build_quarantine_table(quarantine, loaded_at), QUARANTINE_TABLE)
        yield hinted(build_file_load_table(report, loaded_at), FILE_LOADS_TABLE)
        counter.reports.append(report)

    return rows


def crm_source(api: CrmApi, endpoint: Endpoint, aliases: HeaderAliases, suppressed: set[str],
               loaded_at: datetime, counter: PageCounter, max_pages: int | None) -> Any:
    """One endpoint of one CRM as a dlt source (its own name, so its cursor is its own state)."""

    @dlt.source(name=f"crm_{api.name}", max_table_nesting=0)
    def source() -> Any:
        pages = api.resource(endpoint, counter.count)
        if max_pages is not None:
            pages.add_limit(max_pages)
        transformer = dlt.transformer(page_rows(api, endpoint, aliases, suppressed, loaded_at, counter),
                                      name=f"{endpoint.name}_rows")
        return pages | transformer

    return source()


__all__ = ["CRM_NAMES", "PageCounter", "configured_crms", "crm_source"]
