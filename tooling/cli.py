"""The `contacts-demo` command (also `python -m tooling`): the demo, its provider emulator, the
accuracy scorer and the bench. `make run` is `contacts-demo run`.

The batch's own command is `contacts` (batch/cli.py); this one adds what only demo data
allows: writing it, letting the emulator answer for it, scoring the layers against its truth.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

from batch.cli import (
    add_enrich_arguments,
    add_run_arguments,
    add_target_argument,
    cmd_enrich,
    configure,
    dispatch,
    run_options,
)
from batch.console import render_table
from batch.runner import run_nightly
from ingestion.landing import discover_files
from ingestion.settings import Settings
from tooling.accuracy import duplicates_meet_targets, measure, measure_duplicates, render, render_duplicates
from tooling.addresses.evaluate import evaluate_named as evaluate_addresses
from tooling.addresses.evaluate import meets_targets as addresses_meet_targets
from tooling.addresses.evaluate import render as render_addresses
from tooling.bench import run_bench
from tooling.demo.generator import generate
from tooling.emulator import APOLLO, COMPANY, DEFAULT_KEYS, PERSON, PROVIDERS, Emulator, EmulatorConfig, Faults
from tooling.linkage.evaluate import evaluate, render_results, scratch_folder
from tooling.linkage.sets import labelled_sets
from tooling.standin import emulator_endpoints

DEFAULT_DEMO_CONTACTS = 20_000
DEFAULT_SEED = 42


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    landing = Path(args.landing_dir) if args.landing_dir else settings.landing_dir
    truth = Path(args.truth_dir) if args.truth_dir else settings.ground_truth_dir
    if not args.force and discover_files(landing):
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


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if not discover_files(settings.landing_dir):
        print(f"Demo mode and the landing folder {settings.landing_dir} is empty: writing "
              f"{args.contacts:,} demo contacts.")
        generate(args.contacts, args.seed, settings.landing_dir, settings.ground_truth_dir)
    options = run_options(args)
    options.endpoints = emulator_endpoints
    return run_nightly(settings, options)


def cmd_emulator(args: argparse.Namespace, settings: Settings) -> int:
    faults = Faults(server_error_rate=args.server_error_rate, rate_limit_rate=args.rate_limit_rate,
                    malformed_rate=args.malformed_rate, latency_ms=args.latency_ms)
    if args.hostile:  # People Data Labs' billing and the faults real APIs and proxies produce
        faults = Faults(server_error_rate=0.08, gateway_rate=0.05, reset_rate=0.05, malformed_rate=0.05,
                        junk_item_rate=0.1, trickle_rate=0.05, hang_rate=0.02, rate_limit_per_window=60,
                        rate_limit_window_seconds=60.0, latency_ms=args.latency_ms)
    config = EmulatorConfig(truth_dir=Path(args.truth_dir) if args.truth_dir else settings.ground_truth_dir,
                            faults=dict.fromkeys(PROVIDERS, faults),
                            match_rate=dict.fromkeys(PROVIDERS, args.match_rate),
                            idempotent=not args.hostile)
    emulator = Emulator(config, port=args.port).start()
    print(f"Provider emulator on {emulator.url}, key header X-Api-Key (person: POST /v5/person/bulk, key "
          f"{DEFAULT_KEYS[PERSON]!r}; company: POST /v5/company/enrich/bulk, key {DEFAULT_KEYS[COMPANY]!r}; "
          f"apollo: POST /api/v1/people/bulk_match, key {DEFAULT_KEYS[APOLLO]!r}). Ctrl-C stops it.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()
    return 0


def cmd_accuracy(args: argparse.Namespace, settings: Settings) -> int:
    truth = Path(args.truth_dir) if args.truth_dir else settings.ground_truth_dir
    results = measure(settings.warehouse, truth)
    print("Cleaned layer: records whose cleaned value is right\n")
    print(render(results))
    duplicates = measure_duplicates(settings.warehouse, truth)
    print("\nDeduped layer: pairs of records of one person, found in one contact\n")
    print(render_duplicates(duplicates))
    return 0 if all(r.meets_target for r in results) and duplicates_meet_targets(duplicates) else 1


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:  # noqa: ARG001 - the bench makes its own
    def sizes(text: str) -> list[int]:
        return [int(n) for n in text.split(",") if n.strip()] if text else []

    return run_bench(args.contacts, args.seed, Path(args.workdir) if args.workdir else None,
                     sizes(args.dedupe_scales), sizes(args.nightly_scales), linkage=not args.no_linkage)


def cmd_linkage(args: argparse.Namespace, settings: Settings) -> int:  # noqa: ARG001 - each set has its own
    sets = labelled_sets(args.demo_contacts, args.consumer_people, args.seed)
    chosen = [s for s in sets if s.name in args.sets.split(",")] if args.sets else sets
    unknown = set(args.sets.split(",")) - {s.name for s in sets} if args.sets else set()
    if unknown:
        print(f"unknown set(s) {sorted(unknown)}; known: {[s.name for s in sets]}", file=sys.stderr)
        return 2
    with scratch_folder(args.workdir) as workdir:
        results = evaluate(chosen, workdir, with_splink=not args.no_splink)
    print("Deduplication on labelled sets: pairwise precision, recall and F1 of the contacts\n")
    print(render_results(results))
    return 0


def cmd_addresses(args: argparse.Namespace, settings: Settings) -> int:  # noqa: ARG001 - each set has its own
    try:
        results = evaluate_addresses(args.sets, args.workdir, args.show_failures)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    print("Postal addresses on the address sets: records whose cleaned value is right\n")
    print(render_addresses(results))
    return 0 if addresses_meet_targets(results) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="contacts-demo",
        description="The demo of the contacts batch: demo CRM exports, the local provider emulator answering for "
                    "them, the accuracy scorer against their ground truth, and the bench. The batch itself is "
                    "`contacts`. Paths come from CONTACTS_WAREHOUSE, LANDING_DIR, EXPORT_DIR and GROUND_TRUTH_DIR.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log at info level (-vv: debug). Info logs carry file names and counts, "
                             "never emails or names")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    generate_ = sub.add_parser("generate", help="write deterministic demo CRM exports and their ground truth",
                               description="Write five demo CRM exports (HubSpot CSV, Salesforce CSV, trade-show "
                                           "CSV, webinar JSONL, partner Parquet) to the landing folder and the "
                                           "true person behind every record to the ground-truth folder.")
    generate_.add_argument("--contacts", type=int, default=DEFAULT_DEMO_CONTACTS,
                           help=f"number of contact records across all files (default {DEFAULT_DEMO_CONTACTS:,})")
    generate_.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed; same seed, same files")
    generate_.add_argument("--landing-dir", help="where to write the exports (default: LANDING_DIR)")
    generate_.add_argument("--truth-dir", help="where to write the ground truth (default: GROUND_TRUTH_DIR)")
    generate_.add_argument("--force", action="store_true", help="write even if the landing folder holds files")
    generate_.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="the nightly batch on demo data (what `make run` does)",
                         description="`contacts run` on demo data: demo contacts are written when the landing "
                                     "folder is empty, and the local provider emulator answers when no provider "
                                     "is configured and the warehouse and landing folder hold only demo data.")
    run.add_argument("--contacts", type=int, default=DEFAULT_DEMO_CONTACTS,
                     help=f"demo records to write into an empty landing folder (default {DEFAULT_DEMO_CONTACTS:,})")
    run.add_argument("--seed", type=int, default=DEFAULT_SEED, help="demo random seed")
    add_run_arguments(run)
    run.set_defaults(func=cmd_run)

    enrich_ = sub.add_parser("enrich", help="`contacts enrich` against the local provider emulator",
                             description="Ask the local provider emulator, instead of the configured providers, "
                                         "what enriched.enrichment_requests lists; refused unless the warehouse "
                                         "and landing folder hold only demo data.")
    add_enrich_arguments(enrich_)
    enrich_.set_defaults(func=partial(cmd_enrich, endpoints=partial(emulator_endpoints, instead_of_configured=True)))

    emulator = sub.add_parser("emulator", help="serve the local provider emulator until Ctrl-C",
                              description="Serve the enrichment provider emulator (People Data Labs person and "
                                          "company, Apollo) on 127.0.0.1, answering from the demo ground truth; "
                                          "faults by flag.")
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
    bench.add_argument("--no-linkage", action="store_true",
                       help="leave out the labelled sets (contacts-demo linkage: demo, FEBRL, consumer, Splink)")
    bench.set_defaults(func=cmd_bench)

    linkage = sub.add_parser("linkage", help="score the deduped layer on labelled sets, beside Splink",
                             description="Write each labelled set (the demo, FEBRL 1, 2 and 4, the consumer "
                                         "generator) to its own landing folder, load and build it up to the "
                                         "deduped layer, and print pairwise precision, recall, F1, blocking "
                                         "recall and pairs per record, with Splink 5 on the same records. "
                                         "FEBRL and Splink need requirements-bench.txt (make bench installs it).")
    linkage.add_argument("--sets", default="", help="comma-separated set names (default: all)")
    linkage.add_argument("--demo-contacts", type=int, default=5_000, help="demo set size (default 5,000)")
    linkage.add_argument("--consumer-people", type=int, default=10_000,
                         help="people in the consumer set (default 10,000; ~1.8 records each)")
    linkage.add_argument("--seed", type=int, default=7, help="random seed of the generated sets")
    linkage.add_argument("--no-splink", action="store_true", help="leave Splink out")
    linkage.add_argument("--workdir", help="scratch folder (default: a new temporary folder, removed after)")
    linkage.set_defaults(func=cmd_linkage)

    addresses = sub.add_parser("addresses", help="score the cleaned layer's postal addresses on the address sets",
                               description="Write each address set (pub28: built from USPS Publication 28's "
                                           "tables; faker: Faker's en_US addresses) as a client file, load and "
                                           "build it through the cleaned layer, and print per-field accuracy "
                                           "(street line in Publication 28 form, unit, city case, state, ZIP), "
                                           "the street line by form, and the lines it got wrong. Exit status 1 "
                                           "when a target is missed.")
    addresses.add_argument("--sets", default="", help="comma-separated set names (default: all)")
    addresses.add_argument("--show-failures", type=int, default=10, help="wrong street lines to print per set")
    addresses.add_argument("--workdir", help="scratch folder (default: a new temporary folder, removed after)")
    addresses.set_defaults(func=cmd_addresses)
    add_target_argument(parser, sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure(args.verbose)
    return dispatch(args)
