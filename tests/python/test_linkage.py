"""The labelled sets and the scoring the deduped layer is measured with (tooling/linkage)."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from tooling.linkage.consumer import SOURCES, write_consumer_set
from tooling.linkage.evaluate import build_set, score_warehouse
from tooling.linkage.scoring import pair_scores
from tooling.linkage.sets import LabelledSet, _febrl_entity


def test_pair_scores_count_pairs_from_group_sizes() -> None:
    con = duckdb.connect()
    # entities: a={1,2,3}, b={4,5}; clusters: {1,2}, {3,4,5}
    con.execute("create table labelled as select * from (values "
                "('a', 'x'), ('a', 'x'), ('a', 'y'), ('b', 'y'), ('b', 'y')) as t(entity_id, cluster_id)")
    scores = pair_scores(con, "labelled")
    assert (scores.true_pairs, scores.predicted_pairs, scores.correct_pairs) == (4, 4, 2)
    assert scores.precision == 0.5 and scores.recall == 0.5 and scores.f1 == 0.5


def test_febrl_duplicates_belong_to_their_original() -> None:
    assert _febrl_entity("rec-12-dup-0") == _febrl_entity("rec-12-org") == "rec-12"
    assert _febrl_entity("rec-120-org") != _febrl_entity("rec-12-org")


def test_consumer_generator_is_deterministic_and_labels_every_record(tmp_path: Path) -> None:
    truth = write_consumer_set(tmp_path / "a", 600, seed=3)
    again = write_consumer_set(tmp_path / "b", 600, seed=3)
    assert truth == again
    for name in (p.name for p in (tmp_path / "a").iterdir()):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # every row of every file is in the truth, once
    rows = sum(len(f.read_text().splitlines()) - 1 for f in (tmp_path / "a").iterdir())
    assert rows == len(truth) == len({(s, r) for s, r, _ in truth})
    sizes = Counter(entity for _, _, entity in truth)
    assert 550 <= len(sizes) <= 620 and any(n >= 3 for n in sizes.values())
    assert {s for s, _, _ in truth} == set(SOURCES)


def test_consumer_households_share_surname_and_address_but_not_identity(tmp_path: Path) -> None:
    write_consumer_set(tmp_path, 800, seed=5)


    with (tmp_path / "crm__consumers.csv").open() as f:
        records = list(csv.DictReader(f))
    people_at = defaultdict(set)
    for r in records:
        if r["Mailing Street"] and r["Last Name"]:
            people_at[(r["Mailing Street"].lower(), r["Last Name"].lower())].add(r["First Name"].lower())
    # several first names at one surname and street: households, the generator's hard case
    assert sum(1 for names in people_at.values() if len(names) >= 2) >= 20
    assert any(r["Birthdate"] for r in records)


def test_a_labelled_set_through_the_batch_is_scored(tmp_path: Path) -> None:
    """The consumer set loaded and built for real: dates of birth read through the header
    aliases, the name blocking rules reach the true pairs, merges are precise."""
    consumer = LabelledSet("consumer", "", lambda landing: write_consumer_set(landing, 400, seed=11))
    warehouse, truth, _ = build_set(consumer, tmp_path / "consumer")
    records, scores, blocking_recall, pairs_per_record = score_warehouse(warehouse, truth)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        # every record is a contact record, or quarantined (a record with no name, mailbox
        # or number identifies no one)
        quarantined = con.execute("select count(*) from staging.stg_landing__quarantined_rows").fetchone()[0]
        assert records + quarantined == pq.read_metadata(truth).num_rows
        with_birth_date, with_text = con.execute(
            "select count(date_of_birth), count(nullif(trim(date_of_birth_original), '')) "
            "from cleaned.cleaned_contacts").fetchone()
        m = {(c, level): p for c, level, p in con.execute(
            "select comparison, comparison_level, m_probability from deduped.deduped_match_parameters").fetchall()}
    finally:
        con.close()
    # EM learned from this data what one person's records look like: the same first name
    # (or its initial or nickname: the generator writes a third of them so) and date of
    # birth, seldom a different one; two random records are seldom one person
    assert m[("first_name", "exact")] > 10 * m[("first_name", "different")], m
    assert m[("first_name", "different")] < 0.05, m
    assert m[("birth_date", "exact")] > 0.8 and m[("birth_date", "different")] < 0.05, m
    assert m[("prior", "two_random_records_match")] < 0.01
    assert with_text > records / 3 and with_birth_date >= 0.95 * with_text
    assert scores.true_pairs > 100
    assert blocking_recall >= 0.85, blocking_recall
    assert scores.precision >= 0.85 and scores.recall >= 0.6, scores
    assert pairs_per_record < 5
