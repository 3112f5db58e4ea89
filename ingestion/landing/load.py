"""Run the landing pipeline: finish what a killed run left, then load new and changed files."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dlt

from ingestion.crm import configured_crms
from ingestion.crm.load import CrmPull, changed_in_crms, pull_crms
from ingestion.faults import checkpoint
from ingestion.landing import CONTACTS_TABLE, FILE_LOADS_TABLE, QUARANTINE_TABLE, FileReport, landing_source
from ingestion.landing.mapping import HeaderAliases
from ingestion.pipelines import (
    finish_interrupted,
    finish_raw_rewrite,
    loader_file_format,
    raw_tables,
    warehouse_pipeline,
)
from ingestion.settings import Settings, table_exists
from ingestion.suppression import known_hashes

log = logging.getLogger(__name__)

PIPELINE_NAME = "contacts_landing"
DATASET_NAME = "raw_landing"


@dataclass
class LoadResult:
    reports: list[FileReport] = field(default_factory=list)
    recovered_packages: int = 0
    recovered_rows: int = 0  # rows those packages added to the raw tables
    load_ids: list[str] = field(default_factory=list)
    crm_pulls: list[CrmPull] = field(default_factory=list)   # the CRMs read by API
    crm_skipped: list[str] = field(default_factory=list)     # the CRMs without credentials, with why
    crm_rows_extracted: int = 0   # CRM rows about to be loaded (counted before each chunk's load)

    @property
    def failed_files(self) -> list[FileReport]:
        return [r for r in self.reports if r.status != "loaded"]

    @property
    def failed_crms(self) -> list[CrmPull]:
        return [p for p in self.crm_pulls if p.error]


def make_pipeline(settings: Settings) -> dlt.Pipeline:
    return warehouse_pipeline(settings, PIPELINE_NAME, DATASET_NAME)


def raw_rows(settings: Settings) -> int:
    """Rows in the raw landing tables (0 before the first load)."""
    with raw_tables(settings) as con:
        if con is None:
            return 0
        return sum(con.execute(f"select count(*) from {DATASET_NAME}.{name}").fetchone()[0]
                   for name in (CONTACTS_TABLE, QUARANTINE_TABLE, FILE_LOADS_TABLE)
                   if table_exists(con, DATASET_NAME, name))


def loaded_files(settings: Settings) -> dict[str, dict]:
    """The landing files the pipeline has loaded, by path under the landing folder, with the
    size, modification time and SHA-256 they had (the resource state of landing_files). Empty
    when this machine holds no state for the warehouse's pipeline yet."""
    sources = make_pipeline(settings).state.get("sources", {})
    return dict(sources.get("landing", {}).get("resources", {}).get("landing_files", {}).get("files", {}))


def crm_changes(settings: Settings) -> tuple[int, list[str]]:
    """Records the configured CRMs changed since this warehouse's pipeline last read them,
    and the CRMs that could not be asked (ingestion.crm.load.changed_in_crms). Without a
    configured CRM: nothing, and no pipeline is opened."""
    if not configured_crms()[0]:
        return 0, []
    return changed_in_crms(make_pipeline(settings), HeaderAliases.from_file(settings.header_aliases))


def run_load(settings: Settings, on_extracted: Callable[[LoadResult], None] | None = None) -> LoadResult:
    """Load every new or changed landing file into raw_landing.* (idempotent, resumable).

    `on_extracted` is called once the new files are read and before they are loaded: what
    is about to be loaded can be recorded by then, in case the run is killed meanwhile."""
    if settings.raw_destination == "filesystem":
        finish_raw_rewrite(settings.raw_dir)  # an erasure killed while it swapped raw folders
    pipeline = make_pipeline(settings)
    result = LoadResult()
    if pipeline.has_pending_data:
        # a previous run was killed after extracting: its package (data + file state) loads first
        before = raw_rows(settings)
        result.recovered_packages = finish_interrupted(pipeline)
        result.recovered_rows = raw_rows(settings) - before
    loaded_at = datetime.now(UTC)
    source = landing_source(str(settings.landing_dir), str(settings.header_aliases),
                            reports=result.reports, loaded_at=loaded_at,
                            suppressed=known_hashes(settings))
    pipeline.extract(source, loader_file_format=loader_file_format(settings))
    pipeline.normalize()
    if on_extracted is not None:
        on_extracted(result)
    checkpoint("load")  # fault injection for the recovery tests; see ingestion/faults.py
    info = pipeline.load()
    result.load_ids = list(info.loads_ids)

    def before_chunk_load(rows: int) -> None:  # a chunk of CRM rows is about to be loaded
        result.crm_rows_extracted += rows
        if on_extracted is not None:
            on_extracted(result)

    # then the CRMs' APIs, chunk by chunk; the suppression list as the files just left it
    result.crm_pulls, result.crm_skipped = pull_crms(
        pipeline, HeaderAliases.from_file(settings.header_aliases), known_hashes(settings), loaded_at,
        loader_file_format(settings), before_load=before_chunk_load)
    return result
