"""Pairwise quality of the deduped layer on labelled sets, beside Splink on the same records.

For each set: its files are written to a landing folder of their own, loaded with
`contacts load` into a fresh warehouse, and the layers up to the deduped one are built
(`dbt seed` + `dbt run`, tests left to `make test`). Then, with the set's truth:

- pairwise precision, recall and F1 of the contacts (every two records with one contact_id
  are a predicted pair, every two records of one entity a true pair);
- blocking recall: the share of true pairs some blocking rule compares (a pair never
  compared can never be merged), and candidate pairs per record;
- Splink 5 (a bench-only dependency) on the same cleaned records: a model with the usual
  comparisons for the columns the set has, m by EM on name blocks, u by random sampling,
  clustered at the same match probability; its time and F1 beside ours.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from batch.console import render_table
from batch.dbt import dbt_command
from ingestion.settings import REPO_ROOT
from tooling.linkage.files import write_truth
from tooling.linkage.scoring import Scores, pair_scores
from tooling.linkage.sets import LabelledSet


@dataclass
class SetResult:
    name: str
    records: int
    scores: Scores
    blocking_recall: float
    pairs_per_record: float
    seconds: float
    splink: Scores | None = None
    splink_seconds: float | None = None


@contextmanager
def scratch_folder(workdir: str | None) -> Iterator[Path]:
    """The folder given (kept), or a temporary one removed afterwards."""
    if workdir:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        yield Path(workdir)
        return
    root = Path(tempfile.mkdtemp(prefix="contacts-linkage-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(cmd: list[str], env: dict[str, str], log: Path) -> float:
    started = time.perf_counter()
    with log.open("a") as out:
        done = subprocess.run(cmd, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({done.returncode}); see {log}")
    return time.perf_counter() - started


def build_set(labelled_set: LabelledSet, root: Path) -> tuple[Path, Path, float]:
    """The set's files loaded and built up to the deduped layer; returns warehouse, truth, deduped seconds."""
    shutil.rmtree(root, ignore_errors=True)
    landing, truth = root / "landing", root / "truth.parquet"
    landing.mkdir(parents=True)
    write_truth(labelled_set.write(landing), truth)
    warehouse = root / "warehouse.duckdb"
    env = {**os.environ, "CONTACTS_WAREHOUSE": str(warehouse), "LANDING_DIR": str(landing),
           "DBT_TARGET_PATH": str(root / "dbt_target"), "DBT_LOG_PATH": str(root / "dbt_logs")}
    log = root / "build.log"
    _run([sys.executable, "-m", "batch", "load"], env, log)
    _run(dbt_command(["seed"]), env, log)
    _run(dbt_command(["run", "--select", "path:models/staging", "path:models/cleaned"]), env, log)
    seconds = _run(dbt_command(["run", "--select", "path:models/deduped"]), env, log)
    return warehouse, truth, seconds


def score_warehouse(warehouse: Path, truth: Path) -> tuple[int, Scores, float, float]:
    """Records, pair scores, blocking recall and candidate pairs per record of a built set."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute(f"""
            create temp view labelled as
            select records.contact_record_id, truth.entity_id, identity.contact_id as cluster_id
            from deduped.contact_identity_map as identity
            inner join deduped.deduped_match_records as records using (contact_record_id)
            inner join read_parquet('{truth.as_posix()}') as truth
                on identity.source_system = truth.source_system
                and identity.source_record_id = truth.source_record_id""")
        records = con.execute("select count(*) from labelled").fetchone()[0]
        scores = pair_scores(con, "labelled")
        compared, candidates = con.execute("""
            with true_pairs as (
                select a.contact_record_id as record_id_a, b.contact_record_id as record_id_b
                from labelled as a
                inner join labelled as b on a.entity_id = b.entity_id and a.contact_record_id < b.contact_record_id
            )
            select
                (select count(*) from true_pairs
                 inner join deduped.deduped_candidate_pairs as candidates using (record_id_a, record_id_b)
                 where candidates.is_candidate),
                (select count(*) from deduped.deduped_candidate_pairs where is_candidate)
        """).fetchone()
    finally:
        con.close()
    blocking_recall = compared / scores.true_pairs if scores.true_pairs else 1.0
    return records, scores, blocking_recall, candidates / records if records else 0.0


def evaluate(sets: list[LabelledSet], workdir: Path, with_splink: bool = True) -> list[SetResult]:
    results = []
    for labelled_set in sets:
        root = workdir / labelled_set.name
        warehouse, truth, seconds = build_set(labelled_set, root)
        records, scores, blocking_recall, pairs_per_record = score_warehouse(warehouse, truth)
        result = SetResult(labelled_set.name, records, scores, blocking_recall, pairs_per_record, seconds)
        if with_splink:
            from tooling.linkage.splink_peer import run_splink  # bench-only dependency

            result.splink, result.splink_seconds = run_splink(warehouse, truth)
        results.append(result)
    return results


def render_results(results: list[SetResult]) -> str:
    rows = []
    for r in results:
        s = r.scores
        row = [r.name, r.records, s.true_pairs, f"{r.blocking_recall:.3f}", f"{r.pairs_per_record:.1f}",
               f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", f"{r.seconds:.1f}"]
        if r.splink is not None:
            row += [f"{r.splink.precision:.3f}", f"{r.splink.recall:.3f}", f"{r.splink.f1:.3f}",
                    f"{r.splink_seconds:.1f}"]
        else:
            row += ["", "", "", ""]
        rows.append(row)
    return render_table(["set", "records", "true pairs", "blocking recall", "pairs/record", "precision",
                         "recall", "F1", "deduped s", "Splink P", "Splink R", "Splink F1", "Splink s"], rows)
