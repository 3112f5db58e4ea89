"""dlt source for the landing folder: contacts, quarantined rows, suppression entries and a per-file load log.

Each file is loaded once per content: the resource state remembers the
sha256 of every file it loaded, so a re-run loads nothing new and a changed
file (new bytes under the same name) is loaded again. (Not a
`dlt.sources.incremental` cursor: a content hash is not monotonic, and a
re-exported file may carry an older modification time.) The state travels in
the same load package as the data, so a run killed before its load finished
is completed by the next run, never loaded twice.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.landing.mapping import (
    CANONICAL_FIELDS,
    HeaderAliases,
    MappedFile,
    map_file,
    normalise_header,
    source_system_from_file_name,
)
from ingestion.landing.readers import LINE_NUMBER, ROW_NUMBER, ParsedFile, UnreadableFile, read_file
from ingestion.suppression import HASH_COLUMNS, SHA256_HEX, SUPPRESSION_SOURCE, hash_emails, hmac_emails
from ingestion.suppression import RAW_TABLE as SUPPRESSION_TABLE

log = logging.getLogger(__name__)

CONTACTS_TABLE = "contacts"
QUARANTINE_TABLE = "quarantined_rows"
FILE_LOADS_TABLE = "file_loads"
UTC_TS = pa.timestamp("us", tz="UTC")

# Raw table layouts. Every contact value stays text, as the file had it; keys are NOT NULL.
CONTACTS_SCHEMA = pa.schema(
    [pa.field(f, pa.string()) for f in CANONICAL_FIELDS]
    + [pa.field("extra_fields", pa.string()),
       pa.field("_file_load_id", pa.string(), nullable=False),
       pa.field("_source_file", pa.string(), nullable=False),
       pa.field("_source_row_number", pa.int64(), nullable=False),
       pa.field("_source_line_number", pa.int64()),
       pa.field("_loaded_at", UTC_TS, nullable=False)])
QUARANTINE_SCHEMA = pa.schema([
    pa.field("quarantine_key", pa.string(), nullable=False),
    pa.field("_file_load_id", pa.string(), nullable=False),
    pa.field("_source_file", pa.string(), nullable=False),
    pa.field("_source_file_sha256", pa.string(), nullable=False),
    pa.field("_source_row_number", pa.int64()),
    pa.field("_source_line_number", pa.int64()),
    pa.field("reason_code", pa.string(), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
    pa.field("raw_text", pa.string()),
    pa.field("_loaded_at", UTC_TS, nullable=False),
])
FILE_LOADS_SCHEMA = pa.schema([
    pa.field("file_load_id", pa.string(), nullable=False),
    pa.field("file_path", pa.string(), nullable=False),
    pa.field("file_sha256", pa.string(), nullable=False),
    pa.field("file_size_bytes", pa.int64()), pa.field("file_modified_at", UTC_TS),
    pa.field("file_format", pa.string()), pa.field("encoding", pa.string()),
    pa.field("delimiter", pa.string()), pa.field("source_system", pa.string()),
    pa.field("column_mapping", pa.string()), pa.field("rows_read", pa.int64()),
    pa.field("rows_loaded", pa.int64()), pa.field("rows_quarantined", pa.int64()),
    pa.field("status", pa.string(), nullable=False), pa.field("error_message", pa.string()),
    pa.field("started_at", UTC_TS), pa.field("finished_at", UTC_TS),
    pa.field("_loaded_at", UTC_TS, nullable=False),
    # a page read from a CRM's API: which cursor it covers (JSON: field, from, to)
    pa.field("api_cursor", pa.string()),
])
# the suppression list's landing files, hashed at load: the raw table holds no addresses
SUPPRESSION_SCHEMA = pa.schema([
    pa.field("email_sha256", pa.string(), nullable=False),
    pa.field("reason", pa.string()),
    pa.field("suppressed_on", pa.string()),
    pa.field("_file_load_id", pa.string(), nullable=False),
    pa.field("_source_file", pa.string(), nullable=False),
    pa.field("_source_row_number", pa.int64(), nullable=False),
    pa.field("_source_line_number", pa.int64()),
    pa.field("_loaded_at", UTC_TS, nullable=False),
])
SUPPRESSED = "suppressed"
# (file load, row number) is the contacts key; staging joins it into contact_record_id.
# The file's sha256 is in file_loads, once per file rather than once per row.
TABLES = {CONTACTS_TABLE: (CONTACTS_SCHEMA, ["_file_load_id", "_source_row_number"]),
          QUARANTINE_TABLE: (QUARANTINE_SCHEMA, "quarantine_key"),
          FILE_LOADS_TABLE: (FILE_LOADS_SCHEMA, "file_load_id"),
          SUPPRESSION_TABLE: (SUPPRESSION_SCHEMA, ["_file_load_id", "_source_row_number"])}


@dataclass
class FileReport:
    """What happened to one landing file in this run; also one row of the file_loads table."""

    file_load_id: str
    file_path: str
    file_sha256: str
    file_size_bytes: int
    file_modified_at: datetime
    file_format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    source_system: str | None = None
    column_mapping: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    status: str = "loaded"
    error_message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    api_cursor: str | None = None
    quarantine_reasons: dict[str, int] = field(default_factory=dict)


def discover_files(landing_dir: Path) -> list[Path]:
    """Every regular file under the landing folder, skipping hidden files and folders."""
    if not landing_dir.exists():
        return []
    return sorted(p for p in landing_dir.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(landing_dir).parts))


def unchanged_since_loaded(seen: dict | None, stat: os.stat_result) -> bool:
    """A landing file is not read again when it has the size and modification time it had
    when it was loaded (`seen`: its entry in the pipeline's file state). A file touched but
    not changed is read, and found to hold the same bytes (its SHA-256)."""
    return bool(seen) and seen.get("size") == stat.st_size and seen.get("mtime_ns") == stat.st_mtime_ns


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _constant(value: Any, n: int, type_: pa.DataType) -> pa.Array:
    return pa.array([value] * n, type_) if n < 1024 else pa.repeat(pa.scalar(value, type_), n)


def build_contacts_table(mapped: pa.Table, report: FileReport, loaded_at: datetime) -> pa.Table:
    """Canonical columns + lineage: file load, file, row and line number, load time."""
    n = mapped.num_rows
    table = mapped.drop_columns([ROW_NUMBER, LINE_NUMBER])
    lineage = {
        "_file_load_id": _constant(report.file_load_id, n, pa.string()),
        "_source_file": _constant(report.file_path, n, pa.string()),
        "_source_row_number": mapped.column(ROW_NUMBER),
        "_source_line_number": mapped.column(LINE_NUMBER),
        "_loaded_at": _constant(loaded_at, n, pa.timestamp("us", tz="UTC")),
    }
    for name, column in lineage.items():
        table = table.append_column(name, column)
    return table.select(CONTACTS_SCHEMA.names).cast(CONTACTS_SCHEMA)


def build_quarantine_table(rows: list[dict], loaded_at: datetime) -> pa.Table:
    for row in rows:
        row["_loaded_at"] = loaded_at
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)


def build_file_load_table(report: FileReport, loaded_at: datetime) -> pa.Table:
    row = asdict(report)
    row.pop("quarantine_reasons")
    row["_loaded_at"] = loaded_at
    return pa.Table.from_pylist([row], schema=FILE_LOADS_SCHEMA)


def file_load_id(rel_path: str, sha: str, earlier_loads: int = 0) -> str:
    """A file load's id, from the data alone: the file's path and content (and how many times
    that same content under that path was loaded before: a file changed, then changed back).
    Record ids, and so contact ids, are built on it, so a warehouse rebuilt from the same
    landing files gets the same ids, whenever and in whatever order they are loaded."""
    return hashlib.sha256(f"{rel_path}|{sha}|{earlier_loads}".encode()).hexdigest()[:32]


def process_file(path: Path, rel_path: str, data: bytes, sha: str, aliases: HeaderAliases,
                 loaded_at: datetime, earlier_loads: int = 0) -> tuple[FileReport, pa.Table | None, list[dict]]:
    """Parse, map and account for one file. Never raises for bad content: the report says what failed."""
    stat = path.stat()
    report = FileReport(
        file_load_id=file_load_id(rel_path, sha, earlier_loads),
        file_path=rel_path, file_sha256=sha, file_size_bytes=stat.st_size,
        file_modified_at=_utc(stat.st_mtime), started_at=datetime.now(UTC),
    )
    # a failed attempt loads no row; its log entry gets an id of its own (it is tried again)
    failed_id = hashlib.sha256(f"{rel_path}|{sha}|failed|{loaded_at.isoformat()}".encode()).hexdigest()[:32]
    file_source = source_system_from_file_name(path.name)
    report.source_system = file_source
    try:
        parsed = read_file(path, data)
        if file_source == SUPPRESSION_SOURCE:
            return _process_suppression_file(parsed, report, aliases, loaded_at)
        mapped = map_file(parsed, aliases, file_source)
    except UnreadableFile as exc:
        report.status, report.error_message = "failed", str(exc)
        report.file_load_id, report.finished_at = failed_id, datetime.now(UTC)
        return report, None, []
    except Exception as exc:  # noqa: BLE001 - one broken file must not stop the others
        log.exception("unexpected error reading %s", rel_path)
        report.status, report.error_message = "failed", f"{type(exc).__name__}: {exc}"
        report.file_load_id, report.finished_at = failed_id, datetime.now(UTC)
        return report, None, []

    return account_mapped(parsed, mapped, report, file_source, loaded_at)


def account_mapped(parsed: ParsedFile, mapped: MappedFile, report: FileReport, file_source: str | None,
                   loaded_at: datetime) -> tuple[FileReport, pa.Table, list[dict]]:
    """The contacts table and the quarantine rows of a mapped file (or page of CRM records),
    with every row read accounted for in the report (read = loaded + quarantined)."""
    rel_path = report.file_path
    report.file_format, report.encoding, report.delimiter = parsed.file_format, parsed.encoding, parsed.delimiter
    report.column_mapping = json.dumps({"fields": mapped.column_mapping, "extra_columns": mapped.extra_columns},
                                       ensure_ascii=False)
    if file_source is None and "source_system" not in mapped.column_mapping:
        log.warning("%s: no '<source>__' file-name prefix and no source_system column; "
                    "source_system is 'unknown'", rel_path)
        report.source_system = "unknown"

    quarantine: list[dict] = []
    for reject in parsed.rejects:
        quarantine.append({"line": reject.line_number, "row": reject.row_number, "code": reject.reason_code,
                           "reason": reject.reason, "raw": reject.raw_text})
    for row, line, code, reason, raw in mapped.quarantined:
        quarantine.append({"line": line, "row": row, "code": code, "reason": reason, "raw": raw})
    quarantine_rows = _quarantine_rows(report, quarantine)

    contacts = build_contacts_table(mapped.contacts, report, loaded_at)
    report.rows_loaded = contacts.num_rows
    report.rows_quarantined = len(quarantine_rows)
    report.rows_read = parsed.rows_read
    if report.rows_read != report.rows_loaded + report.rows_quarantined:  # guard the accounting itself
        raise RuntimeError(f"{rel_path}: {report.rows_read} rows read but {report.rows_loaded} loaded "
                           f"+ {report.rows_quarantined} quarantined")
    report.finished_at = datetime.now(UTC)
    return report, contacts, quarantine_rows


def _quarantine_rows(report: FileReport, quarantine: list[dict], key_prefix: str = "q") -> list[dict]:
    """Quarantine table rows for one file, keyed by file load and position; counted by reason."""
    for q in quarantine:
        report.quarantine_reasons[q["code"]] = report.quarantine_reasons.get(q["code"], 0) + 1
    return [{
        "quarantine_key": f"{report.file_load_id}-{key_prefix}{i + 1}",
        "_file_load_id": report.file_load_id, "_source_file": report.file_path,
        "_source_file_sha256": report.file_sha256, "_source_row_number": q["row"], "_source_line_number": q["line"],
        "reason_code": q["code"], "reason": q["reason"], "raw_text": q["raw"],
    } for i, q in enumerate(quarantine)]


def _process_suppression_file(parsed: Any, report: FileReport, aliases: HeaderAliases,
                              loaded_at: datetime) -> tuple[FileReport, pa.Table, list[dict]]:
    """A suppression list: one entry per row with an address (hashed here, keyed: email_hmac)
    or a hash (a client's email_sha256, or an email_hash / email_hmac the project wrote)."""
    table = parsed.table
    mapping, _ = aliases.map_headers(parsed.headers)
    by_name = {normalise_header(h): h for h in parsed.headers}
    hash_column = next((by_name[c] for c in HASH_COLUMNS if c in by_name), None)
    if "email" not in mapping and hash_column is None:
        raise UnreadableFile("a suppression file needs an 'email' or an 'email_sha256' column")
    hashes = (hmac_emails(table.column(mapping["email"])).to_pylist() if "email" in mapping
              else [None] * table.num_rows)
    given = table.column(hash_column).to_pylist() if hash_column else None
    reasons = table.column(by_name["reason"]).to_pylist() if "reason" in by_name else [None] * table.num_rows
    dates = (table.column(by_name["suppressed_on"]).to_pylist() if "suppressed_on" in by_name
             else [None] * table.num_rows)
    rows, quarantine = [], [{"line": r.line_number, "row": r.row_number, "code": r.reason_code,
                             "reason": r.reason, "raw": r.raw_text} for r in parsed.rejects]
    row_numbers, line_numbers = table.column(ROW_NUMBER).to_pylist(), table.column(LINE_NUMBER).to_pylist()
    for i in range(table.num_rows):
        digest = hashes[i] or (given[i].strip().lower() if given and given[i] else None)
        if digest is None or not SHA256_HEX.match(digest):
            # no address is kept: the row is reported by its position only
            quarantine.append({"line": line_numbers[i], "row": row_numbers[i], "code": "no_suppression_key",
                               "reason": "suppression row without an email address or a 64-hex hash",
                               "raw": None})
            continue
        rows.append({"email_sha256": digest, "reason": reasons[i], "suppressed_on": dates[i],
                     "_file_load_id": report.file_load_id, "_source_file": report.file_path,
                     "_source_row_number": row_numbers[i], "_source_line_number": line_numbers[i],
                     "_loaded_at": loaded_at})
    report.file_format, report.encoding, report.delimiter = parsed.file_format, parsed.encoding, parsed.delimiter
    report.source_system = SUPPRESSION_SOURCE
    quarantine_rows = _quarantine_rows(report, quarantine)
    report.rows_read, report.rows_loaded, report.rows_quarantined = parsed.rows_read, len(rows), len(quarantine_rows)
    report.finished_at = datetime.now(UTC)
    return report, pa.Table.from_pylist(rows, schema=SUPPRESSION_SCHEMA), quarantine_rows


def drop_suppressed(contacts: pa.Table, report: FileReport, suppressed: set[str]) -> tuple[pa.Table, list[dict]]:
    """Contact rows whose address is on the suppression list are not loaded; their quarantine
    rows say where they were and why, and keep none of their text."""
    if not suppressed or contacts.num_rows == 0:
        return contacts, []
    # the list holds keyed hashes (what the project hashed) and plain sha256 (what others gave)
    listed = pa.array(sorted(suppressed), pa.string())
    hit = pc.or_(pc.fill_null(pc.is_in(hash_emails(contacts.column("email")), value_set=listed), False),
                 pc.fill_null(pc.is_in(hmac_emails(contacts.column("email")), value_set=listed), False))
    if not pc.any(hit).as_py():
        return contacts, []
    dropped = contacts.filter(hit)
    quarantine = [{"line": line, "row": row, "code": SUPPRESSED,
                   "reason": "the e-mail address is on the suppression list", "raw": None}
                  for row, line in zip(dropped.column("_source_row_number").to_pylist(),
                                       dropped.column("_source_line_number").to_pylist())]
    report.rows_loaded -= dropped.num_rows
    report.rows_quarantined += dropped.num_rows
    return contacts.filter(pc.invert(hit)), _quarantine_rows(report, quarantine, key_prefix="s")


def hinted(item: pa.Table, table_name: str) -> Any:
    primary_key = TABLES[table_name][1]
    return dlt.mark.with_hints(
        item, dlt.mark.make_hints(table_name=table_name, primary_key=primary_key, write_disposition="append"),
        create_table_variant=True)


@dataclass
class _Prepared:
    """A landing file after the (thread-safe) work: read, hashed, parsed, mapped."""

    rel: str
    stat: os.stat_result
    sha: str | None = None
    report: FileReport | None = None
    contacts: pa.Table | None = None
    quarantine: list[dict] | None = None
    seconds: float = 0.0


def _prepare(path: Path, rel: str, seen: dict | None, aliases: HeaderAliases, loaded_at: datetime) -> _Prepared:
    """Everything that does not touch dlt state; runs in a worker thread."""
    started = time.perf_counter()
    stat = path.stat()
    data = path.read_bytes()
    sha = _sha256(data)
    prepared = _Prepared(rel, stat, sha)
    if seen and seen["sha256"] == sha:  # touched, not changed
        return prepared
    earlier_loads = (seen or {}).get("loads", {}).get(sha, 0)
    prepared.report, prepared.contacts, prepared.quarantine = process_file(path, rel, data, sha, aliases, loaded_at,
                                                                           earlier_loads)
    prepared.seconds = time.perf_counter() - started
    return prepared


def _ordered_in_threads(tasks: list[Callable[[], _Prepared]], workers: int = 2) -> Iterator[_Prepared]:
    """Run tasks two at a time, yield results in order: the next file is parsed while dlt writes this one.

    At most `workers` files are held in memory at once.
    """
    pending: deque[Future[_Prepared]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="landing") as pool:
        for task in tasks:
            pending.append(pool.submit(task))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@dlt.resource(name="landing_files", write_disposition="append")
def landing_files(landing_dir: str, aliases_path: str, reports: list[FileReport] | None = None,
                  loaded_at: datetime | None = None, suppressed: set[str] | None = None) -> Iterator[Any]:
    """Yield contacts, quarantined rows and one load-log row for every new or changed file.

    Suppression files go first: the hashes they add, with `suppressed` (the list before
    this run), keep the addresses on the list out of this run's contact rows.
    """
    suppressed = set(suppressed or ())
    loaded_at = loaded_at or datetime.now(UTC)
    aliases = HeaderAliases.from_file(Path(aliases_path))
    state = dlt.current.resource_state().setdefault("files", {})
    root = Path(landing_dir)
    # empty, typed tables first: all raw tables exist from the first run on,
    # even when nothing was ever quarantined (the dbt sources rely on that)
    for name, (schema, _) in TABLES.items():
        yield hinted(schema.empty_table(), name)

    tasks = []
    paths = discover_files(root)
    paths.sort(key=lambda p: source_system_from_file_name(p.name) != SUPPRESSION_SOURCE)
    for path in paths:
        rel = path.relative_to(root).as_posix()
        stat = path.stat()
        seen = state.get(rel)
        if unchanged_since_loaded(seen, stat):
            continue  # not even read
        tasks.append(functools.partial(_prepare, path, rel, seen, aliases, loaded_at))

    for prepared in _ordered_in_threads(tasks):
        rel, report = prepared.rel, prepared.report
        if report is None:  # same bytes, new mtime
            state[rel]["mtime_ns"] = prepared.stat.st_mtime_ns
            continue
        if report.source_system == SUPPRESSION_SOURCE and prepared.contacts is not None:
            suppressed |= set(prepared.contacts.column("email_sha256").to_pylist())
            yield hinted(prepared.contacts, SUPPRESSION_TABLE)
        elif prepared.contacts is not None:
            contacts, dropped = drop_suppressed(prepared.contacts, report, suppressed)
            prepared.quarantine = (prepared.quarantine or []) + dropped
            if contacts.num_rows:
                yield hinted(contacts, CONTACTS_TABLE)
        if prepared.quarantine:
            yield hinted(build_quarantine_table(prepared.quarantine, loaded_at), QUARANTINE_TABLE)
        yield hinted(build_file_load_table(report, loaded_at), FILE_LOADS_TABLE)
        if report.status == "loaded":
            loads = dict((state.get(rel) or {}).get("loads", {}))
            loads[prepared.sha] = loads.get(prepared.sha, 0) + 1
            state[rel] = {"sha256": prepared.sha, "size": prepared.stat.st_size,
                          "mtime_ns": prepared.stat.st_mtime_ns, "loads": loads}
        log.info("%s: %s, %d read, %d loaded, %d quarantined in %.2fs", rel, report.status,
                 report.rows_read, report.rows_loaded, report.rows_quarantined, prepared.seconds)
        if reports is not None:
            reports.append(report)


@dlt.source(name="landing")
def landing_source(landing_dir: str = dlt.config.value, aliases_path: str = dlt.config.value,
                   reports: list[FileReport] | None = None, loaded_at: datetime | None = None,
                   suppressed: set[str] | None = None) -> Any:
    """All contact and suppression files in the landing folder (CSV, JSONL, Parquet)."""
    return landing_files(landing_dir, aliases_path, reports, loaded_at, suppressed)
