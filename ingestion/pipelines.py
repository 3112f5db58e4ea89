"""The one dlt pipeline helper both sources load through (landing files, provider answers).

Every pipeline writes into the settings' DuckDB warehouse, keeps its working folder beside
it (Settings.pipelines_dir: one per warehouse) and adds dlt's `_dlt_load_id` to arrow
tables too, so every raw row leads back to its load. A run killed between extract and load
leaves a package on disk: `finish_interrupted` loads it before anything new is extracted,
so the next run ends in the state an uninterrupted one would have.
"""

from __future__ import annotations

import logging
import os

import dlt

from ingestion.settings import Settings

log = logging.getLogger(__name__)


def warehouse_pipeline(settings: Settings, pipeline_name: str, dataset_name: str) -> dlt.Pipeline:
    """The dlt pipeline `pipeline_name` loading `dataset_name` of the settings' warehouse."""
    # arrow tables get dlt's _dlt_load_id column too (lineage from every raw row to its load)
    os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(pipeline_name=pipeline_name,
                        destination=dlt.destinations.duckdb(credentials=str(settings.warehouse)),
                        dataset_name=dataset_name, pipelines_dir=str(settings.pipelines_dir))


def finish_interrupted(pipeline: dlt.Pipeline) -> int:
    """Normalise and load the packages a killed run extracted; returns how many there were."""
    if not pipeline.has_pending_data:
        return 0
    pending = len(pipeline.list_extracted_load_packages()) + len(pipeline.list_normalized_load_packages())
    log.warning("%s: finishing %d load package(s) left by an interrupted run", pipeline.pipeline_name, pending)
    pipeline.normalize()
    pipeline.load()
    return pending
