"""Segments synced to a Mailchimp audience (Marketing API v3), after the exports.

A segment opts in with `meta.mailchimp` in models/segments/_segments.yml (`true`, or
`{tag: "..."}`); `exports.segment_catalog.mailchimp_tag` says which do. Its members are the
rows of its exported file (`<segment>/<segment>.parquet`, what manifest.json describes), so
the audience holds what the campaign files hold. Members are keyed, as Mailchimp keys them,
by the subscriber hash: the MD5 of the lower-cased address.

Each sync compares what the exports want with what the last syncs did (the sync state, a
DuckDB file beside the warehouse: per member its hash, contact id, a fingerprint of what
was sent, its tags and status) and sends only the difference:

- an address the sync never sent: `POST /lists/{id}` (batch create, 500 a call, without
  `update_existing`, `status` = `new_member_status`); one the audience already holds comes
  back as an error item and goes the next way;
- changed, back after being archived, or already in the audience: `PUT
  /lists/{id}/members/{hash}` with `status_if_new`, one a call;
- entered a synced segment: `POST /lists/{id}/segments/{tag id}` (`members_to_add`, 500 a
  call; a tag is a static segment, created when missing);
- left a synced segment, still in another: `POST /lists/{id}/members/{hash}/tags`, the tag
  `inactive`;
- opted out or suppressed: `PATCH /lists/{id}/members/{hash}` `status: unsubscribed`, its
  tags inactive;
- erased (`contacts forget`: `campaign_contact_status` says `erased`): `POST
  /lists/{id}/members/{hash}/actions/delete-permanent`, and its state row deleted. A
  contact id the warehouse does not know at all (another warehouse) is left as it is, with
  a warning: a permanent deletion cannot be undone;
- left every synced segment (left, merged, deleted in its CRM, no valid e-mail): its tags
  inactive, then `DELETE /lists/{id}/members/{hash}` (archived). More archives at once than
  EXPORT_MAX_REMOVE_SHARE of the synced members (of at least 20) are held, by the rule the
  exports hold a list with, unless confirmed; opt-outs and erasures are never held.

No call the sync makes sets the status of a member the audience already has (the batch
creates only new ones; the PUT says `status_if_new`), so a person who unsubscribed in
Mailchimp is never subscribed again by a sync. Every call is idempotent (the same upsert,
tag or status again changes nothing; archiving or deleting a member already gone is a 404,
taken as done), and the state is written after each batch call is answered, and for the
one-member calls every 200 answers or once a second while they flow (a write per member
would cost more than its call): a killed sync repeated sends what was left and repeats at
most the batch calls in flight and the member calls not yet written, harmlessly. 429s
and 5xx are waited out and retried (`Retry-After`, else exponential back-off); at most
`max_connections` calls are in flight (Mailchimp allows 10 at once). A member Mailchimp
refuses (an address it finds fake, one permanently deleted) is counted and left out until
what is sent changes. A dry run prints the changes and sends nothing.

Configuration (`.dlt/config.toml`, the key in `.dlt/secrets.toml` or
`DESTINATIONS__MAILCHIMP__API_KEY`):

    [destinations.mailchimp]
    list_id = "a1b2c3d4e5"            # the audience id (Audience > Settings > Audience name and defaults)
    new_member_status = "subscribed"  # the status of a member Mailchimp did not have
    max_connections = 10
    batch_size = 500
    timeout_seconds = 30
    max_retries = 5
    # base_url: by default https://<dc>.api.mailchimp.com/3.0, the data centre from the key's suffix

Nothing here logs an address or a name: counts, tags and HTTP statuses only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import requests

from batch.exports import MANIFEST, MIN_ROWS_TO_HOLD, SUPPRESSIONS, max_remove_share
from ingestion.pipelines import read_warehouse
from ingestion.settings import Secret, Settings, config_value, table_exists

log = logging.getLogger(__name__)

SECTION = "destinations.mailchimp"
ACTIONS = ("upserted", "refused", "tagged", "untagged", "unsubscribed", "archived", "erased")
# one-member calls are remembered together: at this many rows, or this long after the last write
REMEMBER_ROWS = 200
REMEMBER_SECONDS = 1.0


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


@dataclass
class MailchimpConfig:
    api_key: Secret
    list_id: str = ""
    base_url: str = ""
    new_member_status: str = "subscribed"
    max_connections: int = 10
    batch_size: int = 500
    timeout_seconds: float = 30.0
    max_retries: int = 5
    backoff_seconds: float = 1.0

    @classmethod
    def from_config(cls) -> MailchimpConfig:
        import dlt

        def get(key: str, default: Any) -> Any:
            return config_value(f"{SECTION}.{key}", default)

        key = Secret(dlt.secrets.get(f"{SECTION}.api_key"))
        data_centre = key.reveal().rpartition("-")[2] if "-" in key.reveal() else ""
        default_url = f"https://{data_centre}.api.mailchimp.com/3.0" if data_centre else ""
        return cls(api_key=key, list_id=str(get("list_id", "")).strip(),
                   base_url=str(get("base_url", default_url)).rstrip("/"),
                   new_member_status=str(get("new_member_status", "subscribed")),
                   max_connections=max(1, min(10, get("max_connections", 10))),
                   batch_size=max(1, min(500, get("batch_size", 500))),
                   timeout_seconds=get("timeout_seconds", 30.0), max_retries=get("max_retries", 5),
                   backoff_seconds=get("backoff_seconds", 1.0))

    def missing(self) -> str | None:
        """Why the sync cannot run, or None."""
        if not self.api_key:
            return f"no Mailchimp API key ({SECTION.upper().replace('.', '__')}__API_KEY or .dlt/secrets.toml)"
        if not self.list_id:
            return f"no audience id ([{SECTION}] list_id)"
        if not self.base_url:
            return "the API key has no data centre suffix (…-us21) and no base_url is set"
        return None


class MailchimpError(RuntimeError):
    """A call Mailchimp refused for good, or kept failing: its status and title, never a body
    (Mailchimp's details can quote an address)."""

    def __init__(self, status: int | None, title: str) -> None:
        super().__init__(f"HTTP {status}: {title}" if status else title)
        self.status = status


class MailchimpApi:
    """Calls with retries; every call the sync makes is idempotent, so retrying is safe."""

    def __init__(self, config: MailchimpConfig) -> None:
        self.config = config
        self._local = threading.local()
        self._rng = random.Random()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.auth = ("contacts", self.config.api_key.reveal())
            self._local.session = session
        return session

    def call(self, method: str, path: str, body: dict | None = None, missing_ok: bool = False) -> dict | None:
        cfg = self.config
        last = "no answer"
        for attempt in range(cfg.max_retries + 1):
            wait = None
            try:
                response = self._session().request(method, cfg.base_url + path, json=body,
                                                   timeout=cfg.timeout_seconds)
            except requests.RequestException as exc:
                last = f"connection error: {type(exc).__name__}"
            else:
                status = response.status_code
                if status < 300:
                    return response.json() if response.content else None
                if status == 404 and missing_ok:
                    return None
                title = _title(response)
                if status != 429 and status < 500:
                    raise MailchimpError(status, title)
                last = f"HTTP {status}: {title}"
                wait = _retry_after(response)
            if attempt < cfg.max_retries:
                backoff = self._rng.uniform(0, cfg.backoff_seconds * 2 ** attempt)
                time.sleep(max(backoff, wait or 0.0))
        raise MailchimpError(None, f"gave up after {cfg.max_retries + 1} attempts ({last})")


def _title(response: requests.Response) -> str:
    try:
        return str(response.json().get("title") or "error")[:100]
    except ValueError:
        return "error"


def _retry_after(response: requests.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


# ------------------------------------------------------------------ state ----

STATE_DDL = """
create table if not exists members (
    list_id varchar not null,
    subscriber_hash varchar not null,
    contact_id varchar,
    fingerprint varchar,          -- sha256 of what was last upserted (address, names)
    tags varchar not null,        -- JSON list of the synced tags it carries
    status varchar not null,      -- synced, unsubscribed, archived, refused
    synced_at timestamp not null,
    primary key (list_id, subscriber_hash)
);
create table if not exists tags (
    list_id varchar not null,
    tag varchar not null,
    segment_id bigint not null,
    primary key (list_id, tag)
);
"""


def state_path(settings: Settings) -> Path:
    return settings.warehouse.parent / f".{settings.warehouse.stem}.mailchimp.duckdb"


@dataclass
class MemberState:
    contact_id: str | None
    fingerprint: str | None
    tags: frozenset[str]
    status: str


class SyncState:
    """The sync's memory, one row per member it touched; written after each answered call."""

    def __init__(self, path: Path, list_id: str, read_only: bool = False) -> None:
        self.list_id = list_id
        self._lock = threading.Lock()
        if read_only and not path.exists():
            self.con = duckdb.connect()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.con = duckdb.connect(str(path))
        self.con.execute(STATE_DDL)

    def members(self) -> dict[str, MemberState]:
        rows = self.con.execute("select subscriber_hash, contact_id, fingerprint, tags, status from members "
                                "where list_id = ?", [self.list_id]).fetchall()
        return {h: MemberState(c, f, frozenset(json.loads(t)), s) for h, c, f, t, s in rows}

    def tag_ids(self) -> dict[str, int]:
        return dict(self.con.execute("select tag, segment_id from tags where list_id = ?", [self.list_id]).fetchall())

    def save_tag(self, tag: str, segment_id: int) -> None:
        with self._lock:
            self.con.execute("insert or replace into tags values (?, ?, ?)", [self.list_id, tag, segment_id])

    def forget_tag(self, tag: str) -> None:
        with self._lock:
            self.con.execute("delete from tags where list_id = ? and tag = ?", [self.list_id, tag])

    def save(self, rows: list[tuple[str, str | None, str | None, frozenset[str], str]]) -> None:
        """(hash, contact id, fingerprint, tags, status) rows, in one transaction."""
        if not rows:
            return
        now = datetime.now(UTC).replace(tzinfo=None)
        table = pa.table({"list_id": [self.list_id] * len(rows), "subscriber_hash": [r[0] for r in rows],
                          "contact_id": [r[1] for r in rows], "fingerprint": [r[2] for r in rows],
                          "tags": [json.dumps(sorted(r[3])) for r in rows], "status": [r[4] for r in rows],
                          "synced_at": [now] * len(rows)})
        with self._lock:  # one statement: a row at a time is slow in DuckDB
            self.con.register("saved_rows", table)
            try:
                self.con.execute("insert or replace into members select * from saved_rows")
            finally:
                self.con.unregister("saved_rows")

    def forget(self, hashes: list[str]) -> None:
        with self._lock:
            self.con.executemany("delete from members where list_id = ? and subscriber_hash = ?",
                                 [[self.list_id, h] for h in hashes])

    def close(self) -> None:
        self.con.close()


# ------------------------------------------------------------------- plan ----

@dataclass
class Wanted:
    email: str
    contact_id: str
    merge_fields: dict[str, str]
    tags: set[str] = field(default_factory=set)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps([self.email.lower(), self.merge_fields], sort_keys=True).encode()).hexdigest()


@dataclass
class Plan:
    segments: dict[str, str] = field(default_factory=dict)          # segment -> tag
    upserts: list[str] = field(default_factory=list)                 # hashes
    tag_adds: dict[str, list[str]] = field(default_factory=dict)     # tag -> hashes
    untags: dict[str, frozenset[str]] = field(default_factory=dict)  # hash -> tags to drop (it stays)
    unsubscribes: list[str] = field(default_factory=list)
    archives: list[str] = field(default_factory=list)
    erasures: list[str] = field(default_factory=list)
    wanted: dict[str, Wanted] = field(default_factory=dict)
    unknown: int = 0            # synced members whose contact id the warehouse does not know

    def counts(self) -> dict[str, int]:
        return {"upserts": len(self.upserts), "tag adds": sum(len(v) for v in self.tag_adds.values()),
                "untags": len(self.untags), "unsubscribes": len(self.unsubscribes), "archives": len(self.archives),
                "erasures": len(self.erasures)}


def synced_segments(settings: Settings) -> dict[str, str]:
    """segment -> Mailchimp tag, for the segments whose meta opts in (exports.segment_catalog)."""
    with read_warehouse(settings) as con:
        if con is None or not table_exists(con, "exports", "segment_catalog"):
            return {}
        columns = {r[0] for r in con.execute("select column_name from information_schema.columns where "
                                             "table_schema = 'exports' and table_name = 'segment_catalog'").fetchall()}
        if "mailchimp_tag" not in columns:
            return {}
        return dict(con.execute("select segment_name, mailchimp_tag from exports.segment_catalog "
                                "where mailchimp_tag is not null").fetchall())


def plan_sync(settings: Settings, state: dict[str, MemberState], segments: dict[str, str]) -> Plan:
    """What to send, from the exported files (manifest.json), suppressions.csv and the state."""
    plan = Plan(segments=segments)
    manifest_path = settings.export_dir / MANIFEST
    if not manifest_path.exists():
        raise FileNotFoundError(f"no {MANIFEST} in {settings.export_dir}: run the export first")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    exported = {s["segment"]: s for s in manifest.get("segments", [])}
    for segment, tag in segments.items():
        if segment not in exported:
            continue  # not exported (yet): its members are left as they are
        table = pq.read_table(settings.export_dir / segment / f"{segment}.parquet",
                              columns=["contact_id", "email_address", "first_name", "last_name"])
        for row in table.to_pylist():
            if not row["email_address"]:
                continue
            key = subscriber_hash(row["email_address"])
            wanted = plan.wanted.get(key)
            if wanted is None:
                merge = {k: v for k, v in (("FNAME", row["first_name"]), ("LNAME", row["last_name"])) if v}
                wanted = plan.wanted[key] = Wanted(row["email_address"].strip(), row["contact_id"], merge)
            wanted.tags.add(tag)
    suppressed = _suppressed_hashes(settings.export_dir / SUPPRESSIONS)
    departed = {h: s for h, s in state.items() if h not in plan.wanted}
    statuses = _contact_statuses(settings, {s.contact_id for s in departed.values() if s.contact_id})
    for key, wanted in plan.wanted.items():
        known = state.get(key)
        live = known is not None and known.status in ("synced", "unsubscribed")
        refused_as_is = known is not None and known.status == "refused" and known.fingerprint == wanted.fingerprint
        if refused_as_is:
            continue  # Mailchimp refused it as it is: sent again when it changes
        if not live or known.fingerprint != wanted.fingerprint:
            plan.upserts.append(key)
        for tag in sorted(wanted.tags - (known.tags if live else frozenset())):
            plan.tag_adds.setdefault(tag, []).append(key)
        if known is not None and known.tags - wanted.tags:
            plan.untags[key] = known.tags - wanted.tags
    for key, known in departed.items():
        if known.contact_id not in statuses:
            # a contact this warehouse never issued: another warehouse (CONTACTS_WAREHOUSE?), not
            # an erasure (`contacts forget` keeps the id, with status erased); nothing is done
            plan.unknown += 1
            continue
        status, opted_out = statuses[known.contact_id]
        if status == "erased":
            plan.erasures.append(key)
        elif known.status in ("archived", "refused"):
            continue
        elif key in suppressed or opted_out:
            if known.status != "unsubscribed":
                plan.unsubscribes.append(key)
            if known.tags:
                plan.untags[key] = known.tags
        else:
            if known.tags:
                plan.untags[key] = known.tags
            plan.archives.append(key)
    return plan


def _suppressed_hashes(path: Path) -> set[str]:
    if not path.exists():
        return set()
    table = pq.read_table(path) if path.suffix == ".parquet" else None
    if table is None:
        import pyarrow.csv as pcsv

        table = pcsv.read_csv(path)
    return {subscriber_hash(e) for e in table.column("email_address").to_pylist() if e}


def _contact_statuses(settings: Settings, contact_ids: set[str]) -> dict[str, tuple[str, bool]]:
    """contact id -> (contact_status, opted out or suppressed) from exports.campaign_contact_status;
    an id it does not know is left out."""
    if not contact_ids:
        return {}
    with read_warehouse(settings) as con:
        if con is None or not table_exists(con, "exports", "campaign_contact_status"):
            raise FileNotFoundError("exports.campaign_contact_status does not exist: run the build first")
        rows = con.execute("select s.contact_id, s.contact_status, s.is_opted_out or s.is_suppressed "
                           "from exports.campaign_contact_status as s "
                           "where s.contact_id in (select unnest(?))", [sorted(contact_ids)]).fetchall()
    return {c: (status, bool(out)) for c, status, out in rows}


# ------------------------------------------------------------------ apply ----

@dataclass
class SyncResult:
    dry_run: bool = False
    skipped: str | None = None
    segments: dict[str, str] = field(default_factory=dict)
    planned: dict[str, int] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACTIONS, 0))
    errors: list[str] = field(default_factory=list)
    calls: int = 0
    held: int = 0               # archives held back: too many at once (confirm_removals sends them)


