"""The Python functions looked up in tables (CONTACTS_NORMALISERS=table): the path for an
engine whose session the project does not own (a Spark cluster over Thrift, Databricks).

A real nightly run on demo data in that mode; the cleaned records it makes are compared
with the same models built by calling the functions; a value missing from its table stops
the build with the step to run; an erasure leaves none of the person's values behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from batch.dbt import dbt_command
from batch.normalise import FUNCTIONS
from ingestion.settings import REPO_ROOT
from tooling.demo.generator import generate

CONTACTS = 600
PATHS = {"CONTACTS_WAREHOUSE": "warehouse/contacts.duckdb", "LANDING_DIR": "landing", "EXPORT_DIR": "exports",
         "GROUND_TRUTH_DIR": "truth", "REPORT_DIR": "reports", "DBT_LOG_PATH": "dbt_logs",
         "DBT_TARGET_PATH": "dbt_target"}
# the cleaned models, and the one model after them that calls a function (the keyed e-mail hash)
COMPARED = [("cleaned", "cleaned_contact_emails"), ("cleaned", "cleaned_contact_phones"),
            ("cleaned", "cleaned_contact_names"), ("cleaned", "cleaned_contact_countries"),
            ("cleaned", "cleaned_contact_addresses"), ("cleaned", "cleaned_contact_companies"),
            ("cleaned", "cleaned_contact_titles"), ("cleaned", "cleaned_contacts"),
            ("enriched", "enriched_contact_consent")]


def environment(root: Path, mode: str = "table") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__ENRICHMENT", "NIGHTLY_"))}
    env.update({name: str(root / rel) for name, rel in PATHS.items()})
    env.update(CONTACTS_NORMALISERS=mode, NIGHTLY_RETRY_WAIT_SECONDS="1")
    return env


def run(root: Path, command: list[str], mode: str = "table") -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO_ROOT, env=environment(root, mode), capture_output=True, text=True,
                          timeout=900)


def rows(warehouse: Path, sql: str, parameters: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, parameters).fetchall()


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A first night on demo data with the functions looked up in tables."""
    root = tmp_path_factory.mktemp("normalisers")
    generate(CONTACTS, 11, root / "landing", root / "truth")
    done = run(root, [sys.executable, "-m", "tooling", "run"])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root


def copy_of(night: Path, tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(night, root, ignore=shutil.ignore_patterns("dbt_target", "dbt_logs"))
    return root


def test_a_night_with_the_values_in_tables_cleans_as_calling_the_functions(night: Path, tmp_path: Path) -> None:
    warehouse = night / PATHS["CONTACTS_WAREHOUSE"]
    steps = rows(warehouse, "select step, status from monitoring.nightly_steps order by step_order")
    assert [s for s, _ in steps][:3] == ["load", "normalise_inputs", "normalise"]
    assert all(status in ("ok", "warn") for step, status in steps if step != "sync"), steps
    assert dict(steps)["sync"] == "skipped"  # no Mailchimp configured
    # every function's values were computed once, before the cleaned models looked them up
    for function in FUNCTIONS:
        assert rows(warehouse, f"select count(*) from normalised.{function}")[0][0] > 0, function
    assert rows(warehouse, "select count(*) from normalised.phone_parse where result.e164 is not null")[0][0] > 100

    # the same models built again from the same staged rows, calling the functions
    root = copy_of(night, tmp_path)
    copy = root / PATHS["CONTACTS_WAREHOUSE"]
    selected = ["run", "--full-refresh", "--select", "path:models/cleaned", "enriched_contact_consent"]
    done = run(root, dbt_command(selected), mode="function")
    assert done.returncode == 0, done.stdout[-3000:]
    with duckdb.connect() as con:
        con.execute(f"attach '{warehouse}' as looked_up (read_only)")
        con.execute(f"attach '{copy}' as called (read_only)")
        for schema, model in COMPARED:
            columns = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_catalog = 'called' "
                "and table_schema = ? and table_name = ? and column_name <> 'cleaned_at'", [schema, model]).fetchall()]
            select = ", ".join(f'"{c}"' for c in columns)
            count = con.execute(f"select count(*) from called.{schema}.{model}").fetchone()[0]
            differ = con.execute(
                f"select count(*) from ((select {select} from looked_up.{schema}.{model} except all "
                f"select {select} from called.{schema}.{model}) union all (select {select} from "
                f"called.{schema}.{model} except all select {select} from looked_up.{schema}.{model}))").fetchone()[0]
            assert count > 0 and differ == 0, f"{schema}.{model}: {differ} of {count} rows differ"

    # with nothing new, the step computes nothing
    again = run(root, [sys.executable, "-m", "batch.normalise"])
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert again.stdout.strip() == "normalised values: " + ", ".join(f"{f} +0" for f in FUNCTIONS)


