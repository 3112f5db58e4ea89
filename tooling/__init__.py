"""Demo and test tooling, never imported by the batch (batch/) or the dlt sources (ingestion/):
the demo data generator, the provider emulator and the stand-in that lets it answer for demo
data, the accuracy scorer against the demo's ground truth, and the bench. The `contacts-demo`
command (tooling/cli.py) runs them.
"""