class Syncer:
    def __init__(self, api: MailchimpApi, state: SyncState, plan: Plan, result: SyncResult) -> None:
        self.api = api
        self.state = state
        self.plan = plan
        self.result = result
        self.known = state.members()
        self.one_by_one: list[str] = []   # upserted by PUT, one member a call
        self._lock = threading.Lock()
        self._unwritten: dict[str, tuple] = {}  # memory rows of one-member calls, not written yet
        self._written_at = time.monotonic()
        self.list_path = f"/lists/{api.config.list_id}"

    def _count(self, action: str, n: int = 1, calls: int = 1) -> None:
        with self._lock:
            self.result.done[action] += n
            self.result.calls += calls

    def _called(self) -> None:
        with self._lock:
            self.result.calls += 1

    def _error(self, what: str, exc: MailchimpError) -> None:
        with self._lock:
            self.result.errors.append(f"{what}: {exc}")
        log.warning("mailchimp: %s failed: %s", what, exc)

    def _parallel(self, items: list, work: Callable[[Any], None]) -> None:
        try:
            with ThreadPoolExecutor(max_workers=self.api.config.max_connections,
                                    thread_name_prefix="mailchimp") as pool:
                list(pool.map(work, items))
        finally:
            with self._lock:
                self._remember([], write=True)

    def _remember(self, rows: list[tuple], write: bool) -> None:
        """Memory rows of answered calls, under self._lock (so that a member's later row is
        never written before its earlier one): written now after a batch call (`write`),
        gathered for one-member calls and written REMEMBER_ROWS at a time or after
        REMEMBER_SECONDS."""
        self._unwritten.update((row[0], row) for row in rows)
        if write or len(self._unwritten) >= REMEMBER_ROWS \
                or time.monotonic() - self._written_at >= REMEMBER_SECONDS:
            self.state.save(list(self._unwritten.values()))
            self._unwritten.clear()
            self._written_at = time.monotonic()

    def run(self) -> None:
        self.api.call("GET", self.list_path)  # the key and the audience, before anything changes
        self.result.calls += 1
        tag_ids = self._ensure_tags()
        size = self.api.config.batch_size
        # addresses the sync never sent are created in batches; the others (known, changed,
        # archived, or already in the audience) one by one, which never touches a status
        fresh = [h for h in self.plan.upserts if h not in self.known]
        self.one_by_one = [h for h in self.plan.upserts if h in self.known]
        self._parallel([fresh[i:i + size] for i in range(0, len(fresh), size)], self._create)
        self._parallel(self.one_by_one, self._put)  # with what _create left to them
        batches = [(tag, hashes[i:i + size]) for tag, hashes in self.plan.tag_adds.items()
                   for i in range(0, len(hashes), size)]
        self._parallel(batches, lambda batch: self._tag(tag_ids[batch[0]], *batch))
        self._parallel(list(self.plan.untags.items()), self._untag)
        self._parallel(self.plan.unsubscribes, self._unsubscribe)
        self._parallel(self.plan.archives, self._archive)
        self._parallel(self.plan.erasures, self._erase)

    def _ensure_tags(self) -> dict[str, int]:
        ids = self.state.tag_ids()
        wanted = set(self.plan.tag_adds) - set(ids)
        if wanted:
            found = self.api.call("GET", f"{self.list_path}/segments?type=static&count=1000&fields=segments.id,"
                                         "segments.name") or {}
            self.result.calls += 1
            for segment in found.get("segments") or []:
                if segment.get("name") in wanted:
                    ids[segment["name"]] = int(segment["id"])
                    self.state.save_tag(segment["name"], int(segment["id"]))
            for tag in sorted(wanted - set(ids)):
                created = self.api.call("POST", f"{self.list_path}/segments", {"name": tag, "static_segment": []})
                self.result.calls += 1
                ids[tag] = int(created["id"])
                self.state.save_tag(tag, ids[tag])
        return ids

    def _upserted(self, hashes: list[str], refused: bool = False, batch: bool = True) -> None:
        """Note upserts Mailchimp answered: each member is synced (keeping the tags and the
        unsubscribed status it had), or refused as it is."""
        rows = []
        with self._lock:
            for h in hashes:
                wanted, known = self.plan.wanted[h], self.known.get(h)
                kept = known is not None and known.status in ("synced", "unsubscribed")
                status = "refused" if refused else "unsubscribed" if kept and known.status == "unsubscribed" \
                    else "synced"
                tags = known.tags if kept and not refused else frozenset()
                self.known[h] = MemberState(wanted.contact_id, wanted.fingerprint, tags, status)
                rows.append((h, wanted.contact_id, wanted.fingerprint, tags, status))
            self._remember(rows, write=batch)
        self._count("refused" if refused else "upserted", len(rows), calls=0)

    def _create(self, hashes: list[str]) -> None:
        """`POST /lists/{id}` without `update_existing`: new addresses get `new_member_status`;
        one the audience already has (an error item) is upserted one by one instead, so that
        no existing member's status is ever changed."""
        cfg = self.api.config
        members = [{"email_address": self.plan.wanted[h].email, "status": cfg.new_member_status,
                    "merge_fields": self.plan.wanted[h].merge_fields} for h in hashes]
        try:
            answer = self.api.call("POST", self.list_path, {"members": members, "update_existing": False}) or {}
        except MailchimpError as exc:
            self._error(f"creation of {len(hashes)} member(s)", exc)
            return
        self._called()
        not_created = {subscriber_hash(e.get("email_address") or "") for e in answer.get("errors") or []}
        self._upserted([h for h in hashes if h not in not_created])
        with self._lock:
            self.one_by_one.extend(h for h in hashes if h in not_created)

    def _put(self, h: str) -> None:
        """`PUT /lists/{id}/members/{hash}` with `status_if_new`: creates, updates the name,
        brings an archived member back; an existing member's status stays as it is."""
        wanted = self.plan.wanted[h]
        try:
            self.api.call("PUT", f"{self.list_path}/members/{h}",
                          {"email_address": wanted.email, "status_if_new": self.api.config.new_member_status,
                           "merge_fields": wanted.merge_fields})
        except MailchimpError as exc:
            if exc.status == 400:  # an address Mailchimp finds fake, or one permanently deleted there
                self._upserted([h], refused=True, batch=False)
                with self._lock:
                    if not any(e.startswith("member(s) refused") for e in self.result.errors):
                        self.result.errors.append("member(s) refused by Mailchimp (an address it finds invalid, "
                                                  "or one permanently deleted there): left out until they change")
            else:
                self._error("upsert of a member", exc)
            return
        self._called()
        self._upserted([h], batch=False)

    def _tag(self, segment_id: int, tag: str, hashes: list[str]) -> None:
        live = [h for h in hashes if (k := self.known.get(h)) is not None and k.status in ("synced", "unsubscribed")]
        if not live:
            return
        try:
            answer = self.api.call("POST", f"{self.list_path}/segments/{segment_id}",
                                   {"members_to_add": [self.plan.wanted[h].email for h in live],
                                    "members_to_remove": []}) or {}
        except MailchimpError as exc:
            if exc.status == 404:  # the tag was deleted in Mailchimp: made again by the next sync
                self.state.forget_tag(tag)
            self._error(f"tag {tag!r} for {len(live)} member(s)", exc)
            return
        failed = {subscriber_hash(e) for err in answer.get("errors") or [] for e in err.get("email_addresses") or []}
        rows = []
        with self._lock:
            for h in live:
                if h in failed:
                    continue
                known = self.known[h]
                self.known[h] = known = MemberState(known.contact_id, known.fingerprint, known.tags | {tag},
                                                    known.status)
                rows.append((h, known.contact_id, known.fingerprint, known.tags, known.status))
            self._remember(rows, write=True)
        self._count("tagged", len(rows))

    def _untag(self, item: tuple[str, frozenset[str]]) -> None:
        h, tags = item
        if not self._member_call(h, "untag of a member", "POST", "/tags",
                                 {"tags": [{"name": t, "status": "inactive"} for t in sorted(tags)]}):
            return
        with self._lock:
            known = self.known[h]
            self.known[h] = known = MemberState(known.contact_id, known.fingerprint, known.tags - tags, known.status)
            self._remember([(h, known.contact_id, known.fingerprint, known.tags, known.status)], write=False)
        self._count("untagged")

    def _set_status(self, h: str, status: str) -> None:
        with self._lock:
            known = self.known[h]
            self.known[h] = known = MemberState(known.contact_id, known.fingerprint, known.tags, status)
            self._remember([(h, known.contact_id, known.fingerprint, known.tags, status)], write=False)

    def _member_call(self, h: str, what: str, method: str, suffix: str = "", body: dict | None = None) -> bool:
        """One call about one member; a member Mailchimp no longer has counts as done."""
        try:
            self.api.call(method, f"{self.list_path}/members/{h}{suffix}", body, missing_ok=True)
        except MailchimpError as exc:
            self._error(what, exc)
            return False
        return True

    def _unsubscribe(self, h: str) -> None:
        if self._member_call(h, "unsubscribe of a member", "PATCH", body={"status": "unsubscribed"}):
            self._set_status(h, "unsubscribed")
            self._count("unsubscribed")

    def _archive(self, h: str) -> None:
        if h in self.plan.untags and self.known[h].tags:
            return  # its tags could not be dropped: archived next sync, after them
        if self._member_call(h, "archive of a member", "DELETE"):
            self._set_status(h, "archived")
            self._count("archived")

    def _erase(self, h: str) -> None:
        if self._member_call(h, "permanent deletion of an erased member", "POST", "/actions/delete-permanent"):
            self.state.forget([h])
            self._count("erased")


