"""The nightly batch around dbt: the command line, the runner that orchestrates a night's steps
(load, dbt build, enrichment, dbt build, exports), the exports, erasure, monitoring (alerts,
report) and the functions dbt-duckdb registers for the models.

Imports run one way: cli -> runner -> the steps (ingestion's dlt sources, dbt, exports,
privacy, monitoring) -> ingestion.settings. Nothing here imports the demo tooling (tooling/);
tests/python/test_layout.py fails on a cycle or a import against that direction.
"""
