"""The one dlt pipeline helper both sources load through (landing files, provider answers).

Every pipeline writes into the settings' DuckDB warehouse (or, with CONTACTS_RAW_DESTINATION
=filesystem, Parquet files under CONTACTS_RAW_DIR, one folder per table, which Spark reads:
`raw_tables` reads either), keeps its working folder beside
it (Settings.pipelines_dir: one per warehouse) and adds dlt's `_dlt_load_id` to arrow
tables too, so every raw row leads back to its load. A run killed between extract and load
leaves a package on disk: `finish_interrupted` loads it before anything new is extracted,
so the next run ends in the state an uninterrupted one would have.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dlt
import duckdb

from ingestion.settings import Settings

log = logging.getLogger(__name__)


def warehouse_pipeline(settings: Settings, pipeline_name: str, dataset_name: str) -> dlt.Pipeline:
    """The dlt pipeline `pipeline_name` loading `dataset_name` of the settings' warehouse."""
    # arrow tables get dlt's _dlt_load_id column too (lineage from every raw row to its load)
    os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    if settings.raw_destination == "filesystem":
        settings.raw_dir.mkdir(parents=True, exist_ok=True)
        destination = dlt.destinations.filesystem(bucket_url=settings.raw_dir.as_uri())
    else:
        destination = dlt.destinations.duckdb(credentials=str(settings.warehouse))
    return dlt.pipeline(pipeline_name=pipeline_name, destination=destination,
                        dataset_name=dataset_name, pipelines_dir=str(settings.pipelines_dir))


def loader_file_format(settings: Settings) -> str | None:
    """The file format dlt writes: Parquet for the filesystem destination, dlt's choice otherwise."""
    return "parquet" if settings.raw_destination == "filesystem" else None


def raw_table_folders(raw_dir: Path) -> list[Path]:
    """The folders dlt's filesystem destination wrote a table's Parquet files into
    (<raw_dir>/<dataset>/<table>/*.parquet); dlt's own `_dlt_*` tables, JSON lines, are not
    among them, nor a folder being written (a name starting with a dot)."""
    return [folder for folder in sorted(raw_dir.glob("*/*"))
            if folder.is_dir() and not folder.name.startswith(".") and any(folder.glob("*.parquet"))]


# A rewrite of raw Parquet folders (`contacts forget` on the filesystem destination): every
# table's new folder is written beside it first, then this plan is written, then the folders
# are swapped. A run killed before the plan leaves only new folders, which are dropped; one
# killed after it is rolled forward, so the tables change together or not at all.
REWRITE_PLAN = ".rewrite-plan.json"


def _swap_paths(folder: Path) -> tuple[Path, Path]:
    return folder.with_name(f".{folder.name}.rewritten"), folder.with_name(f".{folder.name}.replaced")


def rewrite_raw_folders(con: duckdb.DuckDBPyConnection, raw_dir: Path, tables: dict[str, Path]) -> None:
    """Replace each raw folder of `tables` (relation of `con` -> its folder under `raw_dir`)
    by one Parquet file of the relation's rows, all or none (REWRITE_PLAN)."""
    for relation, folder in tables.items():
        new, _ = _swap_paths(folder)
        shutil.rmtree(new, ignore_errors=True)
        new.mkdir(parents=True)
        target = (new / "rewritten.parquet").as_posix().replace("'", "''")
        con.execute(f"copy (select * from {relation}) to '{target}' (format parquet)")
    plan = raw_dir / REWRITE_PLAN
    plan.with_suffix(".tmp").write_text(json.dumps([str(folder) for folder in tables.values()]), encoding="utf-8")
    os.replace(plan.with_suffix(".tmp"), plan)
    finish_raw_rewrite(raw_dir)


def finish_raw_rewrite(raw_dir: Path) -> int:
    """Complete a rewrite of raw folders a kill interrupted (or drop one that had not
    written all its folders yet); the number of folders swapped in. Every run that reads or
    loads the raw folders calls it first."""
    plan = raw_dir / REWRITE_PLAN
    swapped = 0
    if plan.exists():
        for folder in map(Path, json.loads(plan.read_text(encoding="utf-8"))):
            new, old = _swap_paths(folder)
            if new.exists():
                if folder.exists():
                    folder.rename(old)
                new.rename(folder)
                swapped += 1
            shutil.rmtree(old, ignore_errors=True)
        plan.unlink()
    for leftover in raw_dir.glob("*/.*.rewritten"):  # written, never planned: the old folder stands
        shutil.rmtree(leftover, ignore_errors=True)
    plan.with_suffix(".tmp").unlink(missing_ok=True)
    return swapped


def parquet_views(con: duckdb.DuckDBPyConnection, folders: list[Path]) -> None:
    """A view `schema.table` over each `<schema>/<table>` folder of Parquet files."""
    for folder in folders:
        schema, table = folder.parent.name, folder.name
        con.execute(f'create schema if not exists "{schema}"')
        files = str(folder / "*.parquet").replace("'", "''")
        con.execute(f"create or replace view \"{schema}\".\"{table}\" as "
                    f"select * from read_parquet('{files}', union_by_name = true)")


@contextmanager
def raw_tables(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only DuckDB connection holding the raw tables as `dataset.table`, wherever dlt
    wrote them: the warehouse file, or views over the filesystem destination's Parquet
    folders. None before the first load."""
    if settings.raw_destination == "filesystem":
        con = duckdb.connect()
        parquet_views(con, raw_table_folders(settings.raw_dir))
    elif settings.warehouse.exists():
        con = duckdb.connect(str(settings.warehouse), read_only=True)
    else:
        yield None
        return
    try:
        yield con
    finally:
        con.close()


@contextmanager
def read_warehouse(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """The warehouse as the Python steps read it (enrichment requests, exports, the report,
    the summary), read-only; None before anything was loaded or built.

    On DuckDB, the warehouse file. On Spark, one DuckDB dialect all the same: an in-memory
    connection with views over the raw Parquet folders and over the models each Spark phase
    published (Settings.published_dir: `batch.spark_functions` copies them out of Spark's
    catalog, so the same code works whatever format the catalog keeps them in).
    """
    if settings.target != "spark":
        if not settings.warehouse.exists():
            yield None
            return
        con = duckdb.connect(str(settings.warehouse), read_only=True)
    else:
        folders = [*raw_table_folders(settings.raw_dir), *raw_table_folders(settings.published_dir)]
        if not folders:
            yield None
            return
        con = duckdb.connect()
        con.execute("set TimeZone = 'UTC'")
        parquet_views(con, folders)
    try:
        yield con
    finally:
        con.close()


def finish_interrupted(pipeline: dlt.Pipeline) -> int:
    """Normalise and load the packages a killed run extracted; returns how many there were."""
    if not pipeline.has_pending_data:
        return 0
    pending = len(pipeline.list_extracted_load_packages()) + len(pipeline.list_normalized_load_packages())
    log.warning("%s: finishing %d load package(s) left by an interrupted run", pipeline.pipeline_name, pending)
    pipeline.normalize()
    pipeline.load()
    return pending
