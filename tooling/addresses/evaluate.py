"""Per-field accuracy of the cleaned layer's postal addresses on the address sets.

Each set is written as one client CSV (street, address_2, city, state, zip, country) in a
landing folder of its own, loaded with `contacts load` into a fresh warehouse and built
through the staging and cleaned layers (`dbt seed` + `dbt run`), then cleaned_contacts is
joined to the set's expected values:

- street_address: the delivery line without its unit, in Publication 28 form;
- street_unit: the unit (APT 4, FL 2, BSMT, # 7), or none on both sides;
- street_line: both right;
- city: the city's letters, and one form for every record of the city whatever the case
  the file wrote it in (CHICAGO, chicago, Chicago -> one value); state: the state code;
- postal_code: the ZIP and its ZIP+4 extension as expected, and a code no ZIP can be
  (six digits, a three-digit extension) flagged invalid.

The street line is also broken down by the form each case exercises (c1_suffix, c2_unit,
post_directional, grid_house_number, ...).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from batch.console import render_table
from batch.dbt import dbt_command
from tooling.addresses.clerk import clerk_cases
from tooling.addresses.faker_set import faker_cases
from tooling.addresses.pub28 import AddressCase, Pub28Corpus
from tooling.linkage.evaluate import _run, scratch_folder
from tooling.linkage.files import write_csv

SETS = {
    "pub28": ("built from Publication 28's tables (C1, C2, directionals, house-number forms)",
              lambda: Pub28Corpus().cases()),
    "faker": ("Faker en_US street addresses with Apt./Suite units", lambda: faker_cases()),
    "clerk": ("held back: lines as a clerk types them (written after the rules, never tuned on)",
              lambda: clerk_cases()),
}
TARGETS = {"street_address": 0.99, "street_unit": 0.99, "street_line": 0.99, "city": 0.995, "state": 0.995,
           "postal_code": 0.995}
HEADER = ["record_id", "first_name", "last_name", "street", "address_line_2", "city", "state", "zip", "country"]

CHECKS = {
    "street_address": "coalesce(cleaned.street_address = truth.expected_street_address, false)",
    "street_unit": "cleaned.street_unit is not distinct from truth.expected_street_unit",
    "street_line": "coalesce(cleaned.street_address = truth.expected_street_address, false) "
                   "and cleaned.street_unit is not distinct from truth.expected_street_unit",
    # the city's own letters, and one form for all its records whatever their case
    "city": "coalesce(lower(cleaned.city) = lower(truth.expected_city), false) and city_forms = 1",
    "state": "coalesce(cleaned.state_code = truth.expected_state_code, false)",
    "postal_code": "cleaned.postal_code is not distinct from truth.expected_postal_code "
                   "and cleaned.postal_code_extension is not distinct from truth.expected_postal_code_extension "
                   "and cleaned.is_postal_code_valid = (truth.expected_postal_code is not null)",
}


@dataclass
class SetAccuracy:
    name: str
    records: int
    correct: dict[str, int]
    by_form: list[tuple[str, int, int]]          # form, records, street lines right
    failures: list[tuple]                        # a few wrong street lines: written, expected, got


def write_set(name: str, cases: list[AddressCase], root: Path) -> Path:
    """The cases as one client file in root/landing, their expected values in root/<name>_truth.parquet."""
    rows = [[c.record_id, "Pat", f"Sample{i}", c.street_line_1, c.street_line_2, c.city, c.state, c.postal_code,
             "US"] for i, c in enumerate(cases)]
    write_csv(root / "landing" / f"{name}__contacts.csv", HEADER, rows)
    truth = [asdict(c) | {"source_system": name} for c in cases]
    columns = {key: pa.array([t[key] for t in truth], pa.string()) for key in truth[0]}
    path = root / f"{name}_truth.parquet"
    pq.write_table(pa.table(columns), path)
    return path


def build(root: Path) -> Path:
    """Load the landing folder and build the staging and cleaned layers; the warehouse."""
    warehouse = root / "warehouse.duckdb"
    env = {**os.environ, "CONTACTS_WAREHOUSE": str(warehouse), "LANDING_DIR": str(root / "landing"),
           "DBT_TARGET_PATH": str(root / "dbt_target"), "DBT_LOG_PATH": str(root / "dbt_logs")}
    log = root / "build.log"
    _run([sys.executable, "-m", "batch", "load"], env, log)
    _run(dbt_command(["seed"]), env, log)
    _run(dbt_command(["run", "--select", "path:models/staging", "path:models/cleaned"]), env, log)
    return warehouse


def score(name: str, warehouse: Path, truth: Path, show_failures: int = 10) -> SetAccuracy:
    joined = f"""
        (select *, count(distinct city) over (partition by lower(city_original)) as city_forms
         from cleaned.cleaned_contacts) as cleaned
        inner join read_parquet('{truth.as_posix()}') as truth
            on cleaned.source_system = truth.source_system
            and cleaned.source_record_id = truth.record_id"""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        counts = ", ".join(f"count(*) filter (where {check}) as {field}" for field, check in CHECKS.items())
        row = con.execute(f"select count(*), {counts} from {joined}").fetchone()
        by_form = con.execute(f"""
            select truth.form, count(*), count(*) filter (where {CHECKS['street_line']})
            from {joined} group by truth.form order by truth.form""").fetchall()
        failures = con.execute(f"""
            select truth.street_line_1, truth.street_line_2, truth.expected_street_address,
                   truth.expected_street_unit, cleaned.street_address, cleaned.street_unit, cleaned.street_parse_issue
            from {joined} where not ({CHECKS['street_line']})
            order by truth.record_id limit {int(show_failures)}""").fetchall()
    finally:
        con.close()
    return SetAccuracy(name, row[0], dict(zip(CHECKS, row[1:], strict=True)), by_form, failures)


def evaluate(sets: dict[str, list[AddressCase]], workdir: Path, show_failures: int = 10) -> list[SetAccuracy]:
    """Every set as one client file in one landing folder, built once, scored set by set."""
    root = workdir / "addresses"
    shutil.rmtree(root, ignore_errors=True)
    truths = {name: write_set(name, cases, root) for name, cases in sets.items()}
    warehouse = build(root)
    return [score(name, warehouse, truth, show_failures) for name, truth in truths.items()]


def evaluate_named(names: str, workdir: str | None, show_failures: int = 10) -> list[SetAccuracy]:
    """The sets named (comma-separated; all when empty) built in workdir, or a scratch folder removed after."""
    chosen = names.split(",") if names else list(SETS)
    unknown = set(chosen) - set(SETS)
    if unknown:
        raise ValueError(f"unknown set(s) {sorted(unknown)}; known: {list(SETS)}")
    with scratch_folder(workdir) as folder:
        return evaluate({name: SETS[name][1]() for name in chosen}, folder, show_failures)


def render(results: list[SetAccuracy]) -> str:
    rows = []
    for result in results:
        for field, correct in result.correct.items():
            share = correct / result.records if result.records else 0.0
            rows.append([result.name, field, result.records, correct, f"{share:.2%}", f"{TARGETS[field]:.1%}",
                         "yes" if share >= TARGETS[field] else "NO"])
    text = render_table(["set", "field", "records", "correct", "accuracy", "target", "met"], rows)
    for result in results:
        text += f"\n\n{result.name}: street lines right, by form\n"
        text += render_table(["form", "records", "right", "accuracy"],
                             [[form, n, right, f"{right / n:.2%}"] for form, n, right in result.by_form])
        if result.failures:
            text += f"\n{result.name}: street lines it got wrong (first {len(result.failures)})\n"
            text += render_table(["line 1", "line 2", "expected", "expected unit", "got", "got unit", "issue"],
                                 [list(f) for f in result.failures])
    return text


def meets_targets(results: list[SetAccuracy]) -> bool:
    return all(result.records and correct / result.records >= TARGETS[field]
               for result in results for field, correct in result.correct.items())
