"""Splink 5 on the records the batch cleaned: the peer the deduped layer is measured against.

Both start from the same cleaned values (cleaned.cleaned_contacts, deduped_match_records),
so the comparison is of the linkage alone. The model is Splink's documented recipe for
people data: name comparisons with Jaro-Winkler levels and term frequencies, e-mail,
phone, date of birth, postcode, street, city and company where the set has them; the
prior from exact e-mail / name + birth-date rules, u by random sampling, m by EM over two
blocking rules; predictions from the same kinds of blocks as the batch; clusters at the
project's own threshold (the dedupe_match_probability var of dbt_project.yml).
Bench-only (requirements-bench.txt).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import duckdb
import yaml

from ingestion.settings import REPO_ROOT
from tooling.linkage.scoring import Scores, pair_scores

# the batch's threshold, so both are judged at the same certainty
THRESHOLD = float(yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]["dedupe_match_probability"])

COLUMNS = """
    records.contact_record_id as unique_id,
    records.first_name_key as first_name,
    records.last_name_key as last_name,
    records.email_key as email,
    coalesce(records.phone_e164, cleaned.phone_e164) as phone,
    records.postal_code as postcode,
    lower(cleaned.street_address) as street,
    lower(cleaned.city) as city,
    records.company_match_key as company
"""


def _records(warehouse: Path):  # noqa: ANN202 - a pandas DataFrame
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        has_birth_date = con.execute(
            "select count(*) from information_schema.columns "
            "where table_schema = 'cleaned' and table_name = 'cleaned_contacts' and column_name = 'date_of_birth'"
        ).fetchone()[0]
        birth_date = ", cast(cleaned.date_of_birth as varchar) as date_of_birth" if has_birth_date else ""
        frame = con.execute(f"""
            select {COLUMNS}{birth_date}
            from deduped.deduped_match_records as records
            inner join cleaned.cleaned_contacts as cleaned using (contact_record_id)""").df()
    finally:
        con.close()
    return frame.dropna(axis=1, how="all")


def run_splink(warehouse: Path, truth: Path) -> tuple[Scores, float]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    frame = _records(warehouse)
    have = set(frame.columns)
    started = time.perf_counter()
    comparisons = [cl.NameComparison(c).configure(term_frequency_adjustments=True)
                   for c in ("first_name", "last_name") if c in have]
    if "email" in have:
        comparisons.append(cl.EmailComparison("email"))
    if "phone" in have:
        comparisons.append(cl.ExactMatch("phone").configure(term_frequency_adjustments=True))
    if "date_of_birth" in have:
        comparisons.append(cl.DateOfBirthComparison("date_of_birth", input_is_string=True))
    if "postcode" in have:
        comparisons.append(cl.PostcodeComparison("postcode"))
    for c in ("street", "city", "company"):
        if c in have:
            comparisons.append(cl.JaroWinklerAtThresholds(c, [0.9]).configure(term_frequency_adjustments=True))
    blocking = [block_on(*cols) for cols in (("email",), ("phone",), ("first_name", "last_name"),
                                              ("last_name", "postcode"), ("first_name", "postcode"),
                                              ("date_of_birth",), ("last_name", "city"))
                if set(cols) <= have]
    settings = SettingsCreator(link_type="dedupe_only", comparisons=comparisons,
                               blocking_rules_to_generate_predictions=blocking)
    db = DuckDBAPI()
    linker = Linker(db.register(frame), settings)
    deterministic = [block_on(*cols) for cols in (("email",), ("first_name", "last_name", "date_of_birth"),
                                                  ("first_name", "last_name", "postcode"))
                     if set(cols) <= have]
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for cols in (("first_name", "last_name"), ("postcode",)):
        if set(cols) <= have:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(*cols))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, THRESHOLD).as_pandas_dataframe()
    seconds = time.perf_counter() - started
    con = duckdb.connect()
    try:
        con.register("clusters", clusters[["unique_id", "cluster_id"]])
        con.execute(f"attach '{warehouse.as_posix()}' as warehouse (read_only)")
        con.execute(f"""
            create temp view labelled as
            select truth.entity_id, clusters.cluster_id
            from clusters
            inner join warehouse.deduped.contact_identity_map as identity
                on clusters.unique_id = identity.contact_record_id
            inner join read_parquet('{truth.as_posix()}') as truth
                on identity.source_system = truth.source_system
                and identity.source_record_id = truth.source_record_id""")
        return pair_scores(con, "labelled"), seconds
    finally:
        con.close()
