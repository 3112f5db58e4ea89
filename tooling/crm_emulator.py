"""A local emulator of two CRMs' contact APIs: a real HTTP server on 127.0.0.1.

The tests start it to run the CRM sources (ingestion/crm) against the shapes the vendors
document, offline. It holds its contacts in memory; a test adds, changes, archives or
deletes them between nights.

**HubSpot CRM v3** (private-app token as `Authorization: Bearer <token>`):
- `POST /crm/v3/objects/contacts/search`, body `{"filterGroups": [{"filters": [{"propertyName":
  "lastmodifieddate", "operator": "GTE", "value": "<epoch ms>"}]}], "sorts": [{"propertyName":
  "lastmodifieddate", "direction": "ASCENDING"}], "properties": [...], "limit": <=200, "after":
  "<cursor>"}`. The answer is `{"total", "results": [{"id", "properties", "createdAt",
  "updatedAt", "archived": false}], "paging": {"next": {"after"}}}`; archived contacts are
  not searched; paging past 10,000 results is a 400, as HubSpot documents. Values of
  `lastmodifieddate` are ISO 8601 with milliseconds; requested properties the account does not
  have are left out of `properties`.
- `GET /crm/v3/objects/contacts?archived=true&limit=&after=&properties=a,b`: the archived
  (deleted) contacts, each with `archived: true` and `archivedAt`.

**Salesforce REST** (`Authorization: Bearer <access token>`; or `POST
/services/oauth2/token` with `grant_type=client_credentials`, `client_id`, `client_secret`):
`GET /services/data/<version>/query?q=<SOQL>` and `/queryAll` (which also returns deleted
records, `IsDeleted = true`). The SOQL it understands is what the source sends:
`SELECT <fields> FROM Contact [WHERE SystemModstamp >= <datetime> [AND SystemModstamp <
<datetime>]] ORDER BY SystemModstamp ASC`, and `SELECT COUNT() FROM Contact WHERE ...`
(the poll's count); a field the Contact object does not have is a 400 `INVALID_FIELD`.
Answers hold
`{"totalSize", "done", "nextRecordsUrl", "records": [{"attributes": {...}, "Id", ...,
"Account": {"Name"}}]}`, `batch_size` records a page (Salesforce's default is 2,000; the
`Sforce-Query-Options: batchSize=N` header lowers it).

**Faults**: `inject(api, *statuses)` answers the next calls to that API (`hubspot` or
`salesforce`) with these statuses first, `inject_at(api, n, *statuses)` its n-th call
and those after it (429 with `Retry-After: retry_after_seconds`, 5xx
with an error body); `rate_limit_every` answers every Nth call with a 429. `calls` lists
every call (api, path, status, monotonic time), and `cursors` the "modified since" each
query started from, for the tests to check paging, waits and where a night resumed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from tooling.loopback import LoopbackServer

log = logging.getLogger(__name__)

HUBSPOT = "hubspot"
SALESFORCE = "salesforce"
DEFAULT_TOKENS = {HUBSPOT: "emulator-hubspot-token", SALESFORCE: "emulator-salesforce-token"}
SALESFORCE_CLIENT = ("emulator-client-id", "emulator-client-secret")
SEARCH_PATH = "/crm/v3/objects/contacts/search"
LIST_PATH = "/crm/v3/objects/contacts"
HUBSPOT_MAX_PAGE = 200
HUBSPOT_MAX_RESULTS = 10_000
# the properties a HubSpot account has (the standard contact properties, and one custom)
HUBSPOT_PROPERTIES = {"firstname", "lastname", "email", "phone", "mobilephone", "company", "website", "jobtitle",
                      "address", "city", "state", "zip", "country", "salutation", "date_of_birth",
                      "hs_email_optout", "lastmodifieddate", "createdate", "hs_object_id", "lifecyclestage",
                      "favourite_colour"}
HUBSPOT_DEFAULT_PROPERTIES = ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"]
# the Contact fields a Salesforce org has (standard ones), and its relationship to Account
SALESFORCE_FIELDS = {"Id", "Salutation", "FirstName", "LastName", "Name", "Email", "Phone", "MobilePhone", "Title",
                     "Department", "MailingStreet", "MailingCity", "MailingState", "MailingPostalCode",
                     "MailingCountry", "HasOptedOutOfEmail", "Birthdate", "LastModifiedDate", "SystemModstamp",
                     "CreatedDate", "IsDeleted", "Account.Name", "Account.Website"}
SOQL = re.compile(r"^\s*select\s+(?P<fields>.+?)\s+from\s+contact"
                  r"(?:\s+where\s+systemmodstamp\s*(?P<op>>=|>)\s*(?P<since>\S+)"
                  r"(?:\s+and\s+systemmodstamp\s*<\s*(?P<until>\S+))?)?"
                  r"(?P<order>\s+order\s+by\s+systemmodstamp\s+asc)?\s*$", re.IGNORECASE | re.DOTALL)


def iso_ms(when: datetime) -> str:
    """HubSpot's timestamps: ISO 8601, UTC, milliseconds, Z."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def sf_datetime(when: datetime) -> str:
    """Salesforce's timestamps: 2026-01-02T03:04:05.000+0000."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def parse_when(value: Any) -> datetime:
    """Epoch milliseconds (number or digits) or an ISO 8601 date-time (Z, +hh:mm or +hhmm)."""
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text)


@dataclass
class Call:
    api: str
    method: str
    path: str
    status: int
    at: float


@dataclass
class CrmState:
    """The CRMs' contacts, as each API holds them."""

    hubspot: dict[str, dict] = field(default_factory=dict)      # id -> {properties, archived, archivedAt, ...}
    salesforce: dict[str, dict] = field(default_factory=dict)   # Id -> flat fields (Account.Name etc.)
    clock: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    def tick(self) -> datetime:
        """Every change gets its own millisecond, as a CRM's clock would."""
        self.clock += timedelta(milliseconds=1)
        return self.clock


