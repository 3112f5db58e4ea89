"""The suppression list: addresses that are never loaded again, enriched or exported.

Held as the sha256 of the lower-cased, trimmed address, so the list itself holds no
addresses. It has three inputs, all read by the dbt model `suppression_list`:

* the `suppressed_emails` seed (analysts edit it, reviewed in git);
* landing files named `suppression__*.csv|jsonl|parquet` (a client's unsubscribe list),
  with an `email` column (any header alias of it) or an `email_sha256` column, and
  optional `reason` and `suppressed_on` columns; loaded into raw_landing.suppressed_emails;
* `suppression__erasures.csv` in the landing folder, which `python -m ingestion forget`
  appends to (hashes only), so an erased person stays suppressed even when the
  warehouse is rebuilt from the landing folder.

The landing loader drops (quarantines, without the row's text) every contact row whose
address is on the list: a suppressed person is not re-imported.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.settings import REPO_ROOT, Settings, table_exists

SUPPRESSION_SOURCE = "suppression"
ERASURE_FILE = "suppression__erasures.csv"
SEED_FILE = REPO_ROOT / "seeds" / "suppressed_emails.csv"
RAW_TABLE = "suppressed_emails"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
FILE_HEADER = ["email_sha256", "suppressed_on", "reason"]


def normalise_email(address: str) -> str:
    return address.strip().lower()


def email_sha256(address: str) -> str:
    """The list's key for an address: sha256 hex of the lower-cased, trimmed address."""
    return hashlib.sha256(normalise_email(address).encode("utf-8")).hexdigest()


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
    if SEED_FILE.exists():
        with SEED_FILE.open(newline="", encoding="utf-8") as handle:
            hashes |= {row["email_sha256"].strip().lower() for row in csv.DictReader(handle) if row["email_sha256"]}
    if settings.warehouse.exists():
        con = duckdb.connect(str(settings.warehouse), read_only=True)
        try:
            if table_exists(con, "raw_landing", RAW_TABLE):
                hashes |= {r[0] for r in con.execute(f"select distinct email_sha256 from raw_landing.{RAW_TABLE}")
                           .fetchall()}
        finally:
            con.close()
    return hashes


def append_erasures(landing_dir: Path, hashes: Iterable[str], reason: str = "erasure request") -> Path:
    """Add hashes to the landing folder's erasure list (created with its header if missing)."""
    path = landing_dir / ERASURE_FILE
    landing_dir.mkdir(parents=True, exist_ok=True)
    existing: set[str] = set()
    if path.exists():
        with path.open(newline="", encoding="utf-8") as handle:
            existing = {row["email_sha256"] for row in csv.DictReader(handle)}
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
