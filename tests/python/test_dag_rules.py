"""The DAG's rules, checked on dbt's manifest (what dbt-project-evaluator checks, for this
project's layers): a departure fails the build unless tests/dag_rule_exceptions.csv lists
it with a reason, and an exception that no longer applies fails too.

| rule                   | what it asks                                                            |
|------------------------|-------------------------------------------------------------------------|
| public_exposure_parents| a model an exposure reads is `access: public` with an enforced contract |
| public_with_contract   | a public model has an enforced contract                                 |
| primary_key_test       | every model has a primary key tested: unique + not_null on one column,  |
|                        | or unique_combination_of_columns                                        |
| source_outside_staging | source() only in staging models                                         |
| staging_on_staging     | a staging model does not select from another staging model              |
| layer_prefix           | a model's name starts with one of its layer's prefixes                  |
| too_many_joins         | a model has fewer than 7 direct parents (models, sources, seeds)        |
| exposure_parent_table  | a model an exposure reads is materialised (a table), not a view         |
| chained_views          | no chain of 4 or more views, one on top of the other                    |
"""

from __future__ import annotations

import csv
import json
import subprocess

import pytest

from batch.dbt import dbt_command
from ingestion.settings import REPO_ROOT, load_settings

EXCEPTIONS = REPO_ROOT / "tests" / "dag_rule_exceptions.csv"
# the layers' folders and the prefixes a model of each may have; segments are named for
# the marketing list they are (region_europe), so that folder has no prefix
LAYER_PREFIXES = {
    "staging": ("stg_",),
    "cleaned": ("cleaned_",),
    "deduped": ("deduped_", "contact_id", "contact_identity", "golden_"),
    "enriched": ("enriched_", "enrichment_", "dim_", "suppression_"),
    "segments": ("",),
    "exports": ("segment_", "campaign_"),
    "monitoring": ("pipeline_",),
}
RULES = ("public_exposure_parents", "public_with_contract", "primary_key_test", "source_outside_staging",
         "staging_on_staging", "layer_prefix", "too_many_joins", "exposure_parent_table", "chained_views")
TOO_MANY_PARENTS = 7  # dbt-project-evaluator's too_many_joins_threshold
CHAINED_VIEWS = 4     # ... and chained_views_threshold


def layer(node: dict) -> str:
    return node["original_file_path"].split("/")[1]


def primary_key_tested(model_id: str, nodes: dict) -> bool:
    tested: dict[str, set[str]] = {}
    for node in nodes.values():
        if node["resource_type"] != "test" or model_id not in node["depends_on"]["nodes"]:
            continue
        meta = node.get("test_metadata") or {}
        if meta.get("name") == "unique_combination_of_columns":
            return True
        if meta.get("name") in ("unique", "not_null") and node.get("column_name"):
            tested.setdefault(node["column_name"], set()).add(meta["name"])
    return any(kinds == {"unique", "not_null"} for kinds in tested.values())


def view_chain(uid: str, nodes: dict, memo: dict[str, int]) -> int:
    """The longest chain of views ending at `uid` (0 when it is not a view)."""
    if uid not in memo:
        node = nodes.get(uid) or {}
        memo[uid] = 0 if node.get("resource_type") != "model" or node["config"]["materialized"] != "view" else \
            1 + max((view_chain(p, nodes, memo) for p in node["depends_on"]["nodes"]), default=0)
    return memo[uid]


def findings(manifest: dict) -> set[tuple[str, str]]:
    """(rule, model name) for every model that breaks a rule."""
    nodes = manifest["nodes"]
    models = {uid: n for uid, n in nodes.items() if n["resource_type"] == "model"}
    found: set[tuple[str, str]] = set()
    for exposure in manifest["exposures"].values():
        for parent in exposure["depends_on"]["nodes"]:
            model = models.get(parent)
            if model and (model["access"] != "public" or not model["contract"]["enforced"]):
                found.add(("public_exposure_parents", model["name"]))
            if model and model["config"]["materialized"] == "view":
                found.add(("exposure_parent_table", model["name"]))
    chains: dict[str, int] = {}
    for uid, model in models.items():
        name, folder = model["name"], layer(model)
        parents = model["depends_on"]["nodes"]
        if model["access"] == "public" and not model["contract"]["enforced"]:
            found.add(("public_with_contract", name))
        if not primary_key_tested(uid, nodes):
            found.add(("primary_key_test", name))
        if folder != "staging" and any(p.startswith("source.") for p in parents):
            found.add(("source_outside_staging", name))
        if folder == "staging" and any(models.get(p, {}).get("original_file_path", "").startswith("models/staging/")
                                       for p in parents):
            found.add(("staging_on_staging", name))
        if not name.startswith(LAYER_PREFIXES.get(folder, ("",))):
            found.add(("layer_prefix", name))
        if len(set(parents)) >= TOO_MANY_PARENTS:
            found.add(("too_many_joins", name))
        if view_chain(uid, nodes, chains) >= CHAINED_VIEWS:
            found.add(("chained_views", name))
    return found


