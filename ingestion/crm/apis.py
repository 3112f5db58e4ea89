"""The two CRM APIs as dlt `rest_api` configurations: endpoints, paging, cursor, auth.

Configuration (dlt's config providers: environment variables override `.dlt/secrets.toml`,
which overrides `.dlt/config.toml`):

    [sources.crm.hubspot]
    base_url = "https://api.hubapi.com"       # the default
    page_size = 100                           # records per search page (HubSpot's maximum: 200)
    pages_per_load = 50                       # pages of new records per committed chunk
    extra_fields = ["lifecyclestage"]         # more properties to read (kept in extra_fields)
    start_date = "2025-01-01"                 # the first night reads what changed since (default: all)
    settle_seconds = 300                      # changes younger than this wait for the next night
    # secret: access_token (a private app's access token; scope crm.objects.contacts.read)

    [sources.crm.salesforce]
    instance_url = "https://yourorg.my.salesforce.com"
    api_version = "v62.0"
    page_size = 2000                          # Sforce-Query-Options batchSize (200-2000)
    pages_per_load = 25
    # secret: access_token (an OAuth bearer token), or client_id + client_secret
    # (the OAuth client credentials flow of a connected app, token from <instance_url>/services/oauth2/token)

The fields asked for are each CRM's standard contact fields that the header-alias mapping
(ingestion/header_aliases.yml) maps to a canonical field, plus `extra_fields`.

A night reads the changes up to `settle_seconds` before it started: a CRM's search index
trails its writes (HubSpot says a minute), and a long transaction commits a change with
the time it began (Salesforce's SystemModstamp). Read too early, a change stamped before
the cursor would be skipped for good; left for the next night, it is read then.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import dlt
import requests
from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator, JSONResponseCursorPaginator
from dlt.sources.rest_api import rest_api_resources

from ingestion.landing.mapping import HeaderAliases, normalise_header
from ingestion.settings import Secret, config_value


def _list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.strip("[]").replace('"', "").split(",") if v.strip()]
    return [str(v) for v in value]


@dataclass
class CrmConfig:
    name: str
    base_url: str = ""
    access_token: Secret = field(default_factory=lambda: Secret(None))
    client_id: Secret = field(default_factory=lambda: Secret(None))
    client_secret: Secret = field(default_factory=lambda: Secret(None))
    page_size: int = 100
    pages_per_load: int = 50
    extra_fields: list[str] = field(default_factory=list)
    start_date: str = ""
    api_version: str = ""
    settle_seconds: int = 300

    @classmethod
    def from_config(cls, name: str) -> CrmConfig:
        api = API_CLASSES[name]
        section = f"sources.crm.{name}"
        return cls(name=name,
                   base_url=str(config_value(f"{section}.{api.url_key}", api.default_url)).rstrip("/"),
                   access_token=Secret(dlt.secrets.get(f"{section}.access_token")),
                   client_id=Secret(dlt.secrets.get(f"{section}.client_id")),
                   client_secret=Secret(dlt.secrets.get(f"{section}.client_secret")),
                   page_size=int(config_value(f"{section}.page_size", api.default_page_size)),
                   pages_per_load=int(config_value(f"{section}.pages_per_load", 50)),
                   extra_fields=_list(config_value(f"{section}.extra_fields", None)),
                   start_date=str(config_value(f"{section}.start_date", "")),
                   settle_seconds=int(config_value(f"{section}.settle_seconds", 300)),
                   api_version=str(config_value(f"{section}.api_version", api.default_version)))

    def secrets(self) -> list[str]:
        """The values no output may show."""
        return [s.reveal() for s in (self.access_token, self.client_id, self.client_secret) if s]


@dataclass(frozen=True)
class Endpoint:
    """One endpoint a CRM is read from: its resource name, its path, the field of a flattened
    record its cursor is, and whether its records come oldest first (then it can be read
    in chunks, each committed with its cursor)."""

    name: str
    path: str
    cursor_field: str
    chunked: bool


def _start(value: str) -> datetime:
    """`start_date` (an ISO date or date-time, UTC unless it says otherwise); the epoch when unset."""
    if not value:
        return datetime(1970, 1, 1, tzinfo=UTC)
    when = datetime.fromisoformat(value)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _settled(config: CrmConfig) -> datetime:
    """The latest change time a night reads up to."""
    return datetime.now(UTC) - timedelta(seconds=max(0, config.settle_seconds))


def parse_timestamp(value: str) -> datetime:
    """An API's ISO 8601 timestamp (Z, +hh:mm or +hhmm) as a UTC datetime."""
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", value.strip().replace("Z", "+00:00"))
    return datetime.fromisoformat(text).astimezone(UTC)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class CappedCursorPaginator(JSONResponseCursorPaginator):
    """HubSpot's search cursor, stopped before the offset past which a search refuses to page
    (10,000 results): the chunk ends there and is committed, and the next one is a new search
    from the cursor it reached."""

    def __init__(self, max_offset: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_offset = max_offset

    def update_state(self, response: Any, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        if self._next_reference is not None and int(self._next_reference) >= self.max_offset:
            self._next_reference = None


class CrmApi:
    """How one CRM is read: its endpoints as rest_api resources, its records flattened."""

    name: ClassVar[str]
    url_key: ClassVar[str] = "base_url"
    default_url: ClassVar[str] = ""
    default_page_size: ClassVar[int] = 100
    default_version: ClassVar[str] = ""
    standard_fields: ClassVar[list[str]] = []
    always: ClassVar[list[str]] = []          # asked whatever the aliases map
    cursor_path: ClassVar[str] = ""           # the incremental's cursor in the chunked endpoint's records

    def __init__(self, config: CrmConfig, aliases: HeaderAliases) -> None:
        self.config = config
        mapped = [f for f in self.standard_fields if normalise_header(f) in aliases.lookup]
        self.fields = list(dict.fromkeys([*mapped, *config.extra_fields, *self.always]))

    @classmethod
    def missing(cls, config: CrmConfig) -> str | None:
        raise NotImplementedError

    def endpoints(self) -> list[Endpoint]:
        raise NotImplementedError

    def has_next(self, page: Any) -> bool:
        """Whether the API has another page after this answer (whether or not it is read)."""
        raise NotImplementedError

    def resource(self, endpoint: Endpoint, on_page: Callable[[Any], None]) -> Any:
        """The endpoint as a rest_api resource; `on_page` is called with every page's response."""
        raise NotImplementedError

    def flatten(self, item: dict) -> dict[str, str | None]:
        raise NotImplementedError

    def parse_cursor(self, value: str) -> datetime:
        return parse_timestamp(value)

    def count_changed(self, since: str | None) -> int:
        """How many records changed after `since` (the committed cursor; None: the start),
        up to the settle window: what the next night would read, asked without reading it."""
        raise NotImplementedError

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self._token()}"
        return session

    def _token(self) -> str:
        return self.config.access_token.reveal()


class HubSpotApi(CrmApi):
    """HubSpot CRM v3: the search endpoint for contacts changed since the cursor
    (`lastmodifieddate`, oldest first, cursor paging with `after`), and the list endpoint
    with `archived=true` for deleted ones (client-side cursor on `archivedAt`)."""

    name = "hubspot"
    default_url = "https://api.hubapi.com"
    standard_fields = ["email", "firstname", "lastname", "salutation", "phone", "mobilephone", "company",
                       "website", "jobtitle", "address", "city", "state", "zip", "country", "date_of_birth",
                       "hs_email_optout"]
    always = ["lastmodifieddate"]
    max_page_size = 200          # the search endpoint's limit
    max_results = 10_000         # what one search can page through

    cursor_path = "properties.lastmodifieddate"
    SEARCH = Endpoint("hubspot_contacts", "crm/v3/objects/contacts/search", "lastmodifieddate", chunked=True)
    ARCHIVED = Endpoint("hubspot_archived_contacts", "crm/v3/objects/contacts?archived=true", "archivedAt",
                        chunked=False)

    @classmethod
    def missing(cls, config: CrmConfig) -> str | None:
        if not config.access_token:
            return "no access_token: SOURCES__CRM__HUBSPOT__ACCESS_TOKEN or .dlt/secrets.toml"
        return None

    def endpoints(self) -> list[Endpoint]:
        return [self.SEARCH, self.ARCHIVED]

    @property
    def page_size(self) -> int:
        return max(1, min(self.config.page_size, self.max_page_size))

    @property
    def pages_per_load(self) -> int:
        return max(1, self.config.pages_per_load)

    def has_next(self, page: Any) -> bool:
        return bool(((page.get("paging") or {}).get("next") or {}).get("after")) if isinstance(page, dict) else False

    def resource(self, endpoint: Endpoint, on_page: Callable[[Any], None]) -> Any:
        start = _start(self.config.start_date)
        initial = start.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if endpoint == self.SEARCH:
            spec = {
                "path": "crm/v3/objects/contacts/search", "method": "POST",
                "json": {
                    "filterGroups": [{"filters": [
                        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": "{incremental.start_value}"},
                        {"propertyName": "lastmodifieddate", "operator": "LT",
                         "value": str(int(_settled(self.config).timestamp() * 1000))}]}],
                    "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                    "properties": self.fields, "limit": self.page_size,
                },
                # a chunk is one search, never paged past the results a search can reach
                "paginator": CappedCursorPaginator(self.max_results, cursor_path="paging.next.after",
                                                   cursor_body_path="after"),
                "data_selector": "results",
                # the filter takes epoch milliseconds
                "incremental": {"cursor_path": "properties.lastmodifieddate", "initial_value": initial,
                                "convert": lambda v: str(int(parse_timestamp(v).timestamp() * 1000))},
            }
        else:
            spec = {
                "path": "crm/v3/objects/contacts",
                "params": {"archived": "true", "limit": 100, "properties": ",".join(self.fields)},
                "paginator": JSONResponseCursorPaginator(cursor_path="paging.next.after", cursor_param="after"),
                "data_selector": "results",
                "incremental": {"cursor_path": "archivedAt", "initial_value": initial},
            }
        spec["response_actions"] = [{"status_code": 200, "action": on_page}]
        return rest_api_resources({
            "client": {"base_url": self.config.base_url,
                       "auth": {"type": "bearer", "token": self.config.access_token.reveal()}},
            "resources": [{"name": endpoint.name, "primary_key": "id", "endpoint": spec}],
        })[0]

    def count_changed(self, since: str | None) -> int:
        start = parse_timestamp(since) if since else _start(self.config.start_date)
        body = {"filterGroups": [{"filters": [
            {"propertyName": "lastmodifieddate", "operator": "GT", "value": str(int(start.timestamp() * 1000))},
            {"propertyName": "lastmodifieddate", "operator": "LT",
             "value": str(int(_settled(self.config).timestamp() * 1000))}]}],
            "properties": ["hs_object_id"], "limit": 1}
        with self._session() as session:
            response = session.post(f"{self.config.base_url}/crm/v3/objects/contacts/search", json=body, timeout=30)
            response.raise_for_status()
            return int(response.json().get("total") or 0)

    def flatten(self, item: dict) -> dict[str, str | None]:
        record: dict[str, str | None] = {"id": _text(item.get("id"))}
        record.update({k: _text(v) for k, v in (item.get("properties") or {}).items()})
        record["archived"] = _text(bool(item.get("archived")))
        if item.get("archivedAt"):
            record["archivedAt"] = _text(item["archivedAt"])
        return record


class SalesforceApi(CrmApi):
    """Salesforce REST: one SOQL query through `queryAll` (deleted records too, `IsDeleted`),
    records modified since the cursor (`SystemModstamp`) oldest first, paged by
    `nextRecordsUrl`."""

    name = "salesforce"
    url_key = "instance_url"
    default_page_size = 2000
    default_version = "v62.0"
    standard_fields = ["Salutation", "FirstName", "LastName", "Name", "Email", "Phone", "MobilePhone", "Title",
                       "Account.Name", "Account.Website", "MailingStreet", "MailingCity", "MailingState",
                       "MailingPostalCode", "MailingCountry", "HasOptedOutOfEmail", "Birthdate", "LastModifiedDate"]
    always = ["Id", "SystemModstamp", "IsDeleted"]

    cursor_path = "SystemModstamp"
    CONTACTS = Endpoint("salesforce_contacts", "services/data/queryAll?Contact", "SystemModstamp", chunked=True)

    @classmethod
    def missing(cls, config: CrmConfig) -> str | None:
        if not config.base_url:
            return "no instance_url: sources.crm.salesforce.instance_url"
        if not config.access_token and not (config.client_id and config.client_secret):
            return ("no access_token, nor client_id and client_secret: SOURCES__CRM__SALESFORCE__ACCESS_TOKEN "
                    "or .dlt/secrets.toml")
        return None

    def endpoints(self) -> list[Endpoint]:
        return [self.CONTACTS]

    @property
    def pages_per_load(self) -> int:
        return max(1, self.config.pages_per_load)

    def has_next(self, page: Any) -> bool:
        return bool(page.get("nextRecordsUrl")) if isinstance(page, dict) else False

    def auth(self) -> dict[str, Any]:
        if self.config.access_token:
            return {"type": "bearer", "token": self.config.access_token.reveal()}
        return {"type": "oauth2_client_credentials",
                "access_token_url": f"{self.config.base_url}/services/oauth2/token",
                "client_id": self.config.client_id.reveal(), "client_secret": self.config.client_secret.reveal()}

    def resource(self, endpoint: Endpoint, on_page: Callable[[Any], None]) -> Any:
        initial = _start(self.config.start_date).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        settled = _settled(self.config).strftime("%Y-%m-%dT%H:%M:%SZ")
        soql = (f"SELECT {', '.join(self.fields)} FROM Contact WHERE SystemModstamp >= {{incremental.start_value}} "
                f"AND SystemModstamp < {settled} ORDER BY SystemModstamp ASC")
        spec = {
            "path": f"services/data/{self.config.api_version}/queryAll",
            "params": {"q": soql},
            "headers": {"Sforce-Query-Options": f"batchSize={min(2000, max(200, self.config.page_size))}"},
            "paginator": JSONLinkPaginator(next_url_path="nextRecordsUrl"),
            "data_selector": "records",
            # SOQL's dateTime literal: seconds, UTC (the records of that second come again;
            # dlt drops those it has loaded)
            "incremental": {"cursor_path": "SystemModstamp", "initial_value": initial,
                            "convert": lambda v: parse_timestamp(v).strftime("%Y-%m-%dT%H:%M:%SZ")},
            "response_actions": [{"status_code": 200, "action": on_page}],
        }
        return rest_api_resources({
            "client": {"base_url": self.config.base_url, "auth": self.auth()},
            "resources": [{"name": endpoint.name, "primary_key": "Id", "endpoint": spec}],
        })[0]

    def _token(self) -> str:
        if self.config.access_token:
            return self.config.access_token.reveal()
        response = requests.post(f"{self.config.base_url}/services/oauth2/token", timeout=30,
                                 data={"grant_type": "client_credentials", "client_id": self.config.client_id.reveal(),
                                       "client_secret": self.config.client_secret.reveal()})
        response.raise_for_status()
        return str(response.json()["access_token"])

    def count_changed(self, since: str | None) -> int:
        """SOQL's literal has whole seconds: counted from the second after the cursor's (the
        changes later in the cursor's own second are not counted; the night reads them)."""
        start = (parse_timestamp(since).replace(microsecond=0) + timedelta(seconds=1) if since
                 else _start(self.config.start_date))
        soql = (f"SELECT COUNT() FROM Contact WHERE SystemModstamp >= {start.strftime('%Y-%m-%dT%H:%M:%SZ')} "
                f"AND SystemModstamp < {_settled(self.config).strftime('%Y-%m-%dT%H:%M:%SZ')}")
        with self._session() as session:
            response = session.get(f"{self.config.base_url}/services/data/{self.config.api_version}/queryAll",
                                   params={"q": soql}, timeout=30)
            response.raise_for_status()
            return int(response.json().get("totalSize") or 0)

    def flatten(self, item: dict) -> dict[str, str | None]:
        record: dict[str, str | None] = {}
        for key, value in item.items():
            if key == "attributes":
                continue
            if isinstance(value, dict):  # a relationship: Account.Name
                record.update({f"{key}.{k}": _text(v) for k, v in value.items() if k != "attributes"})
            else:
                record[key] = _text(value)
        return record


API_CLASSES: dict[str, type[CrmApi]] = {"hubspot": HubSpotApi, "salesforce": SalesforceApi}