def test_a_value_missing_from_its_table_stops_the_build_with_the_step_to_run(night: Path, tmp_path: Path) -> None:
    root = copy_of(night, tmp_path)
    warehouse = root / PATHS["CONTACTS_WAREHOUSE"]
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from normalised.phone_parse where key_1 in "
                    "(select key_1 from normalised.phone_parse order by key_1 limit 3)")
    build = ["build", "--select", "cleaned_contact_phones"]
    stopped = run(root, dbt_command(build))
    assert stopped.returncode != 0
    assert "3 values of phone_parse are not in normalised.phone_parse yet" in stopped.stdout
    assert "python -m batch.normalise" in stopped.stdout
    done = run(root, [sys.executable, "-m", "batch.normalise"])
    assert done.returncode == 0 and "phone_parse +3," in done.stdout, done.stdout + done.stderr
    assert run(root, dbt_command(build)).returncode == 0


def test_an_erasure_leaves_none_of_the_persons_values_in_the_tables(night: Path, tmp_path: Path) -> None:
    root = copy_of(night, tmp_path)
    warehouse = root / PATHS["CONTACTS_WAREHOUSE"]
    # a person of one record whose e-mail, phone and street line no other record has
    email, phone, line = rows(warehouse, """
        with records as (
            select cleaned.contact_record_id, cleaned.email_original, cleaned.phone_original,
                   staged.street_line_1
            from cleaned.cleaned_contacts as cleaned
            inner join staging.stg_landing__contacts as staged using (contact_record_id)
            inner join deduped.contact_identity_map as map using (contact_record_id)
            where map.contact_id in (select contact_id from deduped.contact_identity_map group by all
                                     having count(*) = 1)
              and cleaned.email_address is not null and cleaned.phone_e164 is not null
              and staged.street_line_1 is not null
        )
        select email_original, phone_original, street_line_1 from records
        where email_original in (select email from staging.stg_landing__contacts group by all having count(*) = 1)
          and phone_original in (select phone from staging.stg_landing__contacts group by all having count(*) = 1)
          and upper(street_line_1) in (select upper(street_line_1) from staging.stg_landing__contacts
                                       group by all having count(*) = 1)
        order by 1 limit 1""")[0]
    held = {function: rows(warehouse, f"select count(*) from normalised.{function}")[0][0] for function in FUNCTIONS}
    assert rows(warehouse, "select count(*) from normalised.phone_parse where key_1 = ?", [phone]) == [(1,)]

    done = run(root, [sys.executable, "-m", "batch", "forget", "--email", email])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "normalised values:" in done.stdout and email not in done.stdout + done.stderr
    for function in FUNCTIONS:
        leftover = rows(warehouse, f"select count(*) from normalised.{function} where strpos(key_1, ?) > 0 "
                                   "or strpos(key_1, ?) > 0 or strpos(upper(key_1), ?) > 0",
                        [email, phone, line.upper()])[0][0]
        assert leftover == 0, function
        assert rows(warehouse, f"select count(*) from normalised.{function}")[0][0] <= held[function]
    # and no byte of them in the warehouse file (rewritten at the end of the erasure)
    data = warehouse.read_bytes()
    for value in (email, phone, line, line.upper()):
        assert value.encode() not in data
