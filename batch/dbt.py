"""Running dbt: this project and its profiles, against the settings' warehouse, from any directory."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from ingestion.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)


def dbt_executable() -> str:
    """The dbt of this interpreter's environment (the project's venv), else the one on PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def dbt_command(args: list[str], target: str = "duckdb") -> list[str]:
    """The dbt command line for `args`, with this project and its profiles from any directory.

    On the spark target, dbt runs inside a process that starts the local Spark session
    first (batch.spark_functions `step`): it registers the raw tables and the Python
    functions, runs dbt, then publishes the models the Python steps read."""
    if target == "spark":
        return [sys.executable, "-m", "batch.spark_functions", "step", *args]
    return [dbt_executable(), *args, "--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT / "profiles")]


def run_dbt(settings: Settings, args: list[str]) -> int:
    """Run dbt from the repo root against this settings' warehouse; returns dbt's exit code."""
    cmd = dbt_command(args, settings.target)
    log.info("running %s", " ".join(cmd[:2]))
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(cmd, cwd=REPO_ROOT, env=settings.dbt_env(), check=False).returncode
