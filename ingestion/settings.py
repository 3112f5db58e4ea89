"""Project settings: defaults in one place, overridden by environment variables.

| variable             | default                      | what it is                              |
|----------------------|------------------------------|-----------------------------------------|
| CONTACTS_WAREHOUSE   | data/contacts.duckdb         | the DuckDB warehouse file               |
| LANDING_DIR          | data/landing                 | where CRM exports are dropped           |
| EXPORT_DIR           | data/exports                 | where segment exports are written       |
| GROUND_TRUTH_DIR     | data/ground_truth            | demo generator's truth (never loaded)   |
| HEADER_ALIASES       | ingestion/header_aliases.yml | header alias map analysts can extend    |
| REPORT_DIR           | data/reports                 | the nightly run report (HTML)           |
| CONTACTS_RAW_DESTINATION | duckdb                   | where dlt writes the raw tables: the    |
|                      |                              | warehouse (duckdb) or Parquet files     |
|                      |                              | (filesystem), which Spark reads         |
| CONTACTS_RAW_DIR     | data/raw                     | the filesystem destination's folder     |
| CONTACTS_TARGET      | duckdb                       | the engine: duckdb, or spark (local     |
|                      |                              | Spark; raw tables always as Parquet)    |
| CONTACTS_SPARK_DIR   | data/spark                   | Spark's tables, metastore, the nightly  |
|                      |                              | run's state (the spark target only)     |

Relative paths are resolved against the repository root, so commands behave
the same from any working directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "CONTACTS_WAREHOUSE": "data/contacts.duckdb",
    "LANDING_DIR": "data/landing",
    "EXPORT_DIR": "data/exports",
    "GROUND_TRUTH_DIR": "data/ground_truth",
    "HEADER_ALIASES": "ingestion/header_aliases.yml",
    "REPORT_DIR": "data/reports",
    "CONTACTS_RAW_DIR": "data/raw",
    "CONTACTS_SPARK_DIR": "data/spark",
}
RAW_DESTINATIONS = ("duckdb", "filesystem")
TARGETS = ("duckdb", "spark")  # the targets of profiles/profiles.yml a night can run on
# how the models call the Python functions: on the engine's session, or looked up in the
# keyed tables batch.normalise fills (the `normalised` macro; docs/spark.md)
NORMALISERS = ("function", "table")


class Secret:
    """A value that never shows itself in logs, reprs or exceptions."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value or ""

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def config_value(key: str, default: Any) -> Any:
    """A dlt setting (environment variable, `.dlt/secrets.toml`, `.dlt/config.toml`), cast to
    the default's type; the default when it is unset or empty."""
    import dlt  # here, so that reading the project's paths does not import dlt

    value = dlt.config.get(key)
    if value is None or value == "":
        return default
    return type(default)(value) if default is not None and not isinstance(default, bool) else value


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
    # dlt's destination of the raw tables: the warehouse itself, or Parquet files under
    # raw_dir (one folder per table: what Spark registers, see docs/spark.md)
    raw_destination: str = "duckdb"
    raw_dir: Path = REPO_ROOT / DEFAULTS["CONTACTS_RAW_DIR"]
    # the dbt target the models are built on: the DuckDB file `warehouse`, or local Spark,
    # whose tables and metastore live under spark_dir (see docs/spark.md)
    target: str = "duckdb"
    spark_dir: Path = REPO_ROOT / DEFAULTS["CONTACTS_SPARK_DIR"]
    # `function` (called on the engine's session) or `table` (looked up in normalised.*)
    normalisers: str = "function"

    @property
    def published_dir(self) -> Path:
        """Spark only: the models the Python steps read (enrichment requests, exports,
        monitoring), copied out of the catalog as Parquet after each dbt phase."""
        return self.spark_dir / "published"

    @property
    def pipelines_dir(self) -> Path:
        """dlt's working folder, kept beside the warehouse it loads (one per warehouse)."""
        return self.warehouse.parent / f".{self.warehouse.stem}.dlt"

    @property
    def credit_ledger(self) -> Path:
        """What each night may have been billed by the enrichment providers (ingestion/enrichment/ledger.py)."""
        return self.warehouse.parent / f".{self.warehouse.stem}.credits.jsonl"

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
        env.update(CONTACTS_TARGET=self.target, CONTACTS_SPARK_DIR=str(self.spark_dir),
                   CONTACTS_RAW_DIR=str(self.raw_dir), CONTACTS_RAW_DESTINATION=self.raw_destination,
                   CONTACTS_NORMALISERS=self.normalisers)
        env[SEGMENT_MODELS_VAR] = " ".join(segment_models())
        return env


