"""The enrichment step: ask the configured providers (ingestion/enrichment) and print its summary.

Where the requests go is a context manager the caller chooses (`endpoints`): by default the
providers configured in .dlt/config.toml and .dlt/secrets.toml, or nowhere when none is. The
demo tooling passes its own (tooling/emulator.py: the local emulator, for demo data only);
nothing here knows the emulator.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import dlt

from batch.console import render_table
from ingestion.enrichment.loader import EnrichmentResult, Progress, RequestsNotBuilt, describe, run_enrichment
from ingestion.settings import REPO_ROOT, Settings


@dataclass
class Endpoints:
    """Where tonight's enrichment requests go: the configured providers (url None), a stand-in
    (url), or nowhere (skipped, with the reason; refused when someone asked for a stand-in that
    could not be used, which deserves an alert)."""

    url: str | None = None
    skipped: str | None = None
    refused: bool = False


EndpointsFactory = Callable[[Settings], AbstractContextManager[Endpoints]]


def provider_names() -> list[str]:
    """The providers of seeds/enrichment_providers.csv, in waterfall order."""
    with (REPO_ROOT / "seeds" / "enrichment_providers.csv").open(newline="") as f:
        return [row["provider"] for row in csv.DictReader(f)]


def configured_providers() -> list[str]:
    """The providers with a base_url in the dlt configuration (files or SOURCES__ENRICHMENT__* variables)."""
    return [n for n in provider_names() if dlt.config.get(f"sources.enrichment.providers.{n}.base_url")]


@contextmanager
def configured_endpoints(settings: Settings) -> Iterator[Endpoints]:  # noqa: ARG001 - an EndpointsFactory
    """The configured providers, or nothing sent when none is configured."""
    if configured_providers():
        yield Endpoints()
    else:
        yield Endpoints(skipped="no enrichment provider configured (see docs/enrichment.md)")


class EnrichmentNotRun(RuntimeError):
    """The enrichment could not run at all; the message says why and what to do."""


def enrich(settings: Settings, *, dry_run: bool = False, only: list[str] | None = None,
           limit: int | None = None, endpoints: EndpointsFactory = configured_endpoints,
           progress: bool | None = None, budget_period: str | None = None
           ) -> tuple[EnrichmentResult | None, Endpoints]:
    """Run the enrichment loader and print its summary.

    Returns the result and where the requests went; the result is None when the enrichment
    was skipped (Endpoints.skipped says why). Raises EnrichmentNotRun when it could not run.
    """
    with endpoints(settings) as where:
        if where.skipped:
            print(f"Enrichment skipped: {where.skipped}.")
            return None, where
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
        return result, where
    credits = sum(p.credits for p in result.providers)
    print(f"credits charged: {credits:,}; pending (asked again next run): {result.pending:,}"
          + (f"; credits possibly billed for lost answers: {result.credits_at_risk:,}" if result.credits_at_risk
             else "")
          + (f"; possibly billed twice (a match asked again after a lost answer): "
             f"{result.possible_double_charges:,}" if result.possible_double_charges else ""))
    ceiling = f" of max_credits {result.max_credits:,}" if result.max_credits else ""
    print(f"night {result.period}: {result.period_credits:,} credit(s) billed or possibly billed{ceiling}"
          + (f" ({result.credits_before:,} before this run: earlier attempts, calls cut off)"
             if result.credits_before else ""))
    return result, where
