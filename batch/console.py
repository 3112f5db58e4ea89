"""What the commands print: plain-text tables of loads, exports and the warehouse's row counts."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ingestion.pipelines import read_warehouse
from ingestion.settings import Settings

if TYPE_CHECKING:
    from batch.audience_sync import SyncResult
    from batch.exports import ExportResult
    from ingestion.landing.load import LoadResult


def render_table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain-text table; numbers right-aligned."""
    cells = [[("" if c is None else f"{c:,}" if isinstance(c, int) else str(c)) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) and rows
               for i in range(len(headers))]

    def fmt(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths)))

    lines = [fmt(headers), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def print_load_result(result: LoadResult) -> None:
    if result.recovered_packages:
        print(f"Recovered {result.recovered_packages} load package(s) left by an interrupted run.")
    if not result.reports:
        print("No new or changed files in the landing folder: nothing to load.")
    else:
        rows = [[r.file_path, r.source_system, r.file_format, r.rows_read, r.rows_loaded, r.rows_quarantined,
                 r.status] for r in result.reports]
        total = [sum(r.rows_read for r in result.reports), sum(r.rows_loaded for r in result.reports),
                 sum(r.rows_quarantined for r in result.reports)]
        rows.append(["total", "", "", *total, ""])
        print(render_table(["file", "source", "format", "read", "loaded", "quarantined", "status"], rows))
        for r in result.reports:
            if r.status != "loaded":
                print(f"ERROR {r.file_path}: {r.error_message}", file=sys.stderr)
            elif r.quarantine_reasons:
                reasons = ", ".join(f"{n} {code}" for code, n in sorted(r.quarantine_reasons.items()))
                print(f"  {r.file_path}: quarantined {reasons} (see raw_landing.quarantined_rows)")
    print_crm_pulls(result)


def print_crm_pulls(result: LoadResult) -> None:
    """One row per CRM read by API (its pages are rows of raw_landing.file_loads), and one line
    for the CRMs without credentials."""
    if result.crm_pulls:
        rows = [[p.crm, p.pages, p.rows_read, p.rows_loaded, p.rows_quarantined, "failed" if p.error else "loaded"]
                for p in result.crm_pulls]
        print(render_table(["CRM (API)", "pages", "read", "loaded", "quarantined", "status"], rows))
        for p in result.failed_crms:
            print(f"ERROR CRM {p.crm}: {p.error}; what was read before stays loaded, the next run resumes there",
                  file=sys.stderr)
    if result.crm_skipped:
        print(f"CRM APIs not read, no credentials: {'; '.join(result.crm_skipped)}")


def print_export_result(result: ExportResult) -> None:
    rows = [[s.segment, s.rows, s.adds, s.removes, s.owner, "held back" if s in result.held else ""]
            for s in result.segments]
    print(render_table(["segment", "rows", "adds", "removes", "owner", ""], rows))
    for s in result.held:
        print(f"HELD BACK {s.segment}: the new export would remove {s.removes:,} of {s.previous_rows:,} contacts "
              "(more than EXPORT_MAX_REMOVE_SHARE); the previous files stay. `contacts export "
              "--confirm-removals` writes it.", file=sys.stderr)
    for segment, why in result.refused.items():
        print(f"NOT EXPORTED {segment}: {why}", file=sys.stderr)
    print(f"files and manifest.json in {result.export_dir}")


LAYER_OUTPUTS = [("cleaned", "cleaned_contacts"), ("deduped", "contact_identity_map"),
                 ("deduped", "golden_contacts"), ("deduped", "contact_id_aliases"),
                 ("raw_enrichment", "provider_responses"), ("enriched", "enrichment_requests"),
                 ("enriched", "dim_contacts"), ("exports", "segment_memberships"),
                 ("exports", "campaign_export_contacts")]


def summarise_warehouse(settings: Settings) -> list[list[object]]:
    """Row counts of the raw and staging tables and of what each later layer hands on."""
    rows: list[list[object]] = []
    with read_warehouse(settings) as con:
        if con is None:
            return rows
        tables = con.execute("select table_schema, table_name from information_schema.tables "
                             "where table_schema in ('raw_landing', 'staging') and table_name not like '\\_dlt%' "
                             "escape '\\' order by table_schema, table_name").fetchall()
        # and what each later layer hands on, once it is built
        built = {tuple(r) for r in con.execute("select table_schema, table_name from information_schema.tables")
                 .fetchall()}
        tables += [t for t in LAYER_OUTPUTS if t in built]
        for schema, name in tables:
            n = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
            rows.append([f"{schema}.{name}", n])
    return rows


def print_sync_result(result: SyncResult) -> None:
    """The Mailchimp sync's summary: counts only, never an address."""
    from batch.audience_sync import describe_sync

    if result.skipped:
        print(f"Mailchimp sync skipped: {result.skipped}.")
        return
    tags = ", ".join(f"{segment} as {tag!r}" for segment, tag in sorted(result.segments.items()))
    print(f"segments synced: {tags or 'none (members of segments that stopped opting in leave)'}")
    headers, rows = describe_sync(result)
    print(render_table(headers, rows))
    if result.dry_run:
        print("Dry run: nothing was sent.")
    if result.held:
        print(f"HELD BACK {result.held:,} archive(s): more than EXPORT_MAX_REMOVE_SHARE of the synced members "
              "would leave the audience; if that is right, run `contacts sync --confirm-removals`", file=sys.stderr)
    for error in result.errors:
        print(f"WARNING {error}", file=sys.stderr)
