"""The `contacts` command (also `python -m batch`): parses the arguments and calls the batch.

Each command is a few lines: the work is done by the runner (batch/runner.py), the steps it
orchestrates (ingestion/, batch/dbt.py, batch/enrich.py, batch/exports.py, batch/privacy.py)
and what prints their results (batch/console.py). The demo, the provider emulator, the
accuracy scorer and the bench are the `contacts-demo` command (tooling/cli.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
from pathlib import Path

from batch.console import print_export_result, print_load_result, print_sync_result
from batch.dbt import run_dbt
from batch.diagnose import one_line
from batch.enrich import EndpointsFactory, EnrichmentNotRun, configured_endpoints, enrich
from batch.exports import run_export
from batch.privacy import erase, read_addresses
from batch.review import DECISIONS, ReviewError, decisions_from_arguments, list_pairs, record
from batch.runner import Options, run_nightly
from ingestion.landing.load import run_load
from ingestion.settings import REPO_ROOT, TARGETS, Settings, load_settings

log = logging.getLogger("batch")


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    result = run_load(settings)
    print_load_result(result)
    return 1 if (result.failed_files or result.failed_crms) and args.strict else 0


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    extra = args.dbt_args[1:] if args.dbt_args[:1] == ["--"] else args.dbt_args  # `build -- --select x`
    if settings.normalisers == "table":  # the functions' values the models will look up, first
        from batch.normalise import prepare

        if code := prepare(settings):
            return code
    return run_dbt(settings, ["build", *extra])


def cmd_enrich(args: argparse.Namespace, settings: Settings, endpoints: EndpointsFactory = configured_endpoints
               ) -> int:
    try:
        enrich(settings, dry_run=args.dry_run, only=args.provider or None, limit=args.limit, endpoints=endpoints,
               progress=False if args.no_progress else None)
    except EnrichmentNotRun as exc:
        print(f"ERROR {exc}", file=sys.stderr)
        return 1
    return 0


def run_options(args: argparse.Namespace) -> Options:
    """The nightly run's options: the environment's (NIGHTLY_*), then the command line's."""
    options = Options.from_env()
    if args.retries is not None:
        options.retries = args.retries
    if args.retry_wait is not None:
        options.retry_wait = args.retry_wait
    options.resume = not args.no_resume
    options.alert_on_warnings = options.alert_on_warnings or args.alert_on_warnings
    options.skip_unchanged = options.skip_unchanged and not args.build_all
    if args.min_new_rows is not None:
        options.min_new_rows = args.min_new_rows
    if args.max_wait_hours is not None:
        options.max_wait_hours = args.max_wait_hours
    return options


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    return run_nightly(settings, run_options(args))


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    print_export_result(run_export(settings, confirm_removals=args.confirm_removals))
    return 0


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    from batch.audience_sync import MailchimpError, run_sync

    try:
        result = run_sync(settings, dry_run=args.dry_run, confirm_removals=args.confirm_removals)
    except (MailchimpError, FileNotFoundError) as exc:
        print(f"Mailchimp sync failed: {exc}", file=sys.stderr)
        return 1
    print_sync_result(result)
    return 1 if result.errors else 0


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.warehouse.exists():
        print(f"no warehouse at {settings.warehouse}", file=sys.stderr)
        return 2
    emails = read_addresses(args.email or [], args.from_file)
    if not emails:
        print("forget: give at least one --email (or --from-file)", file=sys.stderr)
        return 2
    return erase(settings, emails)


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.action == "list":
            return list_pairs(settings, limit=args.limit, out=Path(args.out) if args.out else None)
        decisions = decisions_from_arguments(args.action, getattr(args, "decision", None), args.record_a,
                                             args.record_b, getattr(args, "from_file", None), args.note)
        return record(settings, decisions, decided_by=args.by)
    except ReviewError as exc:
        print(f"review: {exc}", file=sys.stderr)
        return 2


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    """The nightly run's options (shared with `contacts-demo run`)."""
    run.add_argument("--retries", type=int, help="attempts after a transient failure of a step "
                                                 "(default: NIGHTLY_RETRIES or 2)")
    run.add_argument("--retry-wait", type=float, help="seconds between attempts "
                                                      "(default: NIGHTLY_RETRY_WAIT_SECONDS or 30)")
    run.add_argument("--no-resume", action="store_true",
                     help="run every step even when the previous run was interrupted and nothing changed")
    run.add_argument("--alert-on-warnings", action="store_true",
                     help="alert also when the run only warned (default: NIGHTLY_ALERT_ON_WARNINGS)")
    run.add_argument("--build-all", action="store_true",
                     help="build every dbt phase in full, also when nothing is new since it was last built "
                          "(default: NIGHTLY_BUILD_ALL)")
    run.add_argument("--min-new-rows", type=int, metavar="N",
                     help="start the night only when the landing folder holds at least N rows not loaded yet, "
                          "the CRMs' changes since they were last read counted with them (or a file whose rows, "
                          "or a CRM whose changes, cannot be counted); otherwise exit 0 having done nothing. "
                          "For schedulers that poll (default: NIGHTLY_MIN_NEW_ROWS, 0: always)")
    run.add_argument("--max-wait-hours", type=float, metavar="H",
                     help="with --min-new-rows: start anyway when the last run started more than H hours ago "
                          "(default: NIGHTLY_MAX_WAIT_HOURS, 0: never)")


