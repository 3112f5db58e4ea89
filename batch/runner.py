"""The nightly batch, `contacts run` (what `make run` and a scheduler call).

Steps, in order:

| step                      | what                                                                 |
|---------------------------|----------------------------------------------------------------------|
| load                      | new and changed landing files into raw_landing (contacts load)       |
| normalise_inputs          | CONTACTS_NORMALISERS=table only: dbt build --selector                |
|                           | nightly_normaliser_inputs (what the Python functions are passed)     |
| normalise                 | ... and their new values into normalised.* (batch.normalise)         |
| build_before_enrichment   | dbt build --selector nightly_before_enrichment (selectors.yml)       |
| enrich                    | ask the providers what enriched.enrichment_requests lists            |
| build_after_enrichment    | dbt build --selector nightly_after_enrichment                        |
| export                    | the campaign files of every segment (contacts export)                |

On the spark target (`--target spark`) the same steps run on local Spark: each dbt phase in
a process that owns the Spark session (batch.spark_functions `step`), the Python steps
reading through DuckDB views (ingestion.pipelines.read_warehouse); docs/spark.md.

Then, whatever happened: the run and its steps are recorded in monitoring.nightly_runs and
monitoring.nightly_steps, the HTML report is written, a summary is printed and, when the
run failed (or warned, if asked), an alert is posted to the webhook.

Safe to schedule:
- A lock (flock on <warehouse dir>/.<warehouse>.nightly/lock) refuses a second run while one
  is going, with exit status 75. The kernel drops the lock when its holder dies, so a
  killed run never leaves a lock that blocks the next night.
- Every step is idempotent: the loader skips files it has loaded and first finishes a
  load package a killed run left; dbt's incremental models process what is new; the
  enrichment loader first loads answers a killed run received and asks only what is still
  pending; exports are swapped in whole. So a failed or killed run is resumed by the next
  run: steps the interrupted run finished are skipped when nothing new was loaded and the
  project is unchanged, and a dbt phase that failed is redone with `dbt retry`, which runs
  only the failed and skipped nodes.
- Transient failures (an exception in a step, a dbt that could not start or could not lock
  the warehouse) are retried --retries times, --retry-wait seconds apart; within a dbt
  phase with `dbt retry`. A failing data test is not retried: the data would not change.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import psutil

from batch.console import print_export_result, print_load_result, render_table, summarise_warehouse
from batch.dbt import dbt_command, parsed_once
from batch.delta import inputs_fingerprint, landing_backlog
from batch.diagnose import explain, one_line
from batch.enrich import EndpointsFactory, EnrichmentNotRun, configured_endpoints, enrich
from batch.exports import run_export
from batch.lock import AlreadyRunning, RunLock
from batch.monitoring.alerts import alert_for, ping_heartbeat
from batch.monitoring.report import report_path, write_report
from ingestion.crm import configured_crms
from ingestion.faults import checkpoint
from ingestion.landing import discover_files
from ingestion.landing.load import LoadResult, crm_changes, loaded_files, run_load
from ingestion.pipelines import raw_tables
from ingestion.settings import REPO_ROOT, Settings, table_exists

if TYPE_CHECKING:
    from ingestion.enrichment.loader import EnrichmentResult

log = logging.getLogger(__name__)

EXIT_LOCKED = 75  # EX_TEMPFAIL: another run holds the lock; try again later
NIGHT_HOURS = 12  # a run resuming one that started less than this before shares its night (its credit budget)
SELECTORS = {"normalise_inputs": "nightly_normaliser_inputs",
             "build_before_enrichment": "nightly_before_enrichment",
             "build_after_enrichment": "nightly_after_enrichment"}
# what a phase builds instead when nothing is new since it was last built in full (None:
# nothing, the step is skipped); see batch/delta.py
NOTHING_NEW_SELECTORS = {"normalise_inputs": None,
                         "build_before_enrichment": "nightly_nothing_new_before",
                         "build_after_enrichment": "nightly_nothing_new_after"}
# dbt output that means the warehouse or the machine was busy, not that the project is wrong
TRANSIENT_DBT_ERRORS = re.compile(
    r"could not set lock|conflicting lock|database is locked|resource temporarily unavailable|"
    r"connection (refused|reset|aborted)|timed out|temporary failure", re.IGNORECASE)
# dbt lines a night's log does without: a node starting (its result follows), blank lines
DBT_CHATTER = re.compile(r"^(\S+\s+)?\d+ of \d+ START |^(\x1b\[0m)?\d\d:\d\d:\d\d\s*$")
PROJECT_FILES = ("models", "seeds", "macros", "tests", "dbt_project.yml", "selectors.yml")
PROJECT_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".md"}


# ------------------------------------------------------------------ records ----

@dataclass
class StepRecord:
    step: str
    status: str = "pending"  # running, ok, warn, failed, skipped, killed
    method: str = ""
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    counts: dict = field(default_factory=dict)
    message: str = ""
    problems: list[dict] = field(default_factory=list)  # failing dbt nodes, unreadable files
    alert: bool = False  # worth telling someone about even when the run goes on (a degraded night)
    blocks_rest: bool = False  # the steps after this one cannot run


@dataclass
class RunRecord:
    run_id: str
    started_at: str
    pid: int
    host: str
    status: str = "running"  # running, succeeded, warned, failed, incomplete, killed
    finished_at: str | None = None
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    resumed_run_id: str | None = None
    project_fingerprint: str = ""
    report_path: str | None = None
    empty_landing_nights: int = 0  # nights in a row, this one included, with no landing file
    # the night this run belongs to, for the enrichment's credit budget: its own id, or the
    # night of the run it resumes when that one started less than NIGHT_HOURS before
    night_id: str = ""
    # what the chain of interrupted runs this one resumes (and this run) left: step -> the
    # run that finished it, and the steps whose dbt phase failed (retried from its failed
    # nodes). Emptied when new data is loaded: then every step is due again.
    finished_steps: dict[str, str] = field(default_factory=dict)
    failed_steps: list[str] = field(default_factory=list)
    # dbt phase -> the fingerprint of the inputs it was last built from in full and without
    # error (batch/delta.py), carried from run to run: equal tonight, the phase has nothing
    # new to build
    built_inputs: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # what went wrong outside the steps (recording)
    steps: list[StepRecord] = field(default_factory=list)

    def step(self, name: str) -> StepRecord | None:
        return next((s for s in self.steps if s.step == name), None)

    @classmethod
    def from_dict(cls, data: dict) -> RunRecord:
        steps = [StepRecord(**s) for s in data.pop("steps", [])]
        return cls(**data, steps=steps)


class StepFailed(Exception):
    """A step could not do its work. `transient`: worth another attempt."""

    def __init__(self, message: str, *, transient: bool, counts: dict | None = None,
                 problems: list[dict] | None = None, blocks_rest: bool = True) -> None:
        super().__init__(message)
        self.transient = transient
        self.blocks_rest = blocks_rest
        self.counts = counts or {}
        self.problems = problems or []


@dataclass
class StepOutcome:
    status: str  # ok, warn, failed (failed but later steps may go on), skipped
    counts: dict = field(default_factory=dict)
    message: str = ""
    problems: list[dict] = field(default_factory=list)
    alert: bool = False  # a degraded night: alert even though the run goes on
    blocks_rest: bool = False  # nothing after this step can run (nothing was ever loaded)

    def degraded_by(self, trouble: list[str]) -> StepOutcome:
        """This outcome, as a warning with an alert when there is `trouble`."""
        if trouble:
            self.status, self.alert = "warn", True
            self.message = "; ".join([*([self.message] if self.message else []), *trouble])
        return self


@dataclass
class Options:
    retries: int = 2
    retry_wait: float = 30.0
    resume: bool = True
    alert_on_warnings: bool = False
    # where the enrichment requests go (batch/enrich.py): the configured providers; the demo
    # tooling passes the local emulator for demo data
    endpoints: EndpointsFactory = configured_endpoints
    empty_landing_alert_nights: int = 3  # alert from this many nights in a row without a landing file
    max_enrich_failure_share: float = 0.2  # alert when more of the requests sent got no answer
    max_pending_requests: int = 250_000  # alert when the enrichment backlog is larger
    # a dbt phase with nothing new since it was last built in full builds only what reads
    # the clock or the answers (batch/delta.py); False: every phase in full (--build-all)
    skip_unchanged: bool = True
    # started by the data (a scheduler that polls): run only when the landing folder holds
    # at least this many rows not loaded yet (0: always), or the last run started more
    # than max_wait_hours ago (0: no such limit)
    min_new_rows: int = 0
    max_wait_hours: float = 0.0

    @classmethod
    def from_env(cls) -> Options:
        env = os.environ.get
        return cls(retries=int(env("NIGHTLY_RETRIES", "2")),
                   retry_wait=float(env("NIGHTLY_RETRY_WAIT_SECONDS", "30")),
                   alert_on_warnings=env("NIGHTLY_ALERT_ON_WARNINGS", "").lower() in ("1", "true", "yes"),
                   empty_landing_alert_nights=int(env("NIGHTLY_EMPTY_LANDING_ALERT_NIGHTS", "3")),
                   max_enrich_failure_share=float(env("NIGHTLY_MAX_ENRICH_FAILURE_SHARE", "0.2")),
                   max_pending_requests=int(env("NIGHTLY_MAX_PENDING_REQUESTS", "250000")),
                   skip_unchanged=env("NIGHTLY_BUILD_ALL", "").lower() not in ("1", "true", "yes"),
                   min_new_rows=int(env("NIGHTLY_MIN_NEW_ROWS", "0")),
                   max_wait_hours=float(env("NIGHTLY_MAX_WAIT_HOURS", "0")))


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


# ------------------------------------------------------------------- memory ----

class MemorySampler:
    """Peak resident memory of this process and its children (dbt), sampled every 0.2 s."""

    def __init__(self, interval: float = 0.2) -> None:
        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak_bytes = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        total = 0
        for proc in [self._process, *self._process.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        self.peak_bytes = max(self.peak_bytes, total)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> MemorySampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 2**20, 1)


# ---------------------------------------------------------------------- dbt ----

def project_fingerprint() -> str:
    """sha256 over the dbt project's files: a changed model, seed, macro or test changes it."""
    digest = sha256()
    for name in PROJECT_FILES:
        root = REPO_ROOT / name
        paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in PROJECT_SUFFIXES
                       and "python" not in p.relative_to(root).parts) if root.is_dir() else [root]
        for path in paths:
            digest.update(str(path.relative_to(REPO_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def stream_dbt(args: list[str], env: dict[str, str], step: str, target: str = "duckdb"
               ) -> tuple[int, list[str]]:
    """Run dbt, echo its output, return its exit code and the last lines it printed.

    If the run itself is stopped meanwhile (SIGTERM, Ctrl-C), dbt is stopped too: an
    orphaned dbt would hold the warehouse the run still has to record in.
    """

    tail: deque[str] = deque(maxlen=60)
    finished = 0
    # a log file gets no colour codes, and one line per node (its result) unless -v
    env = {**env, "DBT_USE_COLORS": "true" if sys.stdout.isatty() else "false"}
    every_line = log.isEnabledFor(logging.INFO)
    proc = subprocess.Popen(dbt_command(args, target), cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    assert proc.stdout is not None
    in_traceback = False
    try:
        for line in proc.stdout:
            tail.append(line.rstrip("\n"))
            if not every_line:  # a Python traceback of dbt's goes no further than -v: its last line does
                if "Traceback (most recent call last)" in line:
                    in_traceback = True
                if in_traceback:
                    in_traceback = line[:1].isspace() or "Traceback (most recent call last)" in line
                    if in_traceback:
                        continue
                if DBT_CHATTER.search(line):
                    continue
            sys.stdout.write(line)
            if re.search(r"\d+ of \d+ (OK|PASS)", line):
                finished += 1
                if finished == 10:
                    checkpoint(step, child=proc)  # fault injection for the recovery tests
        sys.stdout.flush()
        return proc.wait(), list(tail)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def summarise_run_results(path: Path) -> tuple[dict, list[dict]]:
    """Counts of a dbt invocation's results and the nodes that did not succeed."""
    if not path.exists():
        return {}, []
    results = json.loads(path.read_text(encoding="utf-8"))["results"]
    counts = {"models": 0, "seeds": 0, "tests": 0, "passed": 0, "warnings": 0, "failures": 0, "errors": 0,
              "skipped": 0}
    problems = []
    for r in results:
        kind = r["unique_id"].split(".")[0]
        if kind in ("model", "seed"):
            counts[kind + "s"] += 1
        elif kind in ("test", "unit_test"):
            counts["tests"] += 1
        status = r["status"]
        key = {"success": "passed", "pass": "passed", "warn": "warnings", "fail": "failures", "error": "errors",
               "skipped": "skipped"}.get(status)
        if key:
            counts[key] += 1
        if status in ("warn", "fail", "error"):
            problems.append({"node": r["unique_id"].split(".")[2], "status": status, "failures": r.get("failures"),
                             "message": _redact(r.get("message") or "")[:300],
                             "relation": r.get("relation_name")})
    return counts, problems


def loaded_before(settings: Settings) -> bool:
    """Whether the warehouse has ever loaded a landing file: then a night without new files
    is a warning, not a mistake in the set-up."""
    with raw_tables(settings) as con:
        return con is not None and table_exists(con, "raw_landing", "file_loads") and con.execute(
            "select count(*) from raw_landing.file_loads where status = 'loaded'").fetchone()[0] > 0


def _redact(message: str) -> str:
    """Quoted values out of a message (a failing cast may quote the value that failed)."""
    return re.sub(r"'[^']*'", "'…'", message)


# -------------------------------------------------------------------- steps ----

class Nightly:
    def __init__(self, settings: Settings, options: Options) -> None:
        self.settings = settings
        self.options = options
        self.state_file = settings.nightly_dir / "state.json"
        started = _now()
        self.run = RunRecord(run_id=f"{started:%Y%m%dT%H%M%SZ}", started_at=_iso(started), pid=os.getpid(),
                             host=socket.gethostname(), project_fingerprint=project_fingerprint())
        self.run.night_id = self.run.run_id
        self.previous: RunRecord | None = None
        self.interrupted: RunRecord | None = None  # the run this one resumes
        self.current: StepRecord | None = None  # the step being run
        self.new_input = True

    # ---- state ----
    def load_previous(self) -> None:
        self.previous = read_record(self.state_file)
        if self.previous is None:
            return
        self.run.built_inputs = dict(self.previous.built_inputs)
        if self.previous.status == "running":  # it held the lock, and the lock is free: it was killed
            self.previous.status = "killed"
            for step in self.previous.steps:
                if step.status == "running":
                    step.status = "killed"
                    step.message = "the run was killed during this step"
        if self.previous.status in ("killed", "incomplete") and self.options.resume:
            self.interrupted = self.previous
            self.run.resumed_run_id = self.previous.run_id
            if _parse_iso(self.run.started_at) - _parse_iso(self.previous.started_at) < timedelta(hours=NIGHT_HOURS):
                self.run.night_id = self.previous.night_id or self.previous.run_id
            # the whole chain of interrupted runs counts, not only the last one: a run killed
            # while it was loading (having resumed another) finished nothing itself
            if self.previous.project_fingerprint == self.run.project_fingerprint:
                self.run.finished_steps = dict(self.previous.finished_steps)
                self.run.failed_steps = list(self.previous.failed_steps)

    def note_input(self, result: LoadResult) -> None:
        """Whether this run loads anything new: new files, or rows of a package a killed run
        left (a run killed while loading nothing new leaves a package of empty tables). New
        data makes every step due again, and the record says so before the load goes on, so a
        kill from here on leaves no claim that older runs finished anything."""
        self.new_input = any(r.status == "loaded" for r in result.reports) or result.recovered_rows > 0 \
            or result.crm_rows_extracted > 0
        if self.new_input and (self.run.finished_steps or self.run.failed_steps):
            self.run.finished_steps.clear()
            self.run.failed_steps.clear()
            self.save_state()

    def note_step(self, record: StepRecord) -> None:
        """Keep the chain's record of what is finished, and what failed, up to date."""
        if record.status in ("ok", "warn"):
            self.run.finished_steps[record.step] = self.run.run_id
            self.run.failed_steps = [s for s in self.run.failed_steps if s != record.step]
        else:
            self.run.finished_steps.pop(record.step, None)
            if record.status == "failed" and record.step not in self.run.failed_steps:
                self.run.failed_steps.append(record.step)

    def save_state(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self.run), indent=2), encoding="utf-8")
        os.replace(tmp, self.state_file)

    def done_by_interrupted_run(self, step: str) -> str | None:
        """The run of the interrupted chain that finished `step`, when this run may pick up
        from it: nothing new was loaded since and the dbt project is unchanged."""
        if self.interrupted is None or self.new_input:
            return None
        return self.run.finished_steps.get(step)

    def failed_in_interrupted_run(self, step: str) -> bool:
        return self.interrupted is not None and not self.new_input and step in self.run.failed_steps

    # ---- the steps ----
    def step_load(self, attempt: int) -> StepOutcome:
        landing, warehouse = self.settings.landing_dir, self.settings.warehouse
        missing = not landing.is_dir()
        crms = bool(configured_crms()[0])  # contacts come by API too: a landing folder is optional
        if missing and not crms and not loaded_before(self.settings):
            raise StepFailed(f"the landing folder {landing} does not exist and nothing has ever been loaded into "
                             f"{warehouse}: set LANDING_DIR to the folder the CRM exports are dropped in (a typo? a "
                             "mount that is not there?); `make run` or `contacts-demo run` runs the demo",
                             transient=False, blocks_rest=True)
        result = run_load(self.settings, on_extracted=self.note_input)
        print_load_result(result)
        counts = {"files": len(result.reports), "rows_read": sum(r.rows_read for r in result.reports),
                  "rows_loaded": sum(r.rows_loaded for r in result.reports),
                  "rows_quarantined": sum(r.rows_quarantined for r in result.reports),
                  "failed_files": len(result.failed_files), "recovered_packages": result.recovered_packages}
        if result.crm_pulls:
            counts.update(crm_pages=sum(p.pages for p in result.crm_pulls),
                          crm_rows_read=sum(p.rows_read for p in result.crm_pulls),
                          crm_rows_loaded=sum(p.rows_loaded for p in result.crm_pulls),
                          crm_rows_quarantined=sum(p.rows_quarantined for p in result.crm_pulls),
                          failed_crms=len(result.failed_crms))
        self.note_input(result)
        empty = missing or not discover_files(landing)
        previous_nights = self.previous.empty_landing_nights if self.previous is not None else 0
        self.run.empty_landing_nights = previous_nights + 1 if empty and not crms else 0
        if result.failed_files or result.failed_crms:
            problems = [{"node": r.file_path, "status": "unreadable", "message": r.error_message}
                        for r in result.failed_files]
            problems += [{"node": f"crm:{p.crm}", "status": "failed", "message": p.error}
                         for p in result.failed_crms]
            what = [f"{len(result.failed_files)} landing file(s) could not be read (see raw_landing.file_loads)"
                    ] if result.failed_files else []
            what += [f"CRM {p.crm} stopped reading ({p.error}); the next run resumes from its last committed "
                     "cursor" for p in result.failed_crms]
            return StepOutcome("failed", counts, "; ".join(what) + "; the others were loaded", problems,
                               alert=True)
        if not loaded_before(self.settings):
            source = f"the landing folder {landing} is empty" + (" and the CRMs gave nothing" if crms else "")
            return StepOutcome("warn", counts, f"{source} and nothing has been loaded yet: the rest of the night "
                                               "has nothing to work on", alert=True, blocks_rest=True)
        if empty and not crms:
            nights = self.run.empty_landing_nights
            what = "does not exist (a mount that is not there? a changed LANDING_DIR?)" if missing else "is empty"
            return StepOutcome("warn", counts,
                               f"the landing folder {landing} {what}: nothing new tonight"
                               + (f" ({nights} nights in a row: are the CRM exports still being dropped?)"
                                  if nights > 1 else "")
                               + "; the rest of the night runs on what the warehouse holds",
                               alert=missing or nights >= self.options.empty_landing_alert_nights)
        return StepOutcome("ok", counts)

    def step_dbt(self, step: str, attempt: int) -> StepOutcome:
        target = self.settings.nightly_dir / "dbt" / step
        results_file = target / "run_results.json"
        # `dbt retry` reruns the failed and skipped nodes of the last invocation; when that one
        # ran no node at all (dbt could not open the warehouse), retry would do nothing
        previous = summarise_run_results(results_file)[0]
        retry = (attempt > 1 or self.failed_in_interrupted_run(step)) and any(
            previous.get(kind) for kind in ("models", "seeds", "tests"))
        if not retry:
            results_file.unlink(missing_ok=True)  # a kill leaves none: the next attempt builds the phase again
        selector = SELECTORS[step]
        # the inputs as they are before the phase runs (it writes none of them)
        inputs = None if retry else inputs_fingerprint(self.settings, step, self.run.project_fingerprint)
        nothing_new = (self.options.skip_unchanged and inputs is not None
                       and self.run.built_inputs.get(step) == inputs)
        if nothing_new:
            selector = NOTHING_NEW_SELECTORS[step]
            if selector is None:
                return StepOutcome("skipped", {}, "nothing new since this phase was last built")
        elif self.run.built_inputs.pop(step, None) is not None:
            self.save_state()  # killed from here on, the phase was built in part: in full next time
        args = ["retry"] if retry else ["build", "--selector", selector]
        env = self.settings.dbt_env()
        env.update(NIGHTLY_RUN_ID=self.run.run_id, NIGHTLY_STEP=step, DBT_TARGET_PATH=str(target))
        self.current.method = "dbt retry" if retry else f"dbt build --selector {selector}" + (
            " (nothing new since this phase was last built in full)" if nothing_new else "")
        with parsed_once(self.settings, env, self.settings.target == "duckdb"):  # Spark: batch.spark_functions
            code, tail = stream_dbt(args, env, step, self.settings.target)
        counts, problems = summarise_run_results(results_file)
        if code == 0 and inputs is not None and not nothing_new:
            self.run.built_inputs[step] = inputs
        if code == 0:
            # a warning is about the client's data (a validity rate, a drop against recent
            # nights): the night goes on, and someone is told
            warned = counts.get("warnings", 0)
            return StepOutcome("warn" if warned else "ok", counts,
                               f"{warned} test(s) warned about the data: see the tests below and the "
                               "test_failures schema" if warned else "", problems, alert=bool(warned))
        errors = [p for p in problems if p["status"] == "error"]
        output = "\n".join(tail)
        transient = code == 2 or bool(TRANSIENT_DBT_ERRORS.search(output))
        if problems:
            message = f"dbt: {counts.get('errors', 0)} error(s), {counts.get('failures', 0)} failing test(s)"
            if not errors:
                message += ": the data broke a promise of the pipeline (see the tests below); the exports " \
                           "were not replaced"
        else:
            last = next((line for line in reversed(tail) if line.strip()), "")
            message = "dbt could not run: " + (explain(output) or _redact(last.strip()) or f"exit status {code}")
        raise StepFailed(message, transient=transient and (bool(errors) or not problems), counts=counts,
                         problems=problems)

    def step_enrich(self, attempt: int) -> StepOutcome:
        try:
            # one credit budget for the night: this run, its retries and the runs that resume it
            result, where = enrich(self.settings, endpoints=self.options.endpoints, progress=False,
                                  budget_period=f"night-{self.run.night_id}")
        except EnrichmentNotRun as exc:
            # the contacts and lists are still good without tonight's answers: the night goes on
            return StepOutcome("warn", {}, f"the enrichment could not run: {exc}", alert=True)
        if result is None:
            return StepOutcome("warn" if where.refused else "skipped", {}, where.skipped or "", alert=where.refused)
        providers = result.providers
        counts = {"requests": sum(p.requested for p in providers),
                  "sent": sum(p.matched + p.not_found + p.failed + p.unanswered for p in providers),
                  "matched": sum(p.matched for p in providers), "credits": sum(p.credits for p in providers),
                  "calls": sum(p.calls for p in providers), "pending": result.pending,
                  "recovered_packages": result.recovered_packages, "credits_at_risk": result.credits_at_risk,
                  "possible_double_charges": result.possible_double_charges, "night_credits": result.period_credits}
        return StepOutcome("ok", counts).degraded_by(self.enrichment_trouble(result))

    def enrichment_trouble(self, result: EnrichmentResult) -> list[str]:
        """What about tonight's enrichment someone should hear of, each with what to do."""
        trouble = []
        for p in result.providers:
            sent = p.matched + p.not_found + p.failed + p.unanswered
            unanswered = p.failed + p.unanswered
            if p.stopped and not p.stopped_by_budget:
                advice = ("check the API key in .dlt/secrets.toml or SOURCES__ENRICHMENT__PROVIDERS__"
                          f"{p.provider.upper()}__API_KEY" if "401" in p.stopped or "403" in p.stopped
                          else "top up the provider's credits" if "402" in p.stopped
                          else "the rest is asked next night; if it happens every night, raise max_seconds "
                               "([sources.enrichment], or the provider's) or check the provider's status page"
                          if "deadline" in p.stopped
                          else "the rest is asked next night; a smaller batch_size or concurrency keeps under the "
                               "provider's rate limit" if "rate limited" in p.stopped
                          else "a bug: run `contacts enrich -v` for the traceback and report it"
                          if "internal error" in p.stopped
                          else "check the provider's status page and base_url")
                trouble.append(f"{p.provider}: stopped, {p.stopped}: {advice}")
            elif sent and not (p.matched + p.not_found):
                trouble.append(f"{p.provider}: unreachable, none of {sent:,} request(s) was answered: check "
                               "base_url, the network and the provider's status page; they are asked again "
                               "next night")
            elif sent and unanswered / sent > self.options.max_enrich_failure_share:
                trouble.append(f"{p.provider}: {unanswered:,} of {sent:,} request(s) got no answer (more than "
                               f"{self.options.max_enrich_failure_share:.0%}); they are asked again next night")
        if result.pending > self.options.max_pending_requests:
            trouble.append(f"{result.pending:,} enrichment request(s) pending, more than "
                           f"{self.options.max_pending_requests:,} (NIGHTLY_MAX_PENDING_REQUESTS): raise the run's "
                           "budget ([sources.enrichment] max_credits) or expect the backlog to take several nights")
        return trouble

    def step_export(self, attempt: int) -> StepOutcome:
        result = run_export(self.settings)
        print_export_result(result)
        outcome = StepOutcome("ok", {"segments": len(result.segments), "rows": sum(s.rows for s in result.segments),
                                     "adds": sum(s.adds for s in result.segments),
                                     "removes": sum(s.removes for s in result.segments),
                                     "held": len(result.held)})
        return outcome.degraded_by([
            f"{s.segment}: the new export would remove {s.removes:,} of its {s.previous_rows:,} contacts, so the "
            "previous files were kept; if the lists really shrank, run `contacts export "
            "--confirm-removals` (a new or wrong warehouse, CONTACTS_WAREHOUSE, is the usual cause)"
            for s in result.held] + [f"{segment}: not exported, {why}" for segment, why in result.refused.items()])

    def step_sync(self, attempt: int) -> StepOutcome:
        """The Mailchimp audience sync (batch/audience_sync.py): skipped without its settings.
        A refused key or audience fails the step (the exports are written all the same); a
        member Mailchimp refuses, or a call that kept failing, warns; the next sync sends
        what this one could not."""
        from batch.audience_sync import MailchimpError, run_sync
        from batch.console import print_sync_result

        try:
            result = run_sync(self.settings)
        except MailchimpError as exc:
            raise StepFailed(f"the Mailchimp sync could not run: {exc}; check [destinations.mailchimp] list_id "
                             "and the API key", transient=exc.status is None or exc.status >= 500) from exc
        print_sync_result(result)
        if result.skipped:
            return StepOutcome("skipped", {}, result.skipped)
        counts = {**{k: v for k, v in result.done.items() if v}, "calls": result.calls, "held": result.held}
        held = (f"{result.held:,} archive(s) held back: more than EXPORT_MAX_REMOVE_SHARE of the synced members "
                "would leave the audience; `contacts sync --confirm-removals` sends them")
        trouble = [*result.errors, *([held] if result.held else [])]
        return StepOutcome("ok", counts).degraded_by(trouble)

    def step_normalise(self, attempt: int) -> StepOutcome:
        """CONTACTS_NORMALISERS=table: the Python functions' new values into normalised.*
        (batch.normalise), on a session the project owns, before the cleaned models look
        them up."""
        if self.settings.target == "spark":
            command = [sys.executable, "-m", "batch.spark_functions", "normalise"]
        else:
            command = [sys.executable, "-m", "batch.normalise"]
        self.current.method = "python -m " + " ".join(command[2:])
        done = subprocess.run(command, cwd=REPO_ROOT, env=self.settings.dbt_env(), capture_output=True, text=True)
        sys.stdout.write(done.stdout)
        if done.returncode:
            last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "")
            raise StepFailed(f"normalise failed: {_redact(last.strip()) or f'exit status {done.returncode}'}",
                             transient=False)
        added = {name: int(n.replace(",", "")) for name, n in
                 re.findall(r"(\w+) \+([\d,]+)", done.stdout.rsplit("normalised values:", 1)[-1])}
        return StepOutcome("ok", {"values_added": sum(added.values()), **added})

    def steps(self) -> list[tuple[str, str, Callable[[int], StepOutcome]]]:
        normalise = [
            ("normalise_inputs", "dbt build of what the Python functions are passed",
             lambda attempt: self.step_dbt("normalise_inputs", attempt)),
            ("normalise", "the Python functions' new values into the normalised tables", self.step_normalise),
        ] if self.settings.normalisers == "table" else []
        return [
            ("load", "load the landing files", self.step_load),
            *normalise,
            ("build_before_enrichment", "dbt build of what the enrichment requests need",
             lambda attempt: self.step_dbt("build_before_enrichment", attempt)),
            ("enrich", "ask the enrichment providers", self.step_enrich),
            ("build_after_enrichment", "dbt build of the answers and everything after them",
             lambda attempt: self.step_dbt("build_after_enrichment", attempt)),
            ("export", "write the campaign exports", self.step_export),
            ("sync", "sync the opted-in segments to the Mailchimp audience", self.step_sync),
        ]

    # ---- running ----
    def execute(self, name: str, title: str, func: Callable[[int], StepOutcome]) -> StepRecord:
        record = StepRecord(step=name, status="running", started_at=_iso(_now()))
        self.current = record
        self.run.steps.append(record)
        print(f"== {name}: {title}", flush=True)
        started = time.perf_counter()
        with MemorySampler() as memory:
            for attempt in range(1, self.options.retries + 2):
                record.attempts = attempt
                self.save_state()
                try:
                    outcome = func(attempt)
                except StepFailed as exc:
                    record.status, record.message = "failed", str(exc)
                    record.counts, record.problems = exc.counts, exc.problems
                    record.blocks_rest = exc.blocks_rest
                    transient = exc.transient
                except Exception as exc:  # noqa: BLE001 - an I/O or network error: worth another attempt
                    log.debug("step %s failed", name, exc_info=True)
                    record.status, record.message = "failed", _redact(one_line(exc))
                    record.blocks_rest = True
                    transient = True
                else:
                    record.status, record.counts = outcome.status, outcome.counts
                    record.message, record.problems = outcome.message, outcome.problems
                    record.alert, record.blocks_rest = outcome.alert, outcome.blocks_rest
                    break
                if not transient or attempt > self.options.retries:
                    break
                print(f"{name} failed ({record.message}); attempt {attempt + 1} of {self.options.retries + 1} "
                      f"in {self.options.retry_wait:g}s", file=sys.stderr, flush=True)
                time.sleep(self.options.retry_wait)
        record.seconds = round(time.perf_counter() - started, 2)
        record.peak_memory_mb = memory.peak_mb
        record.finished_at = _iso(_now())
        self.save_state()
        return record

    def skip(self, name: str, message: str, method: str = "") -> None:
        now = _iso(_now())
        self.run.steps.append(StepRecord(step=name, status="skipped", method=method, started_at=now,
                                         finished_at=now, message=message))

    def execute_all(self) -> None:
        blocked = None
        for name, title, func in self.steps():
            if blocked:
                self.skip(name, f"not run: {blocked}")
            elif name != "load" and (done_by := self.done_by_interrupted_run(name)):
                self.skip(name, "nothing new since", method=f"done by run {done_by}")
                print(f"== {name}: done by the interrupted run {done_by}, nothing new since: skipped")
            else:
                record = self.execute(name, title, func)
                self.note_step(record)
                self.save_state()
                # unreadable landing files are no reason to stop; a failed step is
                if record.blocks_rest:
                    blocked = f"{name} failed" if record.status == "failed" else f"nothing to work on after {name}"

    def finish(self, status: str | None = None) -> None:
        """succeeded, warned; failed: every step ran but one failed (a landing file could
        not be read); incomplete: a failed step stopped the run (the next run resumes it)."""
        if status:
            self.run.status = status
        elif any(s.status == "running" or (s.status == "failed" and s.blocks_rest) for s in self.run.steps):
            self.run.status = "incomplete"
        elif any(s.status == "failed" for s in self.run.steps):
            self.run.status = "failed"
        elif any(s.status == "warn" for s in self.run.steps):
            self.run.status = "warned"
        else:
            self.run.status = "succeeded"
        self.run.finished_at = _iso(_now())
        self.run.seconds = round((_now() - datetime.fromisoformat(self.run.started_at)).total_seconds(), 1)
        self.run.peak_memory_mb = max([s.peak_memory_mb for s in self.run.steps] or [0.0])


# ---------------------------------------------------------------- recording ----

RUNS_DDL = """
create table if not exists monitoring.nightly_runs (
    nightly_run_id varchar, started_at timestamp, finished_at timestamp, status varchar,
    seconds double, peak_memory_mb double, resumed_run_id varchar, host varchar, report_path varchar
)"""
STEPS_DDL = """
create table if not exists monitoring.nightly_steps (
    nightly_run_id varchar, step varchar, step_order integer, status varchar, method varchar,
    attempts integer, started_at timestamp, finished_at timestamp, seconds double,
    peak_memory_mb double, counts_json varchar, message varchar
)"""


def _utc_naive(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC).replace(tzinfo=None) if value else None


def _record_rows(con: duckdb.DuckDBPyConnection, run: RunRecord) -> None:
    con.execute("delete from monitoring.nightly_runs where nightly_run_id = ?", [run.run_id])
    con.execute("delete from monitoring.nightly_steps where nightly_run_id = ?", [run.run_id])
    con.execute("insert into monitoring.nightly_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run.run_id, _utc_naive(run.started_at), _utc_naive(run.finished_at), run.status, run.seconds,
                 run.peak_memory_mb, run.resumed_run_id, run.host, run.report_path])
    for order, s in enumerate(run.steps, start=1):
        con.execute("insert into monitoring.nightly_steps values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [run.run_id, s.step, order, s.status, s.method, s.attempts, _utc_naive(s.started_at),
                     _utc_naive(s.finished_at), s.seconds, s.peak_memory_mb, json.dumps(s.counts), s.message])


