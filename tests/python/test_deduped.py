"""The deduped layer in real dbt builds: stable ids, merges with aliases, incremental
runs equal to a full rebuild, both clustering paths, reviewers' decisions, and tests that
fail when they should."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import yaml
from conftest import query

from batch.cli import main
from batch.dbt import run_dbt
from ingestion.landing.load import run_load
from ingestion.settings import REPO_ROOT
from tooling.demo.generator import generate

HEADER = "Record ID,First Name,Last Name,Email,Phone,Company,Country\n"

# what these tests build: the layers up to the deduped one, with their data tests (a test
# on a later model goes with it: dbt drops a test whose parent is excluded). The unit tests
# run in test_dbt_build's plain build; the later layers have files of their own
LATER = ["path:models/enriched", "path:models/segments", "path:models/exports", "path:models/monitoring",
         "test_type:unit"]
DEDUPED = ["build", "--exclude", *LATER]


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
    assert run_dbt(workspace, DEDUPED) == 0
    first = _contact_ids(workspace)
    assert len(set(first.values())) == 3

    # the same data again changes no id
    assert run_dbt(workspace, DEDUPED) == 0
    assert _contact_ids(workspace) == first

    # a record with her work address and her mobile ties both contacts together
    _write(workspace.landing_dir, "crm__day_two.csv", ["Z,Ann,Lee,ann.lee@acme.com,(212) 555-0147,Acme,USA"])
    run_load(workspace)
    assert run_dbt(workspace, DEDUPED) == 0
    second = _contact_ids(workspace)
    assert second["X"] == second["Y"] == second["Z"] == first["X"], "the older contact's id survives"
    assert second["W"] == first["W"]
    aliases = query(workspace, "select retired_contact_id, contact_id from deduped.contact_id_aliases")
    assert aliases == [(first["Y"], first["X"])]
    golden = query(workspace, f"""select source_record_count, email_address, phone_e164, email_record_id
                                   from deduped.golden_contacts where contact_id = '{first["X"]}'""")
    assert golden[0][:3] == (3, "ann.lee@acme.com", "+12125550147")

    # a full refresh rebuilds everything but the registry, and keeps ids and aliases
    assert run_dbt(workspace, [*DEDUPED, "--full-refresh"]) == 0
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
    assert run_dbt(workspace, DEDUPED) == 0
    compared_at = dict(query(workspace, "select record_id_a || '/' || record_id_b, compared_at "
                                         "from deduped.deduped_pair_comparisons"))
    parameters = ("select comparison, comparison_level, m_probability, estimated_at "
                  "from deduped.deduped_match_parameters")
    estimated = set(query(workspace, parameters))

    # the next night's delta: more demo files in a sub-folder (another seed)
    generate(300, 12, workspace.landing_dir / "delta", workspace.ground_truth_dir / "delta")
    run_load(workspace)
    assert run_dbt(workspace, DEDUPED) == 0
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
    assert run_dbt(workspace, DEDUPED) == 0
    fast = _contact_ids(workspace)
    assert len(set(fast.values())) < len(fast), "the demo data has duplicates to merge"

    # the plain SQL path other engines run gives the same clusters
    assert run_dbt(workspace, ["build", "--select", "deduped_record_clusters+", "--exclude", *LATER,
                               "--vars", "{dedupe_clustering_method: iterative}"]) == 0
    assert _contact_ids(workspace) == fast
    # ... and its convergence test fails when it gets too few rounds (0: labels travel one
    # link only) while the model itself builds
    assert run_dbt(workspace, ["build", "--select", "deduped_record_clusters+", "--exclude", *LATER,
                               "--vars", "{dedupe_clustering_method: iterative, dedupe_clustering_rounds: 0}"]) != 0
    statuses = _statuses(workspace)
    assert statuses["model.contact_enrichment.deduped_record_clusters"] == "success"
    assert statuses["test.contact_enrichment.assert_matched_pairs_share_a_cluster"] == "fail"

    # a threshold (or weight) edit takes effect on the next run, with no full refresh: out
    # of reach, only identifier links (a mailbox or number nobody else gives) still match...
    assert run_dbt(workspace, ["run", "--select", "deduped_pair_scores+", "--exclude", *LATER,
                               "--vars", "{dedupe_match_probability: 1.01}"]) == 0
    assert query(workspace, "select bool_and(is_strong_link), count(*) > 0 from deduped.deduped_pair_scores "
                            "where is_match") == [(True, True)]
    # ... and without them nothing does
    assert run_dbt(workspace, ["run", "--select", "deduped_pair_scores+", "--exclude", *LATER,
                               "--vars", "{dedupe_match_probability: 1.01, dedupe_identifier_links: false}"]) == 0
    assert query(workspace, "select count(distinct contact_id) = count(*) from deduped.contact_identity_map") \
        == [(True,)], "nothing may match"
    assert run_dbt(workspace, ["run", "--select", "deduped_pair_scores+", "--exclude", *LATER]) == 0
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
    assert run_dbt(workspace, [*DEDUPED, *small_cap]) == 0
    pairs = "select count(*) from deduped.deduped_candidate_pairs where is_candidate"
    assert query(workspace, pairs) == [(1,)]

    # a third: the block is over its cap of 2 and pairs nothing any more
    _write(workspace.landing_dir, "crm__two.csv", ["3,Cy,Park,,+1 212 555 0100,Globex,USA"])
    run_load(workspace)
    assert run_dbt(workspace, [*DEDUPED, *small_cap]) == 0
    assert query(workspace, pairs) == [(0,)]
    incremental = _deduped_state(workspace)
    assert run_dbt(workspace, ["run", "--select", "path:models/deduped", "--full-refresh",
                               "--exclude", "deduped_match_parameters", *small_cap]) == 0
    assert _deduped_state(workspace) == incremental


def _contacts_by_key(settings) -> dict[str, str]:
    """source record key -> contact id"""
    return dict(query(settings, "select source_record_key, contact_id from deduped.contact_identity_map"))


def test_review_decisions_split_and_join_contacts_and_hold_on_later_nights(workspace, tmp_path, capsys):
    # Ann's two records give one mailbox: a strong link; Bob's two records share nothing
    _write(workspace.landing_dir, "crm__day_one.csv", [
        "A1,Ann,Lee,ann.lee@acme.com,+1 212 555 0147,Acme Inc,USA",
        "A2,Ann,Lee,ann.lee@acme.com,,Acme,USA",
        "B1,Bob,Stone,bob.stone@acme.com,,Acme Inc,USA",
        "B2,Robert,Stone,r.stone@initech.example,+1 415 555 0199,Initech,USA",
    ])
    run_load(workspace)
    assert run_dbt(workspace, DEDUPED) == 0
    first = _contacts_by_key(workspace)
    assert first["crm:A1"] == first["crm:A2"] and first["crm:B1"] != first["crm:B2"]
    # the identity map says why A2 is in Ann's contact: the mailbox both give
    why = query(workspace, """select records.link_kind, linked.source_record_key, records.link_evidence
                              from deduped.contact_identity_map as records
                              inner join deduped.contact_identity_map as linked
                                  on records.linked_record_id = linked.contact_record_id
                              where records.source_record_key = 'crm:A2'""")
    assert why[0][:2] == ("strong_link", "crm:A1") and "email exact +" in why[0][2]

    # a key nobody has is refused, and nothing is recorded
    assert main(["review", "decide", "cannot_link", "crm:A1", "crm:nobody"]) == 2
    assert query(workspace, "select count(*) from review.merge_decisions") == [(0,)]
    # the reviewer's file: the two Anns are two people, the two Bobs one
    decisions = tmp_path / "reviewed.csv"
    decisions.write_text("source_record_key_a,source_record_key_b,decision,note\n"
                         "crm:A1,crm:A2,cannot_link,mother and daughter share a mailbox\n"
                         "crm:B2,crm:B1,must_link,\n"
                         "crm:A1,crm:B1,,\n", encoding="utf-8")
    assert main(["review", "decide", "--from-file", str(decisions)]) == 0
    assert "nobody" not in capsys.readouterr().out

    assert run_dbt(workspace, DEDUPED) == 0
    decided = _contacts_by_key(workspace)
    assert decided["crm:A1"] != decided["crm:A2"]
    assert decided["crm:A1"] == first["crm:A1"], "the founding record keeps the contact's id"
    assert decided["crm:B1"] == decided["crm:B2"]
    assert query(workspace, "select link_kind from deduped.contact_identity_map "
                            "where source_record_key = 'crm:B2'") == [("must_link",)]
    reviewed = query(workspace, """select source_record_key_a, source_record_key_b, decision, is_same_contact
                                   from deduped.deduped_review_pairs where review_reason = 'decided'
                                   order by decision""")
    assert {(frozenset(r[:2]), r[2], r[3]) for r in reviewed} == {
        (frozenset({"crm:A1", "crm:A2"}), "cannot_link", False),
        (frozenset({"crm:B1", "crm:B2"}), "must_link", True)}
    # the list prints keys and evidence, never a name; the file has the values to decide by
    capsys.readouterr()
    listed = tmp_path / "review.csv"
    assert main(["review", "list", "--out", str(listed)]) == 0
    printed = capsys.readouterr().out
    assert "decided" in printed and "Stone" not in printed and "Robert" not in printed
    with listed.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {(r["decision_in_force"], r["decision"]) for r in rows} == {("cannot_link", ""), ("must_link", "")}
    assert {r["first_name_a"] for r in rows if r["decision_in_force"] == "must_link"} <= {"Bob", "Robert"}

    # the next night brings another export of A2 (same CRM id, same mailbox): the decision
    # holds for it too (no build rewrites review.merge_decisions, not even a full refresh)
    _write(workspace.landing_dir, "crm__day_two.csv", ["A2,Ann,Lee,ann.lee@acme.com,+1 646 555 0123,Acme,USA"])
    run_load(workspace)
    assert run_dbt(workspace, DEDUPED) == 0
    night = query(workspace, "select source_record_key, contact_id from deduped.contact_identity_map "
                             "where source_record_key in ('crm:A1', 'crm:A2')")
    assert len(night) == 3 and len({contact for key, contact in night if key == "crm:A2"}) == 1
    assert {contact for key, contact in night if key == "crm:A1"}.isdisjoint(
        {contact for key, contact in night if key == "crm:A2"})

    # withdrawn, the model decides again: one mailbox, one person
    assert main(["review", "withdraw", "crm:A2", "crm:A1"]) == 0
    assert run_dbt(workspace, DEDUPED) == 0
    withdrawn = _contacts_by_key(workspace)
    assert withdrawn["crm:A1"] == withdrawn["crm:A2"] and withdrawn["crm:B1"] == withdrawn["crm:B2"]