def exceptions() -> dict[tuple[str, str], str]:
    with EXCEPTIONS.open(newline="", encoding="utf-8") as f:
        return {(row["rule"], row["model_name"]): row["reason"] for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("target")
    settings = load_settings()
    parsed = subprocess.run(dbt_command(["parse", "--target-path", str(target)]), cwd=REPO_ROOT,
                            env=settings.dbt_env(), capture_output=True, text=True, timeout=600)
    assert parsed.returncode == 0, parsed.stdout[-3000:]
    return json.loads((target / "manifest.json").read_text(encoding="utf-8"))


def test_the_dag_keeps_its_rules_and_every_exception_is_written_down(manifest):
    allowed = exceptions()
    assert all(rule in RULES and reason.strip() for (rule, _), reason in allowed.items()), \
        "every exception names a rule and gives its reason"
    found = findings(manifest)
    assert sorted(found - set(allowed)) == [], "rules broken (fix them, or add a reasoned row to " \
                                               "tests/dag_rule_exceptions.csv)"
    assert sorted(set(allowed) - found) == [], "exceptions that no longer apply: remove them"


def test_the_export_models_the_campaign_tools_read_are_public_and_contracted(manifest):
    exposure = manifest["exposures"]["exposure.contact_enrichment.campaign_list_exports"]
    parents = [manifest["nodes"][p] for p in exposure["depends_on"]["nodes"] if p.startswith("model.")]
    assert len(parents) >= 4
    for model in parents:
        assert model["access"] == "public" and model["contract"]["enforced"], model["name"]
        assert all(c.get("data_type") for c in model["columns"].values()), model["name"]


def test_each_rule_catches_a_model_that_breaks_it():
    """The checks fail where they should, on a manifest that breaks every rule once."""
    def model(name: str, path: str, parents: list[str], access: str = "protected", enforced: bool = False,
              materialized: str = "table") -> dict:
        return {"resource_type": "model", "name": name, "original_file_path": path, "access": access,
                "contract": {"enforced": enforced}, "depends_on": {"nodes": parents}, "columns": {},
                "config": {"materialized": materialized}}

    def test(name: str, model_id: str, column: str | None) -> dict:
        return {"resource_type": "test", "test_metadata": {"name": name}, "column_name": column,
                "depends_on": {"nodes": [model_id]}}

    nodes = {
        "model.p.stg_a__rows": model("stg_a__rows", "models/staging/a/stg_a__rows.sql", ["source.p.a.rows"]),
        "model.p.stg_a__more": model("stg_a__more", "models/staging/a/stg_a__more.sql", ["model.p.stg_a__rows"]),
        "model.p.cleaned_rows": model("cleaned_rows", "models/cleaned/cleaned_rows.sql", ["source.p.a.rows"]),
        "model.p.contact_consent": model("contact_consent", "models/enriched/contact_consent.sql", []),
        "model.p.campaign_rows": model("campaign_rows", "models/exports/campaign_rows.sql", ["model.p.segment_d"],
                                       access="public", materialized="view"),
        "model.p.segment_a": model("segment_a", "models/exports/segment_a.sql", [], materialized="view"),
        "model.p.segment_b": model("segment_b", "models/exports/segment_b.sql", ["model.p.segment_a"],
                                   materialized="view"),
        "model.p.segment_c": model("segment_c", "models/exports/segment_c.sql", ["model.p.segment_b"],
                                   materialized="view"),
        "model.p.segment_d": model("segment_d", "models/exports/segment_d.sql",
                                   ["model.p.segment_c", *(f"seed.p.s{i}" for i in range(6))], materialized="view"),
        "test.p.u": test("unique", "model.p.stg_a__rows", "row_id"),
        "test.p.n": test("not_null", "model.p.stg_a__rows", "row_id"),
        "test.p.c": test("unique_combination_of_columns", "model.p.cleaned_rows", None),
        "test.p.half": test("unique", "model.p.contact_consent", "contact_id"),
        "test.p.m": test("unique_combination_of_columns", "model.p.stg_a__more", None),
        "test.p.k": test("unique_combination_of_columns", "model.p.campaign_rows", None),
        **{f"test.p.s{x}": test("unique_combination_of_columns", f"model.p.segment_{x}", None) for x in "abcd"},
    }
    manifest = {"nodes": nodes, "exposures": {"exposure.p.e": {"depends_on": {"nodes": ["model.p.campaign_rows"]}}}}
    assert findings(manifest) == {
        ("public_exposure_parents", "campaign_rows"), ("public_with_contract", "campaign_rows"),
        ("primary_key_test", "contact_consent"), ("source_outside_staging", "cleaned_rows"),
        ("staging_on_staging", "stg_a__more"), ("layer_prefix", "contact_consent"),
        ("exposure_parent_table", "campaign_rows"), ("too_many_joins", "segment_d"),
        ("chained_views", "segment_d"), ("chained_views", "campaign_rows"),
    }
