"""Project settings: defaults in one place, overridden by environment variables.

| variable             | default                      | what it is                              |
|----------------------|------------------------------|-----------------------------------------|
| CONTACTS_WAREHOUSE   | data/contacts.duckdb         | the DuckDB warehouse file               |
| LANDING_DIR          | data/landing                 | where CRM exports are dropped           |
| EXPORT_DIR           | data/exports                 | where segment exports are written       |
| GROUND_TRUTH_DIR     | data/ground_truth            | demo generator's truth (never loaded)   |
| HEADER_ALIASES       | ingestion/header_aliases.yml | header alias map analysts can extend    |
| REPORT_DIR           | data/reports                 | the nightly run report (HTML)           |

Relative paths are resolved against the repository root, so commands behave
the same from any working directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "CONTACTS_WAREHOUSE": "data/contacts.duckdb",
    "LANDING_DIR": "data/landing",
    "EXPORT_DIR": "data/exports",
    "GROUND_TRUTH_DIR": "data/ground_truth",
    "HEADER_ALIASES": "ingestion/header_aliases.yml",
    "REPORT_DIR": "data/reports",
}


def _path(name: str) -> Path:
    value = Path(os.environ.get(name) or DEFAULTS[name]).expanduser()
    return value if value.is_absolute() else REPO_ROOT / value


@dataclass(frozen=True)
class Settings:
    warehouse: Path
    landing_dir: Path
    export_dir: Path
    ground_truth_dir: Path
    header_aliases: Path
    report_dir: Path = REPO_ROOT / DEFAULTS["REPORT_DIR"]

    @property
    def pipelines_dir(self) -> Path:
        """dlt's working folder, kept beside the warehouse it loads (one per warehouse)."""
        return self.warehouse.parent / f".{self.warehouse.stem}.dlt"

    @property
    def nightly_dir(self) -> Path:
        """The nightly run's lock, state and dbt artifacts, beside the warehouse they belong to."""
        return self.warehouse.parent / f".{self.warehouse.stem}.nightly"

    def dbt_env(self) -> dict[str, str]:
        """Environment for dbt subprocesses: the same warehouse, the project's profiles."""
        env = dict(os.environ)
        env["CONTACTS_WAREHOUSE"] = str(self.warehouse)
        env["LANDING_DIR"] = str(self.landing_dir)
        env["EXPORT_DIR"] = str(self.export_dir)
        env.setdefault("DBT_PROFILES_DIR", str(REPO_ROOT / "profiles"))
        return env


def table_exists(con, schema: str, table: str) -> bool:  # noqa: ANN001 - a DuckDB connection
    """Whether the warehouse holds schema.table (a loader's table appears on its first run)."""
    return con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                       [schema, table]).fetchone()[0] > 0


def load_settings() -> Settings:
    return Settings(
        warehouse=_path("CONTACTS_WAREHOUSE"),
        landing_dir=_path("LANDING_DIR"),
        export_dir=_path("EXPORT_DIR"),
        ground_truth_dir=_path("GROUND_TRUTH_DIR"),
        header_aliases=_path("HEADER_ALIASES"),
        report_dir=_path("REPORT_DIR"),
    )
