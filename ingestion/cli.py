"""Command line for the Python side of the contacts pipeline: `python -m ingestion --help`."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.diagnose import one_line
from ingestion.landing import holds_only_demo_data
from ingestion.settings import REPO_ROOT, Settings, load_settings

if TYPE_CHECKING:
    from ingestion.enrichment.loader import EnrichmentResult

log = logging.getLogger("ingestion")

DEFAULT_DEMO_CONTACTS = 20_000
DEFAULT_SEED = 42


def render_table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain-text table; numbers right-aligned."""
    cells = [[("" if c is None else f"{c:,}" if isinstance(c, int) else str(c)) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) and rows
               for i in range(len(headers))]

    def fmt(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths)))

    lines = [fmt(headers), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


# ------------------------------------------------------------------ demo ----

def landing_is_empty(settings: Settings) -> bool:
    from ingestion.landing import discover_files
    return not discover_files(settings.landing_dir)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from ingestion.demo.generator import generate

    landing = Path(args.landing_dir) if args.landing_dir else settings.landing_dir
    truth = Path(args.truth_dir) if args.truth_dir else settings.ground_truth_dir
    if not args.force and not landing_is_empty(Settings(settings.warehouse, landing, settings.export_dir,
                                                        truth, settings.header_aliases)):
        print(f"{landing} already holds files; use --force to write the demo files anyway", file=sys.stderr)
        return 2
    started = time.perf_counter()
    summary = generate(args.contacts, args.seed, landing, truth)
    print(f"Wrote {summary.contacts:,} contact records of {summary.persons:,} people at "
          f"{summary.companies:,} companies (+{summary.junk_rows} rows with no identity) "
          f"in {time.perf_counter() - started:.1f}s")
    print(render_table(["file", "records"], [[name, n] for name, n in summary.files.items()]))
    print(f"landing folder: {landing}\nground truth:   {truth}")
    return 0


# ------------------------------------------------------------------ load ----

def print_load_result(result) -> None:  # noqa: ANN001 - LoadResult, imported lazily
    if result.recovered_packages:
        print(f"Recovered {result.recovered_packages} load package(s) left by an interrupted run.")
    if not result.reports:
        print("No new or changed files in the landing folder: nothing to load.")
        return
    rows = [[r.file_path, r.source_system, r.file_format, r.rows_read, r.rows_loaded, r.rows_quarantined,
             r.status] for r in result.reports]
    total = [sum(r.rows_read for r in result.reports), sum(r.rows_loaded for r in result.reports),
             sum(r.rows_quarantined for r in result.reports)]
    rows.append(["total", "", "", *total, ""])
    print(render_table(["file", "source", "format", "read", "loaded", "quarantined", "status"], rows))
    for r in result.reports:
        if r.status != "loaded":
            print(f"ERROR {r.file_path}: {r.error_message}", file=sys.stderr)
        elif r.quarantine_reasons:
            reasons = ", ".join(f"{n} {code}" for code, n in sorted(r.quarantine_reasons.items()))
            print(f"  {r.file_path}: quarantined {reasons} (see raw_landing.quarantined_rows)")


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from ingestion.load import run_load

    result = run_load(settings)
    print_load_result(result)
    return 1 if result.failed_files and args.strict else 0


# ------------------------------------------------------------------- dbt ----

def dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def dbt_command(args: list[str]) -> list[str]:
    """The dbt command line for `args`, with this project and its profiles from any directory."""
    return [dbt_executable(), *args, "--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT / "profiles")]


def run_dbt(settings: Settings, args: list[str]) -> int:
    """Run dbt from the repo root against this settings' warehouse; returns dbt's exit code."""
    cmd = dbt_command(args)
    log.info("running %s", " ".join(cmd[:2]))
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(cmd, cwd=REPO_ROOT, env=settings.dbt_env(), check=False).returncode


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    extra = args.dbt_args[1:] if args.dbt_args[:1] == ["--"] else args.dbt_args  # `build -- --select x`
    return run_dbt(settings, ["build", *extra])


# ------------------------------------------------------------ enrichment ----

def _provider_names() -> list[str]:
    import csv

    with (REPO_ROOT / "seeds" / "enrichment_providers.csv").open(newline="") as f:
        return [row["provider"] for row in csv.DictReader(f)]


@dataclass
class Endpoints:
    """Where tonight's enrichment requests go: the configured providers (url None), the
    local emulator (url), or nowhere (skipped, with the reason)."""

    url: str | None = None
    skipped: str | None = None


@contextmanager
def provider_endpoints(settings: Settings, *, demo: bool = False, force_emulator: bool = False
                       ) -> Iterator[Endpoints]:
    """The configured providers; or, in demo mode (`run --demo`, `enrich --emulator`), the
    local provider emulator, started for this process only.

    The emulator answers from the demo's ground truth: real contacts sent to it would come
    back "not found" and be held back from the real providers for the not-found back-off.
    So it only ever stands in when asked for and when every contact file in the landing
    folder and in the warehouse is one the demo generator wrote (landing.holds_only_demo_data).
    """
    import dlt

    from ingestion.enrichment.emulator import DEFAULT_KEYS, Emulator, EmulatorConfig

    names = _provider_names()
    configured = [n for n in names if dlt.config.get(f"sources.enrichment.providers.{n}.base_url")]
    if configured and not force_emulator:
        yield Endpoints()
        return
    if not (demo or force_emulator):
        yield Endpoints(skipped="no enrichment provider configured (see the README's Enrichment section)")
        return
    if not (settings.ground_truth_dir / "persons.parquet").exists() \
            or not holds_only_demo_data(settings.landing_dir, settings.warehouse):
        yield Endpoints(skipped="the local provider emulator only answers for demo data, and this warehouse or "
                                "landing folder holds other contacts: nothing was sent")
        return
    emulator = Emulator(EmulatorConfig(truth_dir=settings.ground_truth_dir)).start()
    saved = {k: os.environ.get(k) for n in names for k in (f"SOURCES__ENRICHMENT__PROVIDERS__{n.upper()}__BASE_URL",
                                                           f"SOURCES__ENRICHMENT__PROVIDERS__{n.upper()}__API_KEY")}
    for n in names:
        if n in DEFAULT_KEYS:
            os.environ[f"SOURCES__ENRICHMENT__PROVIDERS__{n.upper()}__BASE_URL"] = emulator.url
            os.environ[f"SOURCES__ENRICHMENT__PROVIDERS__{n.upper()}__API_KEY"] = DEFAULT_KEYS[n]
    print(f"Demo data and no enrichment provider configured: using the local provider emulator at {emulator.url}.")
    try:
        yield Endpoints(url=emulator.url)
    finally:
        emulator.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class EnrichmentNotRun(RuntimeError):
    """The enrichment could not run at all; the message says why and what to do."""


def enrich(settings: Settings, *, dry_run: bool = False, only: list[str] | None = None,
           limit: int | None = None, demo: bool = False, force_emulator: bool = False,
           progress: bool | None = None, budget_period: str | None = None) -> tuple[EnrichmentResult | None, str]:
    """Run the enrichment loader and print its summary.

    Returns the result and a note; the result is None when the enrichment was skipped
    (the note says why). Raises EnrichmentNotRun when it could not run.
    """
    from ingestion.enrichment.loader import Progress, RequestsNotBuilt, describe, run_enrichment

    with provider_endpoints(settings, demo=demo, force_emulator=force_emulator) as endpoints:
        if endpoints.skipped:
            print(f"Enrichment skipped: {endpoints.skipped}.")
            return None, endpoints.skipped
        try:
            result = run_enrichment(settings, dry_run=dry_run, only=only, limit=limit,
                                    progress=Progress(enabled=progress), budget_period=budget_period)
        except RequestsNotBuilt as exc:
            raise EnrichmentNotRun(str(exc)) from exc
    for reason in result.skipped:
        print(f"skipped provider {reason}", file=sys.stderr)
    if result.skipped and not result.providers:
        raise EnrichmentNotRun("no provider could be asked: " + "; ".join(result.skipped))
    headers, rows = describe(result)
    if result.recovered_packages:
        print(f"Loaded {result.recovered_packages} package(s) of answers left by an interrupted run.")
    print(render_table(headers, rows))
    if dry_run:
        print("Dry run: nothing was sent. Later providers' figures are upper bounds (the waterfall drops "
              "what earlier providers supply).")
        return result, ""
    credits = sum(p.credits for p in result.providers)
    print(f"credits charged: {credits:,}; pending (asked again next run): {result.pending:,}"
          + (f"; credits possibly billed for lost answers: {result.credits_at_risk:,}" if result.credits_at_risk
             else ""))
    ceiling = f" of max_credits {result.max_credits:,}" if result.max_credits else ""
    print(f"night {result.period}: {result.period_credits:,} credit(s) billed or possibly billed{ceiling}"
          + (f" ({result.credits_before:,} before this run: earlier attempts, calls cut off)"
             if result.credits_before else ""))
    return result, ""


def cmd_enrich(args: argparse.Namespace, settings: Settings) -> int:
    try:
        enrich(settings, dry_run=args.dry_run, only=args.provider or None, limit=args.limit,
               force_emulator=args.emulator, progress=False if args.no_progress else None)
    except EnrichmentNotRun as exc:
        print(f"ERROR {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_emulator(args: argparse.Namespace, settings: Settings) -> int:
    from ingestion.enrichment.emulator import COMPANY, DEFAULT_KEYS, PERSON, Emulator, EmulatorConfig, Faults

    faults = Faults(server_error_rate=args.server_error_rate, rate_limit_rate=args.rate_limit_rate,
                    malformed_rate=args.malformed_rate, latency_ms=args.latency_ms)
    if args.hostile:  # People Data Labs' billing and the faults real APIs and proxies produce
        faults = Faults(server_error_rate=0.08, gateway_rate=0.05, reset_rate=0.05, malformed_rate=0.05,
                        junk_item_rate=0.1, trickle_rate=0.05, hang_rate=0.02, rate_limit_per_window=60,
                        rate_limit_window_seconds=60.0, latency_ms=args.latency_ms)
    config = EmulatorConfig(truth_dir=Path(args.truth_dir) if args.truth_dir else settings.ground_truth_dir,
                            faults={PERSON: faults, COMPANY: faults},
                            match_rate={PERSON: args.match_rate, COMPANY: args.match_rate},
                            idempotent=not args.hostile)
    emulator = Emulator(config, port=args.port).start()
    print(f"Provider emulator on {emulator.url} (person: POST /v5/person/bulk, key header X-Api-Key "
          f"{DEFAULT_KEYS[PERSON]!r}; company: POST /v1/companies/lookup, bearer {DEFAULT_KEYS[COMPANY]!r}). "
          "Ctrl-C stops it.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()
    return 0


# ------------------------------------------------------------------- run ----

def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from ingestion.nightly import Options, run_nightly

    options = Options.from_env()
    options.demo, options.demo_contacts, options.seed = args.demo, args.demo_contacts, args.seed
    if args.demo and landing_is_empty(settings):
        # only ever on request: the scheduled command never invents data
        from ingestion.demo.generator import generate

        print(f"Demo mode and the landing folder {settings.landing_dir} is empty: writing "
              f"{options.demo_contacts:,} demo contacts.")
        generate(options.demo_contacts, options.seed, settings.landing_dir, settings.ground_truth_dir)
    if args.retries is not None:
        options.retries = args.retries
    if args.retry_wait is not None:
        options.retry_wait = args.retry_wait
    options.resume = not args.no_resume
    options.alert_on_warnings = options.alert_on_warnings or args.alert_on_warnings
    return run_nightly(settings, options)


LAYER_OUTPUTS = [("cleaned", "cleaned_contacts"), ("deduped", "contact_identity_map"),
                 ("deduped", "golden_contacts"), ("deduped", "contact_id_aliases"),
                 ("raw_enrichment", "provider_responses"), ("enriched", "enrichment_requests"),
                 ("enriched", "dim_contacts"), ("exports", "segment_memberships"),
                 ("exports", "campaign_export_contacts")]


def summarise_warehouse(settings: Settings) -> list[list[object]]:
    import duckdb

    rows: list[list[object]] = []
    if not settings.warehouse.exists():
        return rows
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        tables = con.execute("select table_schema, table_name from information_schema.tables "
                         "where table_schema in ('raw_landing', 'staging') and table_name not like '\\_dlt%' escape '\\' "
                         "order by table_schema, table_name").fetchall()
        # and what each later layer hands on, once it is built
        built = {tuple(r) for r in con.execute("select table_schema, table_name from information_schema.tables")
                 .fetchall()}
        tables += [t for t in LAYER_OUTPUTS if t in built]
        for schema, name in tables:
            n = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
            rows.append([f"{schema}.{name}", n])
    finally:
        con.close()
    return rows


# --------------------------------------------------------------- exports ----

def export(settings: Settings, confirm_removals: bool = False):  # noqa: ANN201 - ExportResult, imported lazily
    from ingestion.exports import run_export
    return run_export(settings, confirm_removals=confirm_removals)


def print_export_result(result) -> None:  # noqa: ANN001 - ExportResult
    rows = [[s.segment, s.rows, s.adds, s.removes, s.owner, "held back" if s in result.held else ""]
            for s in result.segments]
    print(render_table(["segment", "rows", "adds", "removes", "owner", ""], rows))
    for s in result.held:
        print(f"HELD BACK {s.segment}: the new export would remove {s.removes:,} of {s.previous_rows:,} contacts "
              "(more than EXPORT_MAX_REMOVE_SHARE); the previous files stay. `python -m ingestion export "
              "--confirm-removals` writes it.", file=sys.stderr)
    for segment, why in result.refused.items():
        print(f"NOT EXPORTED {segment}: {why}", file=sys.stderr)
    print(f"files and manifest.json in {result.export_dir}")


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    result = export(settings, confirm_removals=args.confirm_removals)
    print_export_result(result)
    return 0


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.warehouse.exists():
        print(f"no warehouse at {settings.warehouse}", file=sys.stderr)
        return 2
    emails = list(args.email or [])
    if args.from_file:
        emails += [line.strip() for line in Path(args.from_file).read_text(encoding="utf-8").splitlines()
                   if line.strip() and not line.startswith("#")]
    if not any(e.strip() for e in emails):
        print("forget: give at least one --email (or --from-file)", file=sys.stderr)
        return 2
    from ingestion.nightly import AlreadyRunning, RunLock

    lock = RunLock(settings.nightly_dir / "lock")
    try:  # the warehouse is rewritten at the end: no nightly run may have it open
        lock.acquire({"run_id": "forget", "pid": os.getpid(), "host": "", "started_at": ""})
    except AlreadyRunning as exc:
        print(f"forget: not now, {exc}; try again when it has finished", file=sys.stderr)
        return 75
    try:
        return _forget(settings, emails)
    finally:
        lock.release()


def _forget(settings: Settings, emails: list[str]) -> int:
    from ingestion.load import run_load
    from ingestion.privacy import forget, rewrite_warehouse

    result = forget(settings, emails)
    print(f"Erasing {len(emails)} address(es): {result.contacts} contact id(s), {result.records} raw record(s); "
          f"{result.addresses_suppressed} address hash(es) added to the suppression list.")
    print(render_table(["relation", "rows"], [[k, v] for k, v in result.rows.items()]))
    print("== load the suppression list")
    run_load(settings)
    print("== dbt build --full-refresh (every model, from what is left)")
    code = run_dbt(settings, ["build", "--full-refresh"])
    if code:
        print("The rebuild failed: the raw data is erased, the models still hold the person until a "
              "successful `dbt build --full-refresh`.", file=sys.stderr)
        return 1
    print("== campaign exports, again")
    print_export_result(export(settings))
    print("== rewrite the warehouse file (a deleted row's bytes stay in freed blocks until then)")
    rewrite_warehouse(settings.warehouse)
    return 0


# -------------------------------------------------------------- accuracy ----

def cmd_accuracy(args: argparse.Namespace, settings: Settings) -> int:
    from ingestion.accuracy import duplicates_meet_targets, measure, measure_duplicates, render, render_duplicates

    truth = Path(args.truth_dir) if args.truth_dir else settings.ground_truth_dir
    results = measure(settings.warehouse, truth)
    print("Cleaned layer: records whose cleaned value is right\n")
    print(render(results))
    duplicates = measure_duplicates(settings.warehouse, truth)
    print("\nDeduped layer: pairs of records of one person, found in one contact\n")
    print(render_duplicates(duplicates))
    return 0 if all(r.meets_target for r in results) and duplicates_meet_targets(duplicates) else 1


# ----------------------------------------------------------------- bench ----

def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from ingestion.bench import run_bench

    def sizes(text: str) -> list[int]:
        return [int(n) for n in text.split(",") if n.strip()] if text else []

    return run_bench(args.contacts, args.seed, Path(args.workdir) if args.workdir else None,
                     sizes(args.dedupe_scales), sizes(args.nightly_scales))


# ------------------------------------------------------------------ main ----

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ingestion",
        description="Load CRM contact exports into the DuckDB warehouse and run the dbt project. "
                    "Paths come from CONTACTS_WAREHOUSE, LANDING_DIR, EXPORT_DIR and GROUND_TRUTH_DIR.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log at info level (-vv: debug). Info logs carry file names and counts, "
                             "never emails or names")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="write deterministic demo CRM exports and their ground truth",
                          description="Write five demo CRM exports (HubSpot CSV, Salesforce CSV, trade-show "
                                      "CSV, webinar JSONL, partner Parquet) to the landing folder and the "
                                      "true person behind every record to the ground-truth folder.")
    demo.add_argument("--contacts", type=int, default=DEFAULT_DEMO_CONTACTS,
                      help=f"number of contact records across all files (default {DEFAULT_DEMO_CONTACTS:,})")
    demo.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed; same seed, same files")
    demo.add_argument("--landing-dir", help="where to write the exports (default: LANDING_DIR)")
    demo.add_argument("--truth-dir", help="where to write the ground truth (default: GROUND_TRUTH_DIR)")
    demo.add_argument("--force", action="store_true", help="write even if the landing folder holds files")
    demo.set_defaults(func=cmd_demo)

    load = sub.add_parser("load", help="load new and changed landing files into raw_landing.*",
                          description="Load every new or changed file of the landing folder into the "
                                      "warehouse (raw_landing.contacts, quarantined_rows, file_loads) and "
                                      "print rows read, loaded and quarantined per file.")
    load.add_argument("--strict", action="store_true", help="exit 1 when a file could not be read")
    load.set_defaults(func=cmd_load)

    build = sub.add_parser("build", help="run `dbt build` against the configured warehouse",
                           description="Run `dbt build` with the project's profiles and warehouse; "
                                       "arguments after -- go to dbt (e.g. -- --select staging).")
    build.add_argument("dbt_args", nargs=argparse.REMAINDER, help="extra arguments for dbt build")
    build.set_defaults(func=cmd_build)

    run = sub.add_parser("run", help="the nightly batch: load, build, enrich, build, export, report, alert",
                         description="The nightly batch: load the landing files; dbt build --selector "
                                     "nightly_before_enrichment; ask the configured enrichment providers; dbt "
                                     "build --selector nightly_after_enrichment; write the campaign exports. "
                                     "Records every step in monitoring.nightly_steps, writes the HTML report, "
                                     "prints a summary, posts an alert to NIGHTLY_ALERT_WEBHOOK_URL when the run "
                                     "failed or degraded and pings NIGHTLY_HEARTBEAT_URL. It never invents data: "
                                     "an empty landing folder is a warning (nothing new tonight), a missing one on "
                                     "a warehouse that never loaded is an error. One run at a time (exit status "
                                     "75 when another holds the lock); a failed or killed run is resumed by the "
                                     "next. Exit status 1 when the run failed.")
    run.add_argument("--demo", action="store_true",
                     help="demo mode (what `make run` does): write demo data when the landing folder is empty, "
                          "and let the local provider emulator answer when no provider is configured and the "
                          "warehouse holds only demo data")
    run.add_argument("--demo-contacts", type=int, default=DEFAULT_DEMO_CONTACTS,
                     help=f"with --demo: demo records to write (default {DEFAULT_DEMO_CONTACTS:,})")
    run.add_argument("--seed", type=int, default=DEFAULT_SEED, help="with --demo: demo random seed")
    run.add_argument("--retries", type=int, help="attempts after a transient failure of a step "
                                                 "(default: NIGHTLY_RETRIES or 2)")
    run.add_argument("--retry-wait", type=float, help="seconds between attempts "
                                                      "(default: NIGHTLY_RETRY_WAIT_SECONDS or 30)")
    run.add_argument("--no-resume", action="store_true",
                     help="run every step even when the previous run was interrupted and nothing changed")
    run.add_argument("--alert-on-warnings", action="store_true",
                     help="alert also when the run only warned (default: NIGHTLY_ALERT_ON_WARNINGS)")
    run.set_defaults(func=cmd_run)

    enrich_ = sub.add_parser("enrich", help="ask the enrichment providers what enriched.enrichment_requests lists",
                             description="Read enriched.enrichment_requests, ask the providers in waterfall order "
                                         "within the run's budget, append every response to "
                                         "raw_enrichment.provider_responses and print a summary. Providers come "
                                         "from .dlt/config.toml and .dlt/secrets.toml (or SOURCES__ENRICHMENT__* "
                                         "variables); with none configured nothing is sent.")
    enrich_.add_argument("--dry-run", action="store_true",
                         help="send nothing; print how many calls and credits the run would use at most")
    enrich_.add_argument("--provider", action="append", metavar="NAME",
                         help="ask only this provider (repeatable; default: all, in waterfall order)")
    enrich_.add_argument("--limit", type=int, help="send at most this many requests per provider")
    enrich_.add_argument("--emulator", action="store_true",
                         help="ask the local provider emulator instead of the configured providers; refused "
                              "unless the warehouse and landing folder hold only demo data")
    enrich_.add_argument("--no-progress", action="store_true", help="no progress bar on the terminal")
    enrich_.set_defaults(func=cmd_enrich)

    emulator = sub.add_parser("emulator", help="serve the local provider emulator until Ctrl-C",
                              description="Serve the person and company provider emulator on 127.0.0.1, "
                                          "answering from the demo ground truth; faults by flag.")
    emulator.add_argument("--port", type=int, default=8799, help="port (default 8799; 0: any free port)")
    emulator.add_argument("--truth-dir", help="ground-truth folder (default: GROUND_TRUTH_DIR)")
    emulator.add_argument("--match-rate", type=float, default=0.85, help="share of people it knows (default 0.85)")
    emulator.add_argument("--server-error-rate", type=float, default=0.0, help="share of calls answered 5xx")
    emulator.add_argument("--rate-limit-rate", type=float, default=0.0, help="share of calls answered 429")
    emulator.add_argument("--malformed-rate", type=float, default=0.0, help="share of bodies cut short")
    emulator.add_argument("--latency-ms", type=float, default=0.0, help="delay of every call")
    emulator.add_argument("--hostile", action="store_true",
                          help="bill every match every time (no idempotency), and 5xx, gateway pages, resets, cut "
                               "bodies, non-object items, trickling and hanging answers, a 60-call-a-minute window")
    emulator.set_defaults(func=cmd_emulator)

    export_ = sub.add_parser("export", help="write every segment's campaign files and the manifest to EXPORT_DIR",
                             description="For every segment of exports.segment_catalog write <segment>.csv, "
                                         "<segment>.parquet, adds.csv and removes.csv (against the previous "
                                         "export) into EXPORT_DIR/<segment>/, suppressions.csv, then "
                                         "manifest.json. A segment whose export would remove more than "
                                         "EXPORT_MAX_REMOVE_SHARE (0.5) of its list keeps its previous files.")
    export_.add_argument("--confirm-removals", action="store_true",
                         help="write every segment even when its export removes more than EXPORT_MAX_REMOVE_SHARE "
                              "of the list (after checking that the lists really shrank)")
    export_.set_defaults(func=cmd_export)

    forget_ = sub.add_parser("forget", help="erase a person: raw rows, provider answers, models, exports",
                             description="Erase everyone holding one of the given addresses from every raw "
                                         "table, provider response, model and export file; keep only the "
                                         "addresses' sha256 on the suppression list (LANDING_DIR/"
                                         "suppression__erasures.csv) so they are never imported again. "
                                         "Rebuilds every model (dbt build --full-refresh) and the exports.")
    forget_.add_argument("--email", action="append", metavar="ADDRESS", help="an address to erase (repeatable)")
    forget_.add_argument("--from-file", metavar="PATH", help="a file of addresses, one per line")
    forget_.set_defaults(func=cmd_forget)

    accuracy = sub.add_parser("accuracy", help="score the cleaned and deduped layers against the demo ground truth",
                              description="Join cleaned.cleaned_contacts and deduped.contact_identity_map to the "
                                          "demo generator's ground truth; print per-field accuracy (email, phone, "
                                          "country...) and the pairwise precision and recall of the duplicate "
                                          "merges, overall and per kind of duplicate. Exit status 1 when a "
                                          "target is missed.")
    accuracy.add_argument("--truth-dir", help="ground-truth folder (default: GROUND_TRUTH_DIR)")
    accuracy.set_defaults(func=cmd_accuracy)

    bench = sub.add_parser("bench", help="time each stage and its peak memory on N demo contacts",
                           description="Generate N demo contacts in a scratch folder, then time each stage "
                                       "(generation, DuckDB read_csv floor, ingestion, ...) in its own "
                                       "process and print a table with seconds and peak memory.")
    bench.add_argument("--contacts", type=int, default=500_000, help="demo contacts (default 500,000)")
    bench.add_argument("--seed", type=int, default=DEFAULT_SEED, help="demo random seed")
    bench.add_argument("--workdir", help="scratch folder (default: a new temporary folder, removed after)")
    bench.add_argument("--dedupe-scales", default="",
                       help="comma-separated contact counts to build the deduped layer from scratch at, "
                            "for the scaling table (make bench: 100000,500000,1000000)")
    bench.add_argument("--nightly-scales", default="",
                       help="comma-separated contact counts to run the whole nightly command at, first run and "
                            "a 1%% delta (make bench: 500000,1000000)")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # dlt logs through its own logger, at the same level
    os.environ.setdefault("RUNTIME__LOG_LEVEL", logging.getLevelName(level))
    # dlt reads .dlt/config.toml and .dlt/secrets.toml of the repository, from any working directory
    os.environ.setdefault("DLT_PROJECT_DIR", str(REPO_ROOT))
    try:
        return args.func(args, load_settings())
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for the operator; the traceback with -v
        if args.verbose:
            log.exception("%s failed", args.command)
        print(f"ERROR {args.command}: {one_line(exc)}" + ("" if args.verbose else " (-v for the traceback)"),
              file=sys.stderr)
        return 1
