"""What is new for a night: the inputs each dbt phase is built from, and the landing backlog.

A night with nothing new costs next to nothing. Before a dbt phase, the nightly run takes a
fingerprint of everything the phase's models read that the night does not write itself:

- the raw tables' rows: per table its row count and its latest dlt load (the landing
  files' rows, quarantined rows, file loads and suppressions; the providers' answers for
  the phase after the enrichment), or a hash of every row for the small tables dlt does
  not load (the reviewers' merge decisions);
- the project's code and seeds (runner.project_fingerprint), the versions of the packages
  that compute values (dbt, its adapter, DuckDB, the Python normalisers' libraries) and
  the settings the models read (the normalisers' mode), the Python functions' code.

When it equals the fingerprint the same phase was last built from, in full and
successfully, the phase's models would come out as they are: the night builds only what
reads the clock or the providers' answers (the selectors `nightly_nothing_new_*` in
selectors.yml) and records why. dbt's own rebuild of every model and test is what costs;
the fingerprint is a few catalog queries and row counts.

DuckDB only (the warehouse's raw tables): on Spark every phase is built in full.

`landing_backlog` counts the rows of the landing files the next load would read (new or
changed since they were loaded): `contacts run --min-new-rows N` starts a night only when
there are at least N (the data, not the clock, starts it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from hashlib import sha256
from importlib import metadata
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from ingestion.landing import discover_files, unchanged_since_loaded
from ingestion.landing.readers import CSV_SUFFIXES, JSONL_SUFFIXES, PARQUET_SUFFIXES
from ingestion.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)

# the raw schemas each dbt phase reads (the nightly run's phases, runner.SELECTORS). The
# phase before the enrichment reads the providers' answers only through the models of
# `nightly_nothing_new_before`, which a night with nothing new builds anyway
RAW_SCHEMAS = {
    "normalise_inputs": ("raw_landing", "review"),
    "build_before_enrichment": ("raw_landing", "review"),
    "build_after_enrichment": ("raw_landing", "review", "raw_enrichment"),
}
# the packages whose versions can change a computed value, and the Python functions' code
PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb", "phonenumbers", "nameparser", "usaddress")
FUNCTIONS = (REPO_ROOT / "batch" / "duckdb_functions.py", REPO_ROOT / "batch" / "street_address.py")


def _versions() -> list[str]:
    versions = []
    for package in PACKAGES:
        try:
            versions.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} absent")
    return versions


def _table_state(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[object]:
    """A table's row count and latest dlt load, or (no dlt load column) a hash of its rows."""
    relation = f'"{schema}"."{table}"'
    columns = {row[0] for row in con.execute(f"describe {relation}").fetchall()}
    if "_dlt_load_id" in columns:
        return list(con.execute(f"select count(*), max(_dlt_load_id) from {relation}").fetchone())
    return list(con.execute(f"select count(*), bit_xor(hash(t)) from {relation} as t").fetchone())


def inputs_fingerprint(settings: Settings, phase: str, project: str) -> str | None:
    """The fingerprint of what `phase` is built from (see the module's doc), or None when
    there is none to take: another engine, raw tables outside the warehouse, a phase this
    module does not know, a warehouse not created yet."""
    schemas = RAW_SCHEMAS.get(phase)
    if (schemas is None or settings.target != "duckdb" or settings.raw_destination != "duckdb"
            or not settings.warehouse.exists()):
        return None
    parts: dict[str, object] = {"project": project, "packages": _versions(), "normalisers": settings.normalisers,
                                "functions": [sha256(path.read_bytes()).hexdigest() for path in FUNCTIONS]}
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name, table_type from information_schema.tables "
            "where table_schema in (select unnest(?)) order by 1, 2", [list(schemas)]).fetchall()
        # dlt's own tables change with every load, also one that brings nothing (_dlt_loads).
        # An empty table counts as none: the first night's dbt creates the review table
        states = {f"{s}.{t}": _table_state(con, s, t) for s, t, kind in tables
                  if kind == "BASE TABLE" and not t.startswith("_dlt_")}
        parts["raw"] = {name: state for name, state in states.items() if state[0]}
    finally:
        con.close()
    text = json.dumps(parts, sort_keys=True, default=str)
    log.debug("inputs of %s: %s", phase, text)
    return sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------ landing ----

@dataclass
class Backlog:
    files: int = 0  # new or changed landing files
    rows: int = 0  # their data rows (CSV and JSONL: lines after the header; Parquet: rows)
    uncounted: int = 0  # files whose rows cannot be counted (an unknown type): the load reports them


def _rows(path: Path) -> int | None:
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        try:
            return pq.ParquetFile(path).metadata.num_rows
        except Exception:  # noqa: BLE001 - not Parquet after all: the load says why
            return None
    if suffix not in CSV_SUFFIXES | JSONL_SUFFIXES:
        return None
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    lines += last != b"\n"  # a last line without its newline
    return max(0, lines - (suffix in CSV_SUFFIXES))  # the header


def landing_backlog(settings: Settings, loaded: dict[str, dict]) -> Backlog:
    """The landing files the next load would read: those not unchanged since the landing
    pipeline loaded them (`loaded`: its record of the files, by path under the folder; the
    loader's own rule, ingestion.landing.unchanged_since_loaded). A file touched but not
    changed counts: only reading it tells."""
    backlog = Backlog()
    root = settings.landing_dir
    for path in discover_files(root):
        if unchanged_since_loaded(loaded.get(path.relative_to(root).as_posix()), path.stat()):
            continue
        backlog.files += 1
        rows = _rows(path)
        if rows is None:
            backlog.uncounted += 1
        else:
            backlog.rows += rows
    return backlog