# The segment models dbt draws as parents of exports.segment_catalog (and so of the
# memberships, the export rows and the campaign exposure). dbt cannot find the models of a
# folder while it parses, so every dbt this project starts (the CLI, the nightly run, the
# Makefile, `dbt` in an activated venv) names them in this variable; see segment_catalog.sql.
SEGMENT_MODELS_VAR = "CONTACTS_SEGMENT_MODELS"
_DISABLED = re.compile(r"enabled\s*=\s*false", re.IGNORECASE)


def segment_models(project: Path = REPO_ROOT) -> dict[str, Path]:
    """The segment models of `project`: each .sql file under models/segments whose own
    config() does not disable it, by model name, sorted."""
    found = {}
    for path in sorted((project / "models" / "segments").rglob("*.sql")):
        if not _DISABLED.search(path.read_text(encoding="utf-8")):
            found[path.stem] = path
    return dict(sorted(found.items()))


if __name__ == "__main__":  # `contacts.settings`: the segment models, for the Makefile and activate
    print(" ".join(segment_models()))


def table_exists(con, schema: str, table: str) -> bool:  # noqa: ANN001 - a DuckDB connection
    """Whether the warehouse holds schema.table (a loader's table appears on its first run)."""
    return con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                       [schema, table]).fetchone()[0] > 0


def _raw_destination() -> str:
    value = (os.environ.get("CONTACTS_RAW_DESTINATION") or "duckdb").strip().lower()
    if value not in RAW_DESTINATIONS:
        raise ValueError(f"CONTACTS_RAW_DESTINATION must be one of {', '.join(RAW_DESTINATIONS)}, not {value!r}")
    return value


def _normalisers() -> str:
    value = (os.environ.get("CONTACTS_NORMALISERS") or "function").strip().lower()
    if value not in NORMALISERS:
        raise ValueError(f"CONTACTS_NORMALISERS must be one of {', '.join(NORMALISERS)}, not {value!r}")
    return value


def _target(target: str | None) -> str:
    value = (target or os.environ.get("CONTACTS_TARGET") or "duckdb").strip().lower()
    if value not in TARGETS:
        raise ValueError(f"CONTACTS_TARGET (--target) must be one of {', '.join(TARGETS)}, not {value!r}")
    return value


def load_settings(target: str | None = None) -> Settings:
    """The settings of the environment; `target` (the --target option) overrides CONTACTS_TARGET.

    On Spark the raw tables are Parquet files (Spark reads them where dlt wrote them) and
    the run's own files (its lock and state, dlt's working folder, the credit ledger) sit
    beside Spark's tables: `warehouse` is then Spark's warehouse folder, not a DuckDB file."""
    target = _target(target)
    spark_dir = _path("CONTACTS_SPARK_DIR")
    raw_destination = _raw_destination()
    if target == "spark":
        if os.environ.get("CONTACTS_RAW_DESTINATION", "").strip().lower() == "duckdb":
            raise ValueError("CONTACTS_RAW_DESTINATION=duckdb cannot feed the spark target: Spark reads "
                             "the raw tables as Parquet files (leave it unset, or set filesystem)")
        raw_destination = "filesystem"
    return Settings(
        warehouse=spark_dir / "warehouse" if target == "spark" else _path("CONTACTS_WAREHOUSE"),
        landing_dir=_path("LANDING_DIR"),
        export_dir=_path("EXPORT_DIR"),
        ground_truth_dir=_path("GROUND_TRUTH_DIR"),
        header_aliases=_path("HEADER_ALIASES"),
        report_dir=_path("REPORT_DIR"),
        raw_destination=raw_destination,
        raw_dir=_path("CONTACTS_RAW_DIR"),
        target=target,
        spark_dir=spark_dir,
        normalisers=_normalisers(),
    )