def add_enrich_arguments(enrich_: argparse.ArgumentParser) -> None:
    """The enrichment's options (shared with `contacts-demo enrich`)."""
    enrich_.add_argument("--dry-run", action="store_true",
                         help="send nothing; print how many calls and credits the run would use at most")
    enrich_.add_argument("--provider", action="append", metavar="NAME",
                         help="ask only this provider (repeatable; default: all, in waterfall order)")
    enrich_.add_argument("--limit", type=int, help="send at most this many requests per provider")
    enrich_.add_argument("--no-progress", action="store_true", help="no progress bar on the terminal")


def add_target_argument(parser: argparse.ArgumentParser, commands: argparse._SubParsersAction) -> None:
    """--target, the engine, before or after the command (shared with `contacts-demo`)."""
    for where, default in [(parser, None), *((command, argparse.SUPPRESS) for command in commands.choices.values())]:
        where.add_argument("--target", choices=TARGETS, default=default,
                           help="build on DuckDB or on local Apache Spark (run from .venv-spark: `make spark-venv`); "
                                "default: CONTACTS_TARGET, else duckdb")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="contacts",
        description="Load CRM contact exports into the DuckDB warehouse and run the dbt project. "
                    "Paths come from CONTACTS_WAREHOUSE, LANDING_DIR, EXPORT_DIR and GROUND_TRUTH_DIR.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log at info level (-vv: debug). Info logs carry file names and counts, "
                             "never emails or names")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    load = sub.add_parser("load", help="load new and changed landing files, and the CRMs' changes by API, "
                                       "into raw_landing.*",
                          description="Load every new or changed file of the landing folder, then what changed "
                                      "in each configured CRM (HubSpot, Salesforce: see docs/landing.md), into "
                                      "the warehouse (raw_landing.contacts, quarantined_rows, file_loads) and "
                                      "print rows read, loaded and quarantined per file and per CRM.")
    load.add_argument("--strict", action="store_true",
                      help="exit 1 when a file could not be read or a CRM stopped reading")
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
    add_run_arguments(run)
    run.set_defaults(func=cmd_run)

    enrich_ = sub.add_parser("enrich", help="ask the enrichment providers what enriched.enrichment_requests lists",
                             description="Read enriched.enrichment_requests, ask the providers in waterfall order "
                                         "within the run's budget, append every response to "
                                         "raw_enrichment.provider_responses and print a summary. Providers come "
                                         "from .dlt/config.toml and .dlt/secrets.toml (or SOURCES__ENRICHMENT__* "
                                         "variables); with none configured nothing is sent.")
    add_enrich_arguments(enrich_)
    enrich_.set_defaults(func=cmd_enrich)

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

    sync_ = sub.add_parser("sync", help="sync the opted-in segments' exports to the Mailchimp audience",
                           description="Upsert, tag, untag, unsubscribe, archive and permanently delete members of "
                                       "the Mailchimp audience ([destinations.mailchimp] in .dlt/config.toml) so "
                                       "that it holds what the exports of the segments with meta.mailchimp hold. "
                                       "Only the difference since the last sync is sent (docs/segments.md).")
    sync_.add_argument("--dry-run", action="store_true", help="print the changes and send nothing")
    sync_.add_argument("--confirm-removals", action="store_true",
                       help="archive members even when more than EXPORT_MAX_REMOVE_SHARE (0.5) of the synced members "
                            "would leave")
    sync_.set_defaults(func=cmd_sync)

    forget_ = sub.add_parser("forget", help="erase a person: raw rows, provider answers, models, exports",
                             description="Erase everyone holding one of the given addresses from every raw "
                                         "table, provider response, model and export file; keep only the "
                                         "addresses' sha256 on the suppression list (LANDING_DIR/"
                                         "suppression__erasures.csv) so they are never imported again. "
                                         "Rebuilds every model (dbt build --full-refresh) and the exports.")
    forget_.add_argument("--email", action="append", metavar="ADDRESS", help="an address to erase (repeatable)")
    forget_.add_argument("--from-file", metavar="PATH", help="a file of addresses, one per line")
    forget_.set_defaults(func=cmd_forget)

    review = sub.add_parser("review", help="merge review: list the pairs to look at, record must_link / "
                                           "cannot_link decisions",
                            description="The pairs a person should look at (deduped.deduped_review_pairs: near "
                                        "the match threshold, held apart by a guard, in a contact whose records "
                                        "conflict, or decided) and the reviewers' decisions on them, kept in "
                                        "review.merge_decisions and honoured by every later build. Records are "
                                        "named by their source record key (<source_system>:<source_record_id>).")
    actions = review.add_subparsers(dest="action", required=True, metavar="ACTION",
                                    help="list the pairs, decide on two records, or withdraw a decision")
    list_ = actions.add_parser("list", help="counts by reason and the pairs closest to the threshold",
                               description="Print how many pairs there are to review, by reason, and the "
                                           "undecided ones closest to the threshold (keys, probability, evidence; "
                                           "no names). --out writes every pair with both records' values to a "
                                           "CSV file, whose decision column a reviewer fills in.")
    list_.add_argument("--limit", type=int, default=20, help="pairs to print (default 20)")
    list_.add_argument("--out", metavar="PATH", help="write every pair, values side by side, to this CSV file")
    decide = actions.add_parser("decide", help="record that two records are one person, or two",
                                description="Record a decision on two source records: must_link (one person, "
                                            "whatever their score) or cannot_link (two people, whatever links "
                                            "them). The latest decision on a pair wins; the next build honours "
                                            "it. Exit status 2 when a key is unknown (nothing is recorded), 75 "
                                            "while a nightly run holds the warehouse.")
    decide.add_argument("decision", nargs="?", choices=DECISIONS, help="must_link or cannot_link")
    decide.add_argument("record_a", nargs="?", metavar="RECORD_A", help="a source record key, e.g. hubspot:1001")
    decide.add_argument("record_b", nargs="?", metavar="RECORD_B", help="the other record's key")
    decide.add_argument("--from-file", metavar="PATH",
                        help="a CSV file with source_record_key_a, source_record_key_b, decision (and note) "
                             "columns, e.g. `review list --out` filled in; rows without a decision are skipped")
    withdraw = actions.add_parser("withdraw", help="end the decision in force on two records",
                                  description="The pair's earlier decisions no longer hold; the model decides "
                                              "again from the next build.")
    withdraw.add_argument("record_a", metavar="RECORD_A")
    withdraw.add_argument("record_b", metavar="RECORD_B")
    for parser_ in (decide, withdraw):
        parser_.add_argument("--note", help="why (kept with the decision)")
        parser_.add_argument("--by", help="who decides (default: the login name)")
    review.set_defaults(func=cmd_review)

    add_target_argument(parser, sub)
    return parser


