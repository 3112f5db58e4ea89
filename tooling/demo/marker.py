"""Which data the demo generator wrote: only that may ever be sent to the provider emulator.

The generator leaves a hidden file (DEMO_MARKER) beside the files it writes: their names and
sha256. The emulator answers from the demo's ground truth, so real contacts sent to it would
come back "not found" and be held back from the real providers for the not-found back-off.
"""

from __future__ import annotations

import json
from pathlib import Path

from ingestion.landing import FILE_LOADS_TABLE, SUPPRESSION_SOURCE, discover_files, file_sha256
from ingestion.pipelines import raw_tables
from ingestion.settings import Settings, table_exists

DEMO_MARKER = ".demo_files.json"


def demo_file_hashes(landing_dir: Path) -> set[str]:
    """sha256 of every file a demo generator wrote under the landing folder (its markers)."""
    hashes: set[str] = set()
    for marker in landing_dir.rglob(DEMO_MARKER) if landing_dir.is_dir() else []:
        try:
            hashes |= set(json.loads(marker.read_text(encoding="utf-8")).values())
        except (OSError, ValueError, AttributeError):
            continue
    return hashes


def holds_only_demo_data(settings: Settings) -> bool:
    """Whether every contact file in the landing folder, and every one the warehouse ever
    loaded, is a file the demo generator wrote (suppression lists aside: they are never
    sent anywhere). Real contacts must never reach the emulator, nor be held back by its
    'not found' answers."""
    demo = demo_file_hashes(settings.landing_dir)
    if not demo:
        return False
    contact_files = [p for p in discover_files(settings.landing_dir)
                     if not p.name.startswith(SUPPRESSION_SOURCE + "__")]
    if any(file_sha256(p) not in demo for p in contact_files):
        return False
    with raw_tables(settings) as con:
        if con is None or not table_exists(con, "raw_landing", FILE_LOADS_TABLE):
            return True
        loaded = con.execute(f"select distinct file_path, file_sha256 from raw_landing.{FILE_LOADS_TABLE}").fetchall()
    return all(sha in demo for path, sha in loaded if not Path(path).name.startswith(SUPPRESSION_SOURCE + "__"))
