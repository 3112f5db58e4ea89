"""Pairwise scores of a clustering against the truth: every two records of one entity are a
true pair, every two records of one cluster a predicted pair."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass
class Scores:
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def pair_scores(con: duckdb.DuckDBPyConnection, labelled: str) -> Scores:
    """Scores of `labelled` (a relation with entity_id and cluster_id per record), from group sizes."""
    true_pairs, predicted, correct = con.execute(f"""
        select
            (select coalesce(sum(n * (n - 1) / 2), 0) from (select count(*) as n from {labelled} group by entity_id)),
            (select coalesce(sum(n * (n - 1) / 2), 0) from (select count(*) as n from {labelled} group by cluster_id)),
            (select coalesce(sum(n * (n - 1) / 2), 0)
             from (select count(*) as n from {labelled} group by entity_id, cluster_id))
    """).fetchone()
    return Scores(int(true_pairs), int(predicted), int(correct))