def configure(verbose: int) -> None:
    """Logging at the asked level (dlt's too), and dlt's configuration from the repository."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # dlt logs through its own logger, at the same level
    os.environ.setdefault("RUNTIME__LOG_LEVEL", logging.getLevelName(level))
    # dlt reads .dlt/config.toml and .dlt/secrets.toml of the repository, from any working directory
    os.environ.setdefault("DLT_PROJECT_DIR", str(REPO_ROOT))


def dispatch(args: argparse.Namespace) -> int:
    """Call the parsed command; any failure becomes one line for the operator (the traceback with -v)."""
    try:
        settings = load_settings(getattr(args, "target", None))
        if settings.target == "spark" and args.command == "review":
            print(f"ERROR {args.command}: not available on the spark target yet: it rewrites rows in place, which "
                  "Parquet tables cannot do (docs/spark.md)", file=sys.stderr)
            return 2
        if settings.target == "spark" and importlib.util.find_spec("pyspark") is None:
            print("ERROR the spark target needs pyspark: run it from the Spark environment, "
                  "`make spark-venv` then `.venv-spark/bin/contacts --target spark ...`", file=sys.stderr)
            return 2
        return args.func(args, settings)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for the operator; the traceback with -v
        if args.verbose:
            log.exception("%s failed", args.command)
        print(f"ERROR {args.command}: {one_line(exc)}" + ("" if args.verbose else " (-v for the traceback)"),
              file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure(args.verbose)
    return dispatch(args)
