"""The dlt sources: the landing files (ingestion/landing) and the enrichment providers' answers
(ingestion/enrichment) into the warehouse, raw and complete with lineage; the one pipeline
helper both load through (pipelines.py), and the settings every part of the project reads.

This package imports nothing else of the project (tests/python/test_layout.py): the batch
(batch/) and the demo tooling (tooling/) build on it.
"""

import os

# dlt sends anonymous usage telemetry by default. This project runs unattended on
# machines with no network but the package registries, and its logs must stay
# private: telemetry is off unless a user turns it on explicitly.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
