"""Merge review: `contacts review list | decide | withdraw`.

The deduped layer lists the pairs a person should look at (deduped.deduped_review_pairs:
near the match threshold, held apart by a guard, inside a contact whose records conflict,
or decided). A reviewer's decision on two source records (`must_link`: one person,
`cannot_link`: two people) is a row of review.merge_decisions, which no build rewrites;
the next build honours it (deduped_record_clusters) and every later one keeps it. The
latest decision on a pair wins; `withdraw` ends it.

Records are named by their source record key (`<source_system>:<source_record_id>`, or
the contact_record_id of a record its file gives no id), as the review and
deduped.contact_identity_map show them, so a decision holds for every later export of the
same CRM record.

Nothing personal is printed: keys, probabilities and the evidence's levels only. The
values side by side go to a CSV file only when asked (`review list --out`).
"""

from __future__ import annotations

import csv
import getpass
import logging
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from batch.console import render_table
from batch.lock import AlreadyRunning, RunLock
from ingestion.settings import Settings, table_exists

log = logging.getLogger(__name__)

DECISIONS = ("must_link", "cannot_link")
WITHDRAWN = "withdrawn"
# the columns of a decisions file (`review decide --from-file`): what `review list --out`
# writes, with the decision column filled in by the reviewer
FILE_COLUMNS = ("source_record_key_a", "source_record_key_b", "decision")


class ReviewError(Exception):
    """A decision that cannot be recorded, said in one line (exit status 2)."""


@dataclass(frozen=True)
class Decision:
    key_a: str
    key_b: str
    decision: str
    note: str | None = None


def _connect(settings: Settings, read_only: bool) -> duckdb.DuckDBPyConnection:
    if not settings.warehouse.exists():
        raise ReviewError(f"no warehouse at {settings.warehouse}: run `contacts run` first")
    con = duckdb.connect(str(settings.warehouse), read_only=read_only)
    if not (table_exists(con, "review", "merge_decisions") and table_exists(con, "deduped", "contact_identity_map")):
        con.close()
        raise ReviewError("the warehouse has no deduplicated contacts yet: run `contacts run` (or build) first")
    return con


# ------------------------------------------------------------------ list ----

def list_pairs(settings: Settings, limit: int = 20, out: Path | None = None) -> int:
    """Counts by reason, the `limit` undecided pairs closest to the threshold; all of them to `out`."""
    con = _connect(settings, read_only=True)
    try:
        if not table_exists(con, "deduped", "deduped_review_pairs"):
            raise ReviewError("deduped.deduped_review_pairs is not built yet: run `contacts run` (or build) first")
        counts = con.execute("""
            select review_reason, count(*), count(*) filter (where is_same_contact)
            from deduped.deduped_review_pairs group by review_reason order by review_reason""").fetchall()
        print(render_table(["reason", "pairs", "now in one contact"], [list(row) for row in counts]))
        top = con.execute("""
            select review_rank, source_record_key_a, source_record_key_b, round(match_probability, 3),
                   case when is_same_contact then 'yes' else 'no' end, coalesce(guard, ''), evidence
            from deduped.deduped_review_pairs
            where review_rank is not null
            order by review_rank
            limit ?""", [limit]).fetchall()
        if top:
            print(render_table(["rank", "record a", "record b", "probability", "one contact", "guard", "evidence"],
                               [list(row) for row in top]))
        if out is not None:
            # the reviewer's column first, empty; the decision in force beside it
            cursor = con.execute("""
                select source_record_key_a, source_record_key_b, cast(null as varchar) as decision,
                       cast(null as varchar) as note, pairs.decision as decision_in_force,
                       pairs.* exclude (source_record_key_a, source_record_key_b, decision)
                from deduped.deduped_review_pairs as pairs
                order by review_rank nulls last, source_record_key_a, source_record_key_b""")
            columns = [d[0] for d in cursor.description]
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(columns)
                writer.writerows(cursor.fetchall())
            print(f"wrote every pair to {out} (personal data: keep it where the warehouse is kept). Fill in "
                  f"`decision` (must_link or cannot_link) and record the file with "
                  f"`contacts review decide --from-file {out}`.")
        return 0
    finally:
        con.close()