def run_sync(settings: Settings, *, dry_run: bool = False, config: MailchimpConfig | None = None,
             confirm_removals: bool = False) -> SyncResult:
    """Sync the opted-in segments' exports to the Mailchimp audience; see the module doc.

    Archiving more than EXPORT_MAX_REMOVE_SHARE of the synced members (of at least 20, the
    exports' own rule for a list) is held unless `confirm_removals`: the rest of the sync goes on."""
    result = SyncResult(dry_run=dry_run)
    config = config or MailchimpConfig.from_config()
    why_not = config.missing()
    if why_not:
        result.skipped = f"Mailchimp not configured: {why_not}"
        return result
    result.segments = synced_segments(settings)
    state = SyncState(state_path(settings), config.list_id, read_only=dry_run)
    try:
        members = state.members()
        if not result.segments and not members:
            result.skipped = ("no segment opts in to the Mailchimp sync (meta.mailchimp in "
                              "models/segments/_segments.yml)")
            return result
        plan = plan_sync(settings, members, result.segments)
        live = sum(1 for m in members.values() if m.status == "synced")
        if not confirm_removals and live >= MIN_ROWS_TO_HOLD and len(plan.archives) > max_remove_share() * live:
            # a segment that stopped opting in, or a wrong warehouse: held, as the exports hold
            # a list that would shrink too much; opt-outs and erasures are never held
            result.held = len(plan.archives)
            plan.archives = []
            plan.untags = {h: tags for h, tags in plan.untags.items() if h in plan.wanted
                           or h in plan.unsubscribes}
        result.planned = plan.counts()
        if plan.unknown:
            result.errors.append(f"{plan.unknown:,} synced member(s) belong to contacts this warehouse does not "
                                 "know (is CONTACTS_WAREHOUSE the one that synced them?): left as they are")
        if dry_run or not any(result.planned.values()):
            return result
        Syncer(MailchimpApi(config), state, plan, result).run()
    finally:
        state.close()
    return result


def describe_sync(result: SyncResult) -> tuple[list[str], list[list[object]]]:
    """Headers and rows of the sync summary: planned and done per action."""
    planned = {"upserted": "upserts", "tagged": "tag adds", "untagged": "untags", "unsubscribed": "unsubscribes",
               "archived": "archives", "erased": "erasures"}
    rows = [[action, result.planned.get(planned.get(action, ""), "") if action in planned else "",
             "" if result.dry_run else result.done[action]] for action in ACTIONS]
    return ["change", "planned", "done"], rows


__all__ = ["MailchimpConfig", "MailchimpError", "SyncResult", "describe_sync", "run_sync", "subscriber_hash"]
