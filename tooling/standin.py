"""The provider emulator standing in for the enrichment providers, for demo data only.

`contacts-demo run` and `contacts-demo enrich` pass `emulator_endpoints` to the batch's
enrichment step (batch/enrich.py) instead of the configured providers. It starts the local
emulator for the step's duration, and only when no provider is configured and every contact
file in the landing folder and in the warehouse is one the demo generator wrote
(tooling/demo/marker.py): the emulator answers from the demo's ground truth, so real
contacts sent to it would come back "not found" and be held back from the real providers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from batch.enrich import Endpoints, configured_providers, provider_names
from ingestion.settings import Settings
from tooling.demo.marker import holds_only_demo_data
from tooling.emulator import DEFAULT_KEYS, Emulator, EmulatorConfig


def _variables(provider: str) -> tuple[str, str]:
    prefix = f"SOURCES__ENRICHMENT__PROVIDERS__{provider.upper()}__"
    return prefix + "BASE_URL", prefix + "API_KEY"


@contextmanager
def emulator_endpoints(settings: Settings, *, instead_of_configured: bool = False) -> Iterator[Endpoints]:
    """The configured providers when there are any (unless `instead_of_configured`), else the
    local emulator for demo data, else nothing sent and the refusal said."""
    if configured_providers() and not instead_of_configured:
        yield Endpoints()
        return
    if not (settings.ground_truth_dir / "persons.parquet").exists() \
            or not holds_only_demo_data(settings):
        yield Endpoints(skipped="the local provider emulator only answers for demo data, and this warehouse or "
                                "landing folder holds other contacts: nothing was sent", refused=True)
        return
    emulator = Emulator(EmulatorConfig(truth_dir=settings.ground_truth_dir)).start()
    names = [n for n in provider_names() if n in DEFAULT_KEYS]
    saved = {k: os.environ.get(k) for n in names for k in _variables(n)}
    for n in names:
        url, key = _variables(n)
        os.environ[url], os.environ[key] = emulator.url, DEFAULT_KEYS[n]
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
