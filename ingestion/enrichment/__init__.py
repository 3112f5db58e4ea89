"""The enrichment source: what the providers answered, raw and complete, in
`raw_enrichment.provider_responses` (one row per request sent and per outcome, appended).

Shaped like dlt's verified sources: the resource is here, the helpers beside it:
`providers.py` (each provider's configuration, request and answer shapes), `http.py` (calls
with a wall-clock deadline), `ledger.py` (what each night may have been billed) and
`loader.py` (asking the providers what `enriched.enrichment_requests` lists, in waterfall
order, within the budget, and loading the answers through this resource).
"""

from __future__ import annotations

from collections.abc import Iterator

import dlt
import pyarrow as pa

PIPELINE_NAME = "contacts_enrichment"
DATASET_NAME = "raw_enrichment"
RESPONSES_TABLE = "provider_responses"
UTC_TS = pa.timestamp("us", tz="UTC")
RESPONSES_SCHEMA = pa.schema([
    pa.field("request_id", pa.string(), nullable=False),
    pa.field("provider", pa.string(), nullable=False),
    pa.field("provider_kind", pa.string(), nullable=False),
    pa.field("api", pa.string()),           # the vendor API asked (enrichment_providers.api)
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


@dlt.resource(name=RESPONSES_TABLE, write_disposition="append")
def provider_responses(rows: list[dict]) -> Iterator[pa.Table]:
    """Response rows (RESPONSES_SCHEMA's columns), as one Arrow table: the raw answers keep
    their JSON payload as text, for the staging model to read."""
    yield pa.Table.from_pylist(rows, schema=RESPONSES_SCHEMA)
