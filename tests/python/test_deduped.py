"""The deduped layer in real dbt builds: stable ids, merges with aliases, incremental
runs equal to a full rebuild, both clustering paths, and tests that fail when they should."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml
from conftest import query

from batch.dbt import run_dbt
from ingestion.landing.load import run_load
from ingestion.settings import REPO_ROOT
from tooling.demo.generator import generate

HEADER = "Record ID,First Name,Last Name,Email,Phone,Company,Country\n"


def _contact_ids(settings) -> dict[str, str]:
    """source record id -> contact id"""
    return dict(query(settings, "select source_record_id, contact_id from deduped.contact_identity_map"))


def _blocking_rules() -> list[dict]:
    """The dedupe_blocking_rules var as dbt_project.yml sets it."""
    return yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]["dedupe_blocking_rules"]


def _statuses(settings) -> dict[str, str]:
    """unique_id -> status of the last dbt invocation (run_results.json)"""
    results = json.loads((Path(os.environ["DBT_TARGET_PATH"]) / "run_results.json").read_text())
    return {r["unique_id"]: r["status"] for r in results["results"]}


def _write(landing: Path, name: str, rows: list[str]) -> None:
    (landing / name).write_text(HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")


def test_ids_are_stable_and_a_merge_keeps_the_older_id(workspace):
    # Ann at work and Ann with her private address and mobile: nothing ties them yet
    _write(workspace.landing_dir, "crm__day_one.csv", [
        "X,Ann,Lee,ann.lee@acme.com,,Acme Inc,USA",
        "Y,Ann,Lee,ann.lee77@gmail.com,+1 212 555 0147,Globex,USA",
        "W,Bob,Stone,bob.stone@acme.com,,Acme Inc,USA",
    ])
    run_load(workspace)
    assert run_dbt(workspace, ["build"]) == 0
    first = _contact_ids(workspace)
    assert len(set(first.values())) == 3

    # the same data again changes no id
    assert run_dbt(workspace, ["build"]) == 0
    assert _contact_ids(workspace) == first

    # a record with her work address and her mobile ties both contacts together
    _write(workspace.landing_dir, "crm__day_two.csv", ["Z,Ann,Lee,ann.lee@acme.com,(212) 555-0147,Acme,USA"])
    run_load(workspace)
    assert run_dbt(workspace, ["build"]) == 0
    second = _contact_ids(workspace)
    assert second["X"] == second["Y"] == second["Z"] == first["X"], "the older contact's id survives"
    assert second["W"] == first["W"]
    aliases = query(workspace, "select retired_contact_id, contact_id from deduped.contact_id_aliases")
    assert aliases == [(first["Y"], first["X"])]
    golden = query(workspace, f"""select source_record_count, email_address, phone_e164, email_record_id
                                   from deduped.golden_contacts where contact_id = '{first["X"]}'""")
    assert golden[0][:3] == (3, "ann.lee@acme.com", "+12125550147")

    # a full refresh rebuilds everything but the registry, and keeps ids and aliases
    assert run_dbt(workspace, ["build", "--full-refresh"]) == 0
    assert _contact_ids(workspace) == second
    assert query(workspace, "select retired_contact_id, contact_id from deduped.contact_id_aliases") == aliases


def _deduped_state(settings) -> dict[str, set[tuple]]:
    return {
        "identity": set(query(settings, "select contact_record_id, contact_id, cluster_size "
                                         "from deduped.contact_identity_map")),
        "scores": set(query(settings, "select * from deduped.deduped_pair_scores")),
        "golden": set(query(settings, "select * from deduped.golden_contacts")),
        "frequencies": set(query(settings, "select value_type, value_key, records, is_shared "
                                           "from deduped.deduped_value_frequencies")),
        "blocks": set(query(settings, "select blocking_rule, block_key, block_size, is_within_cap "
                                      "from deduped.deduped_block_sizes")),
        "pairs": set(query(settings, "select record_id_a, record_id_b, blocking_rules "
                                     "from deduped.deduped_candidate_pairs where is_candidate")),
    }


def test_nightly_delta_compares_only_new_pairs_and_equals_a_full_rebuild(workspace):
    generate(1500, 11, workspace.landing_dir, workspace.ground_truth_dir)
    run_load(workspace)
    assert run_dbt(workspace, ["build"]) == 0
    compared_at = dict(query(workspace, "select record_id_a || '/' || record_id_b, compared_at "
                                         "from deduped.deduped_pair_comparisons"))
    parameters = ("select comparison, comparison_level, m_probability, estimated_at "
                  "from deduped.deduped_match_parameters")
    estimated = set(query(workspace, parameters))

    # the next night's delta: more demo files in a sub-folder (another seed)
    generate(300, 12, workspace.landing_dir / "delta", workspace.ground_truth_dir / "delta")
    run_load(workspace)
    assert run_dbt(workspace, ["build"]) == 0
    after = dict(query(workspace, "select record_id_a || '/' || record_id_b, compared_at "
                                   "from deduped.deduped_pair_comparisons"))
    assert len(after) > len(compared_at)
    assert all(after[pair] == compared_at[pair] for pair in compared_at), "old pairs were compared again"
    assert set(query(workspace, parameters)) == estimated, "a night does not re-estimate the weights"
    incremental = _deduped_state(workspace)

    # a full rebuild under the same weights gives the same state
    assert run_dbt(workspace, ["run", "--select", "path:models/deduped", "--full-refresh",
                               "--exclude", "deduped_match_parameters"]) == 0
    assert _deduped_state(workspace) == incremental
    # ... and re-estimating is one var away
    assert run_dbt(workspace, ["run", "--select", "deduped_match_parameters", "--vars", "{dedupe_estimate: true}"]) == 0
    assert set(query(workspace, parameters)) != estimated

    # a rule change (here one blocking rule fewer) redoes the incremental steps by itself
    fewer_rules = ["--vars", json.dumps({"dedupe_blocking_rules": [
        rule for rule in _blocking_rules() if rule["name"] != "last_name_company"]})]
    assert run_dbt(workspace, ["run", "--select", "path:models/deduped", *fewer_rules]) == 0
    changed = _deduped_state(workspace)
    assert changed["pairs"] != incremental["pairs"]
    assert run_dbt(workspace, ["run", "--select", "path:models/deduped", "--full-refresh",
                               "--exclude", "deduped_match_parameters", *fewer_rules]) == 0
    assert _deduped_state(workspace) == changed


def test_both_clustering_paths_agree_and_runaway_clusters_fail(workspace):
    generate(2500, 5, workspace.landing_dir, workspace.ground_truth_dir)
    run_load(workspace)
    assert run_dbt(workspace, ["build"]) == 0
    fast = _contact_ids(workspace)
    assert len(set(fast.values())) < len(fast), "the demo data has duplicates to merge"

    # the plain SQL path other engines run gives the same clusters
    assert run_dbt(workspace, ["build", "--select", "deduped_record_clusters+",
                               "--vars", "{dedupe_clustering_method: iterative}"]) == 0
    assert _contact_ids(workspace) == fast
    # ... and its convergence test fails when it gets too few rounds (0: labels travel one
    # link only) while the model itself builds
    assert run_dbt(workspace, ["build", "--select", "deduped_record_clusters+",
                               "--vars", "{dedupe_clustering_method: iterative, dedupe_clustering_rounds: 0}"]) != 0
    statuses = _statuses(workspace)
    assert statuses["model.contact_enrichment.deduped_record_clusters"] == "success"
    assert statuses["test.contact_enrichment.assert_matched_pairs_share_a_cluster"] == "fail"

    # a threshold (or weight) edit takes effect on the next run, with no full refresh
    assert run_dbt(workspace, ["run", "--select", "deduped_pair_scores+",
                               "--vars", "{dedupe_match_probability: 1.01}"]) == 0
    assert query(workspace, "select count(distinct contact_id) = count(*) from deduped.contact_identity_map") \
        == [(True,)], "nothing may match"
    assert run_dbt(workspace, ["run", "--select", "deduped_pair_scores+"]) == 0
    assert _contact_ids(workspace) == fast

    # the cluster-size limit fails the build when clusters exceed it
    assert run_dbt(workspace, ["test", "--select", "no_runaway_clusters",
                               "--vars", "{dedupe_max_cluster_size: 1}"]) != 0
    assert run_dbt(workspace, ["test", "--select", "no_runaway_clusters"]) == 0


def test_a_block_growing_past_its_cap_loses_its_pairs_as_a_full_rebuild_would(workspace):
    rules = _blocking_rules()
    for rule in rules:
        if rule["name"] == "phone":
            rule["max_block_size"] = 2
    small_cap = ["--vars", json.dumps({"dedupe_blocking_rules": rules})]

    # two people give one number: a pair of the phone rule
    _write(workspace.landing_dir, "crm__one.csv", [
        "1,Ann,Lee,,+1 212 555 0100,Acme,USA",
        "2,Bob,Stone,,+1 212 555 0100,Initech,USA",
    ])
    run_load(workspace)
    assert run_dbt(workspace, ["build", *small_cap]) == 0
    pairs = "select count(*) from deduped.deduped_candidate_pairs where is_candidate"
    assert query(workspace, pairs) == [(1,)]

    # a third: the block is over its cap of 2 and pairs nothing any more
    _write(workspace.landing_dir, "crm__two.csv", ["3,Cy,Park,,+1 212 555 0100,Globex,USA"])
    run_load(workspace)
    assert run_dbt(workspace, ["build", *small_cap]) == 0
    assert query(workspace, pairs) == [(0,)]
    incremental = _deduped_state(workspace)
    assert run_dbt(workspace, ["run", "--select", "path:models/deduped", "--full-refresh",
                               "--exclude", "deduped_match_parameters", *small_cap]) == 0
    assert _deduped_state(workspace) == incremental