def record_run(settings: Settings, run: RunRecord) -> None:
    """Write (or rewrite) a run and its steps into monitoring.nightly_runs / nightly_steps.

    On Spark, one Parquet file per run in each table's folder under the raw tables
    (<raw_dir>/monitoring/nightly_runs/<run id>.parquet), which Spark registers as it
    registers the raw tables: a rewrite replaces the run's file, whole."""
    if settings.target == "spark":
        con = duckdb.connect()
        try:
            con.execute("create schema monitoring")
            con.execute(RUNS_DDL)
            con.execute(STEPS_DDL)
            _record_rows(con, run)
            for table in ("nightly_runs", "nightly_steps"):
                folder = settings.raw_dir / "monitoring" / table
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".{run.run_id}.parquet.tmp"
                con.execute(f"copy monitoring.{table} to '{tmp.as_posix()}' (format parquet)")
                os.replace(tmp, folder / f"{run.run_id}.parquet")
        finally:
            con.close()
        return
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute("create schema if not exists monitoring")
        con.execute(RUNS_DDL)
        con.execute(STEPS_DDL)
        con.execute("begin")
        _record_rows(con, run)
        con.execute("commit")
    finally:
        con.close()


# --------------------------------------------------------------------- main ----

def print_summary(settings: Settings, run: RunRecord) -> None:
    print("== summary")
    rows = [[s.step, s.status, s.seconds, s.peak_memory_mb, s.attempts, s.method,
             ", ".join(f"{k} {v:,}" for k, v in s.counts.items() if v)] for s in run.steps]
    print(render_table(["step", "status", "seconds", "peak MB", "attempts", "how", "counts"], rows))
    for s in run.steps:
        if s.message and s.status != "skipped":
            print(f"  {s.step}: {s.message}")
        for p in s.problems[:10]:
            print(f"    {p['status']}: {p['node']}" + (f" ({p['failures']} rows)" if p.get("failures") else ""))
    try:
        summary = summarise_warehouse(settings)
    except Exception as exc:  # noqa: BLE001 - the summary must reach the end, locked warehouse or not
        log.debug("could not read the warehouse", exc_info=True)
        summary = []
        print(f"(row counts not available: {one_line(exc)})")
    if summary:
        print(render_table(["relation", "rows"], summary))
    print(f"warehouse: {settings.warehouse}")
    if run.report_path:
        print(f"report:    {Path(run.report_path).as_uri()}")
    print(f"Run {run.run_id} {run.status} in {run.seconds:.1f}s"
          + (f" (resumed run {run.resumed_run_id})" if run.resumed_run_id else "") + ".")


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """SIGTERM (systemd stop, a scheduler's timeout) ends the run through the same path as a failure."""
    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def read_record(state_file: Path) -> RunRecord | None:
    """The last run's record, None when there is none or it cannot be read (logged)."""
    if not state_file.exists():
        return None
    try:
        return RunRecord.from_dict(json.loads(state_file.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        log.warning("ignoring an unreadable %s: %s", state_file, exc)
        return None


def reason_to_wait(settings: Settings, options: Options) -> str | None:
    """With options.min_new_rows: why the night should not start yet (too few new landing
    rows and CRM changes), else None. A run to resume, or a last run older than
    max_wait_hours, starts; so does a CRM that cannot be asked (the night says why)."""
    if options.min_new_rows <= 0:
        return None
    state_file = settings.nightly_dir / "state.json"
    previous = read_record(state_file)
    if previous is None and state_file.exists():
        return None  # an unreadable record: the run says so
    if previous is not None:
        if previous.status in ("running", "killed", "incomplete"):
            return None
        age = _now() - _parse_iso(previous.started_at)
        if options.max_wait_hours and age >= timedelta(hours=options.max_wait_hours):
            return None
    backlog = landing_backlog(settings, loaded_files(settings))
    if backlog.uncounted or backlog.rows >= options.min_new_rows:
        return None
    changed, uncounted = crm_changes(settings)
    if uncounted:
        log.warning("CRM changes could not be counted: %s; the night starts", "; ".join(uncounted))
        return None
    if backlog.rows + changed >= options.min_new_rows:
        return None
    return (f"{backlog.rows:,} new row(s) in {backlog.files:,} landing file(s)"
            + (f" and {changed:,} changed record(s) in the CRMs" if configured_crms()[0] else "")
            + f", fewer than the {options.min_new_rows:,} a night waits for (--min-new-rows, NIGHTLY_MIN_NEW_ROWS): "
              "not started")


def run_nightly(settings: Settings, options: Options) -> int:
    if (waiting := reason_to_wait(settings, options)) is not None:
        print(waiting)
        return 0
    nightly = Nightly(settings, options)
    run = nightly.run
    lock = RunLock(settings.nightly_dir / "lock")
    try:
        lock.acquire({"run_id": run.run_id, "pid": run.pid, "host": run.host, "started_at": run.started_at})
    except AlreadyRunning as exc:
        print(f"Not starting: {exc}. Only one nightly run at a time works on {settings.warehouse}; if that run "
              f"is stuck, stop it and the lock goes with it.", file=sys.stderr)
        return EXIT_LOCKED
    except OSError as exc:
        # the folder beside the warehouse cannot be written: nothing can be recorded there either
        log.debug("could not take the run lock", exc_info=True)
        reason = f"cannot write {settings.nightly_dir}: {exc.strerror or exc}. " + (explain(str(exc)) or "")
        print(f"Not starting: {reason.strip()}", file=sys.stderr)
        run.problems.append(reason.strip())
        nightly.finish("failed")
        alert_for(settings, run, on_warnings=True)
        ping_heartbeat(run)
        return 1
    try:
        nightly.load_previous()
        if nightly.previous is not None and nightly.previous.status == "killed":
            killed_at = next((s.step for s in nightly.previous.steps if s.status == "killed"), "?")
            print(f"The previous run {nightly.previous.run_id} was killed during step {killed_at}.")
            try:
                record_run(settings, nightly.previous)
            except Exception as exc:  # noqa: BLE001 - recording must not stop the night
                log.warning("could not record the killed run: %s", one_line(exc))
        if nightly.interrupted is not None:
            print(f"Resuming run {nightly.interrupted.run_id}: steps it finished are skipped if nothing new "
                  "has arrived, a failed dbt phase is retried from its failed nodes.")
        nightly.save_state()
        with _terminate_as_exit():
            try:
                nightly.execute_all()
                nightly.finish()
            except (KeyboardInterrupt, SystemExit):
                for s in run.steps:
                    if s.status == "running":
                        s.status, s.message = "failed", "stopped by a signal"
                nightly.finish("incomplete")
                raise
    finally:
        if run.status == "running":
            nightly.finish("incomplete")
        try:
            run.report_path = str(report_path(settings))
            record_run(settings, run)
            write_report(settings)
        except Exception as exc:  # noqa: BLE001 - the summary and the alert still go out
            log.debug("could not record the run", exc_info=True)
            problem = f"the run could not be recorded in the warehouse or its report written: {_redact(one_line(exc))}"
            print(problem, file=sys.stderr)
            run.problems.append(problem)
        nightly.save_state()
        print_summary(settings, run)
        killed = nightly.previous if nightly.previous is not None and nightly.previous.status == "killed" else None
        alert_for(settings, run, on_warnings=options.alert_on_warnings, killed=killed)
        ping_heartbeat(run)
        lock.release()
    return 0 if run.status in ("succeeded", "warned") else 1


__all__ = ["EXIT_LOCKED", "Options", "RunLock", "RunRecord", "StepRecord", "record_run", "run_nightly"]
