"""The suppression list: addresses that are never loaded again, enriched or exported.

Held as hashes, so the list itself holds no addresses. An address the project hashes
itself (a client's unsubscribe file, an erasure) is kept as HMAC-SHA256 of the
lower-cased, trimmed address with the project's secret key (`[privacy] suppression_key`
in .dlt/secrets.toml, or PRIVACY__SUPPRESSION_KEY; created on first use): a plain sha256
could be reversed by hashing a list of likely addresses. A hash someone else supplies (an
`email_sha256` column of a client's file, the seed) is the plain sha256 they computed. A
record is suppressed when either hash of its address is listed. The list has three
inputs, all read by the dbt model `suppression_list`:

* the `suppressed_emails` seed (analysts edit it, reviewed in git);
* landing files named `suppression__*.csv|jsonl|parquet` (a client's unsubscribe list),
  with an `email` column (any header alias of it) or an `email_sha256` column, and
  optional `reason` and `suppressed_on` columns; loaded into raw_landing.suppressed_emails;
* `suppression__erasures.csv` in the landing folder, which `contacts forget`
  appends to (hashes only), so an erased person stays suppressed even when the
  warehouse is rebuilt from the landing folder.

The landing loader drops (quarantines, without the row's text) every contact row whose
address is on the list: a suppressed person is not re-imported.
"""

from __future__ import annotations

import csv
import fcntl
import functools
import hashlib
import hmac
import os
import re
import secrets
import tomllib
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.pipelines import raw_tables
from ingestion.settings import REPO_ROOT, Settings, table_exists

SUPPRESSION_SOURCE = "suppression"
ERASURE_FILE = "suppression__erasures.csv"
SEED_FILE = REPO_ROOT / "seeds" / "suppressed_emails.csv"
RAW_TABLE = "suppressed_emails"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# columns a suppression file may give hashes in (64 hex digits each); the erasure list uses the first
HASH_COLUMNS = ("email_hash", "email_hmac", "email_sha256")
FILE_HEADER = ["email_hash", "suppressed_on", "reason"]
KEY_ENV = "PRIVACY__SUPPRESSION_KEY"
SECRETS_FILE = REPO_ROOT / ".dlt" / "secrets.toml"


def normalise_email(address: str) -> str:
    return address.strip().lower()


def email_sha256(address: str) -> str:
    """Plain sha256 hex of the lower-cased, trimmed address: how others share hashed lists."""
    return hashlib.sha256(normalise_email(address).encode("utf-8")).hexdigest()


def create_key(secrets_file: Path) -> str:
    """The key in `secrets_file`'s [privacy] section, created there (mode 600) when missing.
    An exclusive lock on the file keeps two first runs from writing two keys."""
    secrets_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(secrets_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        text = secrets_file.read_text(encoding="utf-8")
        key = tomllib.loads(text).get("privacy", {}).get("suppression_key")
        if not key:
            key = secrets.token_hex(32)
            line = f'suppression_key = "{key}"  # the suppression list\'s HMAC key: keep it, back it up\n'
            section = re.search(r"^\[privacy\][ \t]*\n?", text, re.MULTILINE)
            if section:  # the section is there (copied from example.secrets.toml), the key is not
                text = text[:section.end()] + ("" if section.group().endswith("\n") else "\n") + line \
                    + text[section.end():]
            else:
                text += ("\n" if text and not text.endswith("\n") else "") + "\n[privacy]\n" + line
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, text.encode("utf-8"))
        return key
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@functools.cache
def suppression_key() -> bytes:
    """PRIVACY__SUPPRESSION_KEY, else `[privacy] suppression_key` in .dlt/secrets.toml (created
    on first use). Never printed. Losing it un-suppresses nobody already loaded, but the
    hashed lists can no longer be matched against new data: back it up."""
    return (os.environ.get(KEY_ENV) or create_key(SECRETS_FILE)).encode("utf-8")


def email_hmac(address: str) -> str:
    """The list's key for an address the project hashes: HMAC-SHA256 hex, keyed, of the
    lower-cased, trimmed address."""
    return hmac.new(suppression_key(), normalise_email(address).encode("utf-8"), hashlib.sha256).hexdigest()


def hmac_emails(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """email_hmac of each address (null or blank: null)."""
    return pa.array([email_hmac(v) if v is not None and v.strip() else None for v in column.to_pylist()],
                    pa.string())


def hash_emails(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """sha256 hex of each lower-cased, trimmed address (null stays null), in DuckDB."""
    con = duckdb.connect()
    try:
        con.register("emails", pa.table({"email": column}))
        return con.sql("select case when nullif(trim(email), '') is not null "
                       "then sha256(lower(trim(email))) end as h from emails").to_arrow_table().column("h")
    finally:
        con.close()


def known_hashes(settings: Settings) -> set[str]:
    """Every hash on the list before this run: the seed and what earlier loads stored."""
    hashes: set[str] = set()
    if SEED_FILE.exists():  # plain sha256 that analysts enter
        with SEED_FILE.open(newline="", encoding="utf-8") as handle:
            hashes |= {row["email_sha256"].strip().lower() for row in csv.DictReader(handle) if row["email_sha256"]}
    with raw_tables(settings) as con:
        if con is not None and table_exists(con, "raw_landing", RAW_TABLE):
            hashes |= {r[0] for r in con.execute(f"select distinct email_sha256 from raw_landing.{RAW_TABLE}")
                       .fetchall()}
    return hashes


def append_erasures(landing_dir: Path, hashes: Iterable[str], reason: str = "erasure request") -> Path:
    """Add hashes (email_hmac) to the landing folder's erasure list (created with its header
    if missing; a list begun before keyed hashes keeps its email_sha256 header)."""
    path = landing_dir / ERASURE_FILE
    landing_dir.mkdir(parents=True, exist_ok=True)
    existing: set[str] = set()
    if path.exists():
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            column = next((c for c in HASH_COLUMNS if c in (reader.fieldnames or [])), HASH_COLUMNS[0])
            existing = {row[column] for row in reader}
    new = sorted(set(hashes) - existing)
    if not new:
        return path
    write_header = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if write_header:
            writer.writerow(FILE_HEADER)
        today = date.today().isoformat()
        writer.writerows([h, today, reason] for h in new)
    return path
