"""Running dbt: this project and its profiles, against the settings' warehouse, from any directory."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
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
    env = settings.dbt_env()
    with parsed_once(settings, env, settings.target == "duckdb"):  # on Spark: in the process it starts
        return subprocess.run(cmd, cwd=REPO_ROOT, env=env, check=False).returncode


PARSE_FILE = "partial_parse.msgpack"


def parse_file(settings: Settings) -> Path:
    """dbt's saved parse of the project for this warehouse (its partial-parsing file), shared
    by every dbt the project starts on the warehouse: see parsed_once."""
    return settings.nightly_dir / "dbt" / PARSE_FILE


@contextmanager
def parsed_once(settings: Settings, env: MutableMapping[str, str], share: bool = True) -> Iterator[None]:
    """Around one dbt invocation with `env`: dbt reads the warehouse's saved parse
    (DBT_PARTIAL_PARSE_FILE_PATH) and, once it has run, the parse it wrote into its target
    folder becomes the saved one.

    Every dbt invocation writes its parse into its own target folder (the nightly run's
    phases each have one, for their run_results), where the next invocation with another
    folder never looks: each parsed the whole project again (~14 s, a third of a small
    night). dbt still decides, as always, whether a saved parse can be reused (same dbt,
    profile, vars and the env vars the project reads; files changed since are parsed
    again), so a stale file costs one full parse, never a wrong manifest. The file holds the
    project's code, no contact data. With `share` false (dbt runs in a process that does
    this itself), nothing."""
    cache = parse_file(settings)
    if share and cache.exists():
        env.setdefault("DBT_PARTIAL_PARSE_FILE_PATH", str(cache))
    started = time.time()
    try:
        yield
    finally:
        target = Path(env.get("DBT_TARGET_PATH") or "target")
        written = (target if target.is_absolute() else REPO_ROOT / target) / PARSE_FILE
        if share and written.exists() and written.stat().st_mtime >= started and written != cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_name(f"{PARSE_FILE}.{os.getpid()}")
            shutil.copyfile(written, partial)
            os.replace(partial, cache)  # whole: a dbt starting meanwhile reads the old one or this one
