"""Python side of the contact-enrichment pipeline: landing-file ingestion with dlt, demo data, CLI."""

import os

# dlt sends anonymous usage telemetry by default. This project runs unattended on
# machines with no network but the package registries, and its logs must stay
# private: telemetry is off unless a user turns it on explicitly.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
