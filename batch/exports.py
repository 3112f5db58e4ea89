"""Campaign exports: one CSV and one Parquet file per segment, adds and removes, a manifest.

`contacts export` (and `make run`, after the build) writes, for every segment
of `exports.segment_catalog`, into EXPORT_DIR:

    <segment>/<segment>.csv       every contact of the segment that may be contacted
    <segment>/<segment>.parquet   the same rows, typed
    <segment>/adds.csv            rows not in the previous export of the segment
    <segment>/removes.csv         contacts that were in it and are not any more: id, the
                                  address the campaign tool knows them by, why they left
                                  (REMOVAL_REASONS) and, when merged, the surviving id
    suppressions.csv              every address no campaign may mail (opted out, suppressed)
    manifest.json                 per segment: rows, adds, removes, owner, files + sha256

Rows come from `exports.campaign_export_contacts`, which holds no opted-out or suppressed
contact. The previous export is the segment's Parquet file that manifest.json describes.
Each segment's files are written to a staging folder, then swapped in; the manifest is
written last, so a manifest always describes complete files. A segment that no longer
exists loses its folder.

A segment is exported as it was last built, never older than its definition: one whose
file in models/segments changed after its last successful build keeps its previous files
and is listed in `refused`, as is one defined there that was never built; a segment whose
file is gone is not exported (its folder goes).

A run killed while swapping leaves `.old-<segment>`: the segment's previous export,
kept until the manifest is written. The next run compares with it, so adds and removes
are the same as if the first run had not been interrupted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingestion.faults import checkpoint
from ingestion.landing import file_sha256
from ingestion.pipelines import read_warehouse
from ingestion.settings import REPO_ROOT, Settings, segment_models, table_exists

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SOURCE = "exports.campaign_export_contacts"
# what a campaign tool loads, in this order (the segment name is the file's)
COLUMNS = [
    "contact_id", "email_address", "salutation", "first_name", "last_name", "phone_e164",
    "job_title", "seniority", "department", "company_name", "company_domain", "company_size_band", "industry",
    "city", "state_code", "postal_code", "country_code", "completeness_score", "in_segment_since",
]
SEGMENT_NAME = re.compile(r"^[a-z0-9_]+$")
SUPPRESSIONS = "suppressions.csv"
# why a contact left a list, in the order they are tested; an erased person's address is
# not repeated (erasure leaves no trace): the campaign tool removes them by contact id
REMOVAL_REASON_SQL = """
    case
        when status.contact_status = 'merged' then 'merged'
        when status.contact_status = 'deleted_in_crm' then 'deleted_in_crm'
        when status.contact_status is null or status.contact_status = 'erased' then 'erased'
        when members.contact_id is null then 'left_segment'
        when status.is_opted_out then 'opted_out'
        when status.is_suppressed then 'suppressed'
        else 'no_valid_email'
    end"""
REMOVAL_REASONS = ("merged", "deleted_in_crm", "erased", "left_segment", "opted_out", "suppressed", "no_valid_email")


@dataclass
class SegmentExport:
    segment: str
    owner: str
    rows: int
    adds: int
    removes: int
    files: dict[str, dict] = field(default_factory=dict)
    previous_rows: int = 0


@dataclass
class ExportResult:
    export_dir: Path
    generated_at: str
    segments: list[SegmentExport]
    held: list[SegmentExport] = field(default_factory=list)  # not replaced: too many removals
    refused: dict[str, str] = field(default_factory=dict)  # segment -> why it was not exported


def max_remove_share() -> float:
    """EXPORT_MAX_REMOVE_SHARE: the share of a list one export may remove before it is held back."""
    return float(os.environ.get("EXPORT_MAX_REMOVE_SHARE", "0.5"))


MIN_ROWS_TO_HOLD = 20  # a list this small may change wholesale: a handful of contacts


def holds_back(result: SegmentExport, share: float) -> bool:
    """Whether this export would remove more than `share` of a list that had rows (a new,
    empty or re-created warehouse would otherwise rewrite every list as remove all, add all)."""
    return result.previous_rows >= MIN_ROWS_TO_HOLD and result.removes > share * result.previous_rows


def _path(path: Path) -> str:
    return path.as_posix().replace("'", "''")


def _write_segment(con: duckdb.DuckDBPyConnection, segment: str, owner: str, folder: Path,
                   previous: Path | None) -> SegmentExport:
    folder.mkdir(parents=True)
    columns = ", ".join(COLUMNS)
    con.execute(f"create or replace temp table current_rows as select {columns} from {SOURCE} "
                f"where segment_name = '{segment}' order by contact_id")
    if previous is not None:
        con.execute(f"create or replace temp table previous_ids as select contact_id, "
                    f"min(email_address) as email_address from read_parquet('{_path(previous)}') group by contact_id")
    else:
        con.execute("create or replace temp table previous_ids as "
                    "select cast(null as varchar) as contact_id, cast(null as varchar) as email_address where false")
    files = {
        f"{segment}.csv": "select * from current_rows order by contact_id",
        f"{segment}.parquet": "select * from current_rows order by contact_id",
        "adds.csv": "select * from current_rows where contact_id not in (select contact_id from previous_ids) "
                    "order by contact_id",
        "removes.csv": f"""
            with reasons as (
                select gone.contact_id, gone.email_address, {REMOVAL_REASON_SQL} as reason,
                       status.surviving_contact_id
                from previous_ids as gone
                left join exports.campaign_contact_status as status on gone.contact_id = status.contact_id
                left join (select contact_id from exports.segment_memberships where segment_name = '{segment}')
                    as members on gone.contact_id = members.contact_id
                where gone.contact_id not in (select contact_id from current_rows)
            )
            select contact_id, case when reason = 'erased' then null else email_address end as email_address,
                   reason, surviving_contact_id
            from reasons order by contact_id""",
    }
    counts = {}
    for name, query in files.items():
        target = folder / name
        options = "(format parquet, compression zstd)" if name.endswith(".parquet") else "(header, delimiter ',')"
        con.execute(f"copy ({query}) to '{_path(target)}' {options}")
        counts[name] = con.execute(f"select count(*) from ({query})").fetchone()[0]
    return SegmentExport(
        segment=segment, owner=owner, rows=counts[f"{segment}.csv"], adds=counts["adds.csv"],
        removes=counts["removes.csv"],
        previous_rows=con.execute("select count(*) from previous_ids").fetchone()[0],
        files={name: {"sha256": file_sha256(folder / name), "bytes": (folder / name).stat().st_size,
                      "rows": counts[name]}
               for name in files})


def _matches(parquet: Path, committed: dict[str, str], segment: str) -> bool:
    return segment in committed and parquet.exists() and file_sha256(parquet) == committed[segment]


def _roll_back_interrupted_swap(export_dir: Path, committed: dict[str, str]) -> None:
    """Put back the committed folders a killed run had moved to .old-<segment>."""
    for old in export_dir.glob(".old-*"):
        segment = old.name.removeprefix(".old-")
        if _matches(old / f"{segment}.parquet", committed, segment):
            target = export_dir / segment
            if target.exists():
                shutil.rmtree(target)  # the unfinished export's files
            old.rename(target)
        else:
            shutil.rmtree(old)  # left after a manifest was written: nothing refers to it


def _committed_segments(export_dir: Path) -> dict[str, str]:
    """segment -> sha256 of its Parquet file, as the manifest of the last complete export says."""
    manifest = export_dir / MANIFEST
    if not manifest.exists():
        return {}
    segments = json.loads(manifest.read_text(encoding="utf-8"))["segments"]
    return {s["segment"]: s["files"][f"{s['segment']}.parquet"]["sha256"] for s in segments}


def _committed_entries(export_dir: Path) -> dict[str, dict]:
    manifest = export_dir / MANIFEST
    if not manifest.exists():
        return {}
    return {s["segment"]: s for s in json.loads(manifest.read_text(encoding="utf-8"))["segments"]}


def _last_builds(con: duckdb.DuckDBPyConnection) -> dict[str, datetime]:
    """When each model last built successfully (the start of that dbt run, UTC), from the
    audit trail of dbt runs (monitoring.dbt_results)."""
    if not table_exists(con, "monitoring", "dbt_results"):
        return {}
    return dict(con.execute("select node_name, max(invocation_started_at) from monitoring.dbt_results "
                            "where resource_type = 'model' and status = 'success' group by node_name").fetchall())


def refusals(con: duckdb.DuckDBPyConnection, built: list[str], project: Path = REPO_ROOT) -> dict[str, str]:
    """The segments that must not be exported tonight, with why: defined in `project` but
    never built, or changed since their last successful build (the list would be older than
    the rules it claims to follow)."""
    defined = segment_models(project)
    last_builds = _last_builds(con)
    refused = {name: f"defined in {path.relative_to(project)} but not built: run `dbt build --select {name}+`"
               for name, path in defined.items() if name not in built}
    for name in built:
        if name not in defined or name not in last_builds:
            continue
        changed = datetime.fromtimestamp(defined[name].stat().st_mtime, UTC).replace(tzinfo=None)
        if changed > last_builds[name]:
            refused[name] = (f"{defined[name].relative_to(project)} changed after the segment was last built "
                             f"({last_builds[name]:%Y-%m-%d %H:%M} UTC): its previous files stay; run "
                             f"`dbt build --select {name}+`, then export")
    return dict(sorted(refused.items()))


def run_export(settings: Settings, confirm_removals: bool = False, project: Path = REPO_ROOT) -> ExportResult:
    """Write every segment's files and the manifest into EXPORT_DIR.

    A segment whose new export would remove more than EXPORT_MAX_REMOVE_SHARE of its list
    keeps its previous files (listed in `held`) unless `confirm_removals`; one changed since
    it was last built keeps them too, and one never built gets none (both in `refused`).
    A segment whose file is gone from `project`'s models/segments is not exported."""
    export_dir = settings.export_dir
    export_dir.mkdir(parents=True, exist_ok=True)
    generated_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    for leftover in export_dir.glob(".staging-*"):  # staging folders of killed runs
        shutil.rmtree(leftover, ignore_errors=True)
    staging = export_dir / f".staging-{os.getpid()}"
    staging.mkdir()
    committed = _committed_segments(export_dir)
    _roll_back_interrupted_swap(export_dir, committed)
    with read_warehouse(settings) as con:
        try:
            if con is None:
                raise FileNotFoundError(f"no warehouse at {settings.warehouse}: load and build first")
            catalog = con.execute("select segment_name, segment_owner from exports.segment_catalog "
                                  "order by segment_name").fetchall()
            defined = segment_models(project)
            refused = refusals(con, [segment for segment, _ in catalog], project)
            catalog = [(segment, owner) for segment, owner in catalog if segment in defined and segment not in refused]
            con.execute(f"copy (select email_address, reason, contact_id from exports.campaign_suppressions "
                        f"order by email_address) to '{_path(staging / SUPPRESSIONS)}' (header, delimiter ',')")
            suppressions = {"rows": con.execute("select count(*) from exports.campaign_suppressions").fetchone()[0]}
            results = []
            for segment, owner in catalog:
                if not SEGMENT_NAME.match(segment):
                    raise ValueError(f"segment name {segment!r}: only a-z, 0-9 and _ make safe file names")
                previous = export_dir / segment / f"{segment}.parquet"
                results.append(_write_segment(con, segment, owner, staging / segment,
                                              previous if _matches(previous, committed, segment) else None))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    # a list that would lose most of its rows keeps its previous export (held), unless confirmed
    share = max_remove_share()
    previous_entries = _committed_entries(export_dir)
    held = [] if confirm_removals else [r for r in results if holds_back(r, share)]
    for result in held:
        log.warning("segment %s: the export would remove %d of %d rows; held back", result.segment,
                    result.removes, result.previous_rows)
    # swap the new folders in (the committed ones wait in .old-<segment>), drop the folders
    # of segments that are gone, write the manifest, then let the old folders go
    names = {r.segment for r in results} | set(refused)
    for result in results:
        if result in held:
            continue
        target = export_dir / result.segment
        old = export_dir / f".old-{result.segment}"
        if target.exists():
            target.rename(old)
        (staging / result.segment).rename(target)
        checkpoint("export")  # fault injection for the recovery tests; see ingestion/faults.py
    for entry in export_dir.iterdir():
        if entry.is_dir() and not entry.name.startswith(".") and entry.name not in names:
            shutil.rmtree(entry)
    suppressions.update(sha256=file_sha256(staging / SUPPRESSIONS), bytes=(staging / SUPPRESSIONS).stat().st_size)
    os.replace(staging / SUPPRESSIONS, export_dir / SUPPRESSIONS)
    shutil.rmtree(staging, ignore_errors=True)
    manifest = {"generated_at": generated_at, "source": SOURCE, "warehouse": str(settings.warehouse),
                "suppressions": {"file": SUPPRESSIONS, **suppressions},
                "segments": sorted([previous_entries[r.segment] if r in held else asdict(r) for r in results]
                                   + [previous_entries[name] for name in refused if name in previous_entries],
                                   key=lambda entry: entry["segment"])}
    tmp = export_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, export_dir / MANIFEST)
    for old in export_dir.glob(".old-*"):
        shutil.rmtree(old, ignore_errors=True)
    for name, why in refused.items():
        log.warning("segment %s not exported: %s", name, why)
    log.info("exported %d segments to %s (%d held back, %d refused)", len(results), export_dir, len(held),
             len(refused))
    return ExportResult(export_dir, generated_at, results, held, refused)