# ---------------------------------------------------------------- decide ----

def read_decisions(path: Path) -> list[Decision]:
    """The rows of a decisions file whose decision is filled in; other rows are left alone."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in FILE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ReviewError(f"{path}: no column {', '.join(missing)} (expected {', '.join(FILE_COLUMNS)})")
        rows = [(reader.line_num, row) for row in reader]
    decisions = []
    for line, row in rows:
        decision = (row.get("decision") or "").strip().lower()
        if not decision:
            continue
        if decision not in (*DECISIONS, WITHDRAWN):
            raise ReviewError(f"{path}, line {line}: decision {decision!r} is none of "
                              f"{', '.join((*DECISIONS, WITHDRAWN))}")
        note = (row.get("note") or "").strip() or None
        decisions.append(Decision(row["source_record_key_a"].strip(), row["source_record_key_b"].strip(),
                                  decision, note))
    return decisions


def decisions_from_arguments(action: str, decision: str | None, key_a: str | None, key_b: str | None,
                             from_file: str | None, note: str | None) -> list[Decision]:
    """The decisions `review decide` or `review withdraw` was given."""
    if action == "withdraw":
        return [Decision(key_a or "", key_b or "", WITHDRAWN, note)]
    if from_file:
        return read_decisions(Path(from_file))
    if decision and key_a and key_b:
        return [Decision(key_a, key_b, decision, note)]
    raise ReviewError("decide: give DECISION RECORD_A RECORD_B, or --from-file")


def record(settings: Settings, decisions: list[Decision], decided_by: str | None = None) -> int:
    """Append the decisions to review.merge_decisions, under the nightly run's lock."""
    if not decisions:
        raise ReviewError("no decision given")
    lock = RunLock(settings.nightly_dir / "lock")
    try:  # a nightly run holds the warehouse: a decision waits for the morning
        lock.acquire({"run_id": "review", "pid": os.getpid(), "host": "", "started_at": ""})
    except AlreadyRunning as exc:
        print(f"review: not now, {exc}; try again when it has finished", file=sys.stderr)
        return 75
    try:
        return _record(settings, decisions, decided_by or _reviewer())
    finally:
        lock.release()


def _reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "unknown"


def _record(settings: Settings, decisions: list[Decision], decided_by: str) -> int:
    for d in decisions:
        if d.key_a == d.key_b:
            raise ReviewError(f"{d.key_a}: a decision is about two different records")
    con = _connect(settings, read_only=False)
    try:
        keys = sorted({k for d in decisions for k in (d.key_a, d.key_b)})
        known = {row[0] for row in con.execute(
            "select distinct source_record_key from deduped.contact_identity_map "
            "where source_record_key in (select unnest(?::varchar[]))", [keys]).fetchall()}
        unknown = [k for k in keys if k not in known]
        if unknown:
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise ReviewError(f"no record with the key {', '.join(unknown[:5])}{more} in "
                              f"deduped.contact_identity_map (source_record_key); nothing recorded")
        now = datetime.now(UTC).replace(tzinfo=None)  # the table's timestamps are UTC
        con.execute("begin transaction")
        con.executemany("""
            insert into review.merge_decisions
                (source_record_key_a, source_record_key_b, decision, decided_at, decided_by, note)
            values (?, ?, ?, ?, ?, ?)""",
                        [[d.key_a, d.key_b, d.decision, now, decided_by, d.note] for d in decisions])
        con.execute("commit")
    finally:
        con.close()
    by_kind: dict[str, int] = {}
    for d in decisions:
        by_kind[d.decision] = by_kind.get(d.decision, 0) + 1
    print(render_table(["decision", "pairs"], [[k, v] for k, v in sorted(by_kind.items())]))
    print("recorded in review.merge_decisions; the next build (`contacts run` or `contacts build`) honours them")
    log.info("recorded %d merge decision(s)", len(decisions))
    return 0
