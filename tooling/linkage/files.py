"""Writing a labelled set: landing CSVs as a client would drop them, and the truth beside them."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)


def write_truth(rows: list[tuple[str, str, str]], path: Path) -> None:
    """(source_system, source_record_id, entity_id) rows as a Parquet file."""
    columns = list(zip(*rows, strict=True)) if rows else [[], [], []]
    pq.write_table(pa.table({"source_system": pa.array(columns[0], pa.string()),
                             "source_record_id": pa.array(columns[1], pa.string()),
                             "entity_id": pa.array(columns[2], pa.string())}), path)