class CrmEmulator(LoopbackServer):
    thread_name = "crm-emulator"

    def __init__(self, *, batch_size: int = 2000, retry_after_seconds: float = 1,
                 rate_limit_every: int = 0, tokens: dict[str, str] | None = None, port: int = 0) -> None:
        self.state = CrmState()
        self.batch_size = batch_size
        self.retry_after_seconds = retry_after_seconds
        self.rate_limit_every = rate_limit_every
        self.tokens = dict(tokens or DEFAULT_TOKENS)
        self.issued_tokens: set[str] = set()
        self.calls: list[Call] = []
        self.cursors: list[tuple[str, str | None]] = []   # (api, the "modified since" of each first page)
        self._faults: dict[str, list[int]] = {HUBSPOT: [], SALESFORCE: []}
        self._fault_at: dict[tuple[str, int], int] = {}
        self._locators: dict[str, tuple[list[dict], int]] = {}
        self._lock = threading.Lock()
        super().__init__(_handler(self), port)

    # ---- what the tests change between nights ----
    def inject(self, api: str, *statuses: int) -> None:
        with self._lock:
            self._faults[api].extend(statuses)

    def inject_at(self, api: str, call: int, *statuses: int) -> None:
        """Answer that API's `call`-th call (counted from 1, whatever came before) and the
        ones after it with these statuses."""
        with self._lock:
            for i, status in enumerate(statuses):
                self._fault_at[(api, call + i)] = status

    def hubspot_upsert(self, contact_id: str, **properties: str | None) -> None:
        with self._lock:
            now = self.state.tick()
            record = self.state.hubspot.setdefault(contact_id, {"id": contact_id, "createdAt": iso_ms(now),
                                                                "properties": {"createdate": iso_ms(now)}})
            record["properties"].update(properties, hs_object_id=contact_id, lastmodifieddate=iso_ms(now))
            record.update(updatedAt=iso_ms(now), archived=False)
            record.pop("archivedAt", None)

    def hubspot_archive(self, contact_id: str) -> None:
        with self._lock:
            self.state.hubspot[contact_id].update(archived=True, archivedAt=iso_ms(self.state.tick()))

    def salesforce_upsert(self, record_id: str, **fields: Any) -> None:
        with self._lock:
            now = sf_datetime(self.state.tick())
            record = self.state.salesforce.setdefault(record_id, {"Id": record_id, "CreatedDate": now})
            record.update(fields, LastModifiedDate=now, SystemModstamp=now, IsDeleted=False)

    def salesforce_delete(self, record_id: str) -> None:
        with self._lock:
            self.state.salesforce[record_id].update(IsDeleted=True, SystemModstamp=sf_datetime(self.state.tick()))

    # ---- answering ----
    def _fault(self, api: str) -> tuple[int, dict[str, str], bytes] | None:
        with self._lock:
            n = sum(1 for c in self.calls if c.api == api) + 1
            status = self._faults[api].pop(0) if self._faults[api] else self._fault_at.pop((api, n), None)
        if status is None and self.rate_limit_every and n % self.rate_limit_every == 0:
            status = 429
        if status is None:
            return None
        if status == 429:
            body = ({"status": "error", "message": "You have reached your secondly limit.",
                     "errorType": "RATE_LIMIT", "policyName": "SECONDLY"} if api == HUBSPOT
                    else [{"message": "Too many requests", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
            return 429, {"Retry-After": f"{self.retry_after_seconds:g}"}, json.dumps(body).encode()
        return status, {}, json.dumps({"status": "error", "message": f"injected {status}"}).encode()

    def _authorised(self, api: str, headers: dict[str, str]) -> bool:
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        return bool(token) and (token == self.tokens[api] or (api == SALESFORCE and token in self.issued_tokens))

    def hubspot_search(self, body: dict) -> tuple[int, Any]:
        limit = int(body.get("limit") or 10)
        if limit > HUBSPOT_MAX_PAGE:
            return 400, {"status": "error", "category": "VALIDATION_ERROR",
                         "message": f"limit must be at most {HUBSPOT_MAX_PAGE}"}
        after = int(body.get("after") or 0)
        if after + limit > HUBSPOT_MAX_RESULTS:
            return 400, {"status": "error", "category": "VALIDATION_ERROR",
                         "message": f"paging beyond {HUBSPOT_MAX_RESULTS} results is not allowed"}
        with self._lock:
            records = [r for r in self.state.hubspot.values() if not r.get("archived")]
            if not body.get("after"):
                since = [f.get("value") for g in body.get("filterGroups") or [] for f in g.get("filters") or []]
                self.cursors.append((HUBSPOT, str(since[0]) if since else None))
        for group in body.get("filterGroups") or []:  # one group of AND-ed filters is what the source sends
            for f in group.get("filters") or []:
                records = [r for r in records if _compare(r["properties"].get(f["propertyName"]), f)]
        records.sort(key=lambda r: (r["properties"]["lastmodifieddate"], int(r["id"])))
        page = records[after:after + limit]
        answer: dict[str, Any] = {"total": len(records),
                                  "results": [_hubspot_item(r, body.get("properties")) for r in page]}
        if after + limit < len(records):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return 200, answer

    def hubspot_list(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        limit = min(int((query.get("limit") or ["10"])[0]), 100)
        after = int((query.get("after") or ["0"])[0])
        archived = (query.get("archived") or ["false"])[0] == "true"
        wanted = ",".join(query.get("properties") or []).split(",") if query.get("properties") else None
        with self._lock:
            records = sorted((r for r in self.state.hubspot.values() if bool(r.get("archived")) == archived),
                             key=lambda r: int(r["id"]))
        page = records[after:after + limit]
        answer: dict[str, Any] = {"results": [_hubspot_item(r, wanted) for r in page]}
        if after + limit < len(records):
            answer["paging"] = {"next": {"after": str(after + limit),
                                         "link": f"{LIST_PATH}?after={after + limit}"}}
        return 200, answer

    def salesforce_query(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, Any]:
        version = path.split("/")[3]
        locator = path.rsplit("/", 1)[-1] if re.search(r"/query(All)?/[^/]+$", path) else None
        if locator is not None:
            with self._lock:
                if locator not in self._locators:
                    return 400, [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]
                rows, offset = self._locators.pop(locator)
        else:
            soql = (query.get("q") or [""])[0]
            match = SOQL.match(soql)
            if not match:
                return 400, [{"message": f"unexpected SOQL: {soql[:80]}", "errorCode": "MALFORMED_QUERY"}]
            fields = [f.strip() for f in match["fields"].split(",")]
            unknown = [f for f in fields if f not in SALESFORCE_FIELDS and f.lower() != "count()"]
            if unknown:
                return 400, [{"message": f"No such column '{unknown[0]}' on entity 'Contact'",
                              "errorCode": "INVALID_FIELD"}]
            with self._lock:
                records = list(self.state.salesforce.values())
                self.cursors.append((SALESFORCE, match["since"]))
            if not path.endswith("/queryAll"):
                records = [r for r in records if not r.get("IsDeleted")]
            if match["since"]:
                since = parse_when(match["since"])
                keep = (lambda t: t >= since) if match["op"] == ">=" else (lambda t: t > since)
                records = [r for r in records if keep(parse_when(r["SystemModstamp"]))]
            if match["until"]:
                until = parse_when(match["until"])
                records = [r for r in records if parse_when(r["SystemModstamp"]) < until]
            if match["fields"].strip().lower() == "count()":
                return 200, {"totalSize": len(records), "done": True, "records": []}
            if not match["order"]:
                return 400, [{"message": "the emulator answers ordered queries only", "errorCode": "MALFORMED_QUERY"}]
            records.sort(key=lambda r: (r["SystemModstamp"], r["Id"]))
            rows = [_salesforce_record(r, fields, version) for r in records]
            offset = 0
        size = self.batch_size
        options = headers.get("sforce-query-options", "")
        if m := re.search(r"batchSize=(\d+)", options):
            size = min(size, max(200, int(m[1])))
        page = rows[offset:offset + size]
        answer: dict[str, Any] = {"totalSize": len(rows), "done": offset + size >= len(rows), "records": page}
        if not answer["done"]:
            new_locator = f"01g{len(self._locators):05d}{int(time.monotonic() * 1000) % 100000:05d}-{offset + size}"
            with self._lock:
                self._locators[new_locator] = (rows, offset + size)
            answer["nextRecordsUrl"] = f"/services/data/{version}/query/{new_locator}"
        return 200, answer

    def salesforce_token(self, form: dict[str, list[str]]) -> tuple[int, Any]:
        given = ((form.get("client_id") or [""])[0], (form.get("client_secret") or [""])[0])
        if (form.get("grant_type") or [""])[0] != "client_credentials" or given != SALESFORCE_CLIENT:
            return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}
        token = f"emulator-issued-{len(self.issued_tokens) + 1}"
        with self._lock:
            self.issued_tokens.add(token)
        return 200, {"access_token": token, "instance_url": self.url, "token_type": "Bearer",
                     "issued_at": str(int(time.time() * 1000))}


def _compare(value: str | None, f: dict) -> bool:
    if value is None:
        return False
    left, right = parse_when(value), parse_when(f["value"])
    return {"GTE": left >= right, "GT": left > right, "LTE": left <= right, "LT": left < right,
            "EQ": left == right}[f["operator"]]


def _hubspot_item(record: dict, wanted: list[str] | None) -> dict:
    names = [p for p in (wanted or HUBSPOT_DEFAULT_PROPERTIES) if p in HUBSPOT_PROPERTIES]
    item = {"id": record["id"], "properties": {p: record["properties"].get(p) for p in names},
            "createdAt": record["createdAt"], "updatedAt": record["updatedAt"],
            "archived": bool(record.get("archived"))}
    if record.get("archived"):
        item["archivedAt"] = record["archivedAt"]
    return item


def _salesforce_record(record: dict, fields: list[str], version: str) -> dict:
    out: dict[str, Any] = {"attributes": {"type": "Contact",
                                          "url": f"/services/data/{version}/sobjects/Contact/{record['Id']}"}}
    for name in fields:
        if "." in name:
            parent, child = name.split(".", 1)
            holder = out.setdefault(parent, {"attributes": {"type": parent}})
            holder[child] = record.get(name)
        else:
            out[name] = record.get(name)
    for parent in [k for k, v in out.items() if isinstance(v, dict) and k != "attributes"]:
        if all(v is None for k, v in out[parent].items() if k != "attributes"):
            out[parent] = None  # no related record: Salesforce answers null
    return out


def _handler(emulator: CrmEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:  # request lines at debug, never bodies
            log.debug("crm emulator: " + fmt, *args)

        def _send(self, api: str, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            with emulator._lock:
                emulator.calls.append(Call(api, self.command, urlparse(self.path).path, status, time.monotonic()))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def _route(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if url.path == "/services/oauth2/token" and self.command == "POST":
                self._send(SALESFORCE, *emulator.salesforce_token(parse_qs(body.decode())))
                return
            api = SALESFORCE if url.path.startswith("/services/data/") else HUBSPOT
            if api == HUBSPOT and url.path not in (SEARCH_PATH, LIST_PATH):
                self._send(api, 404, {"status": "error", "message": "not found"})
                return
            if not emulator._authorised(api, headers):
                self._send(api, 401, {"status": "error", "category": "INVALID_AUTHENTICATION",
                                      "message": "Authentication credentials not found."} if api == HUBSPOT
                           else [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
                return
            fault = emulator._fault(api)
            if fault is not None:
                status, extra, data = fault
                self._send(api, status, data, extra)
                return
            if api == HUBSPOT and url.path == SEARCH_PATH and self.command == "POST":
                self._send(api, *emulator.hubspot_search(json.loads(body or b"{}")))
            elif api == HUBSPOT and self.command == "GET":
                self._send(api, *emulator.hubspot_list(query))
            elif api == SALESFORCE and self.command == "GET":
                self._send(api, *emulator.salesforce_query(url.path, query, headers))
            else:
                self._send(api, 405, {"status": "error", "message": "method not allowed"})

        do_GET = do_POST = _route  # noqa: N815 - http.server's naming

    return Handler
