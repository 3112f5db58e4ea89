"""The Python functions' values in keyed tables, for an engine that cannot call them.

With `CONTACTS_NORMALISERS=table` the cleaned models do not call phone_parse, name_case,
street_parse, ... on the engine's session: the `normalised` macro looks each value up in
`normalised.<function>` (key_1[, key_2] -> result). This step fills those tables: it runs
after the models that list the arguments are built (cleaned_normaliser_inputs, selector
`nightly_normaliser_inputs`) and before the cleaned models, and computes each key its
table lacks, once, on a session the project owns: a DuckDB connection with the functions
registered, or a Spark session (local, or a job submitted to a cluster whose workers have
the project's Python packages). A value is normalised once, whatever the number of records
and nights that carry it. The nightly run does both steps itself (batch.runner).

`prune` drops the keys no record passes any more: `contacts forget` runs it, so an erased
person's phone, name or address leaves these tables too (unless another record carries
the same value).

    python -m batch.normalise                  # the DuckDB warehouse (CONTACTS_WAREHOUSE)
    python -m batch.normalise --prune          # and drop the keys no record passes
    python -m batch.spark_functions normalise  # on Spark: the same SQL on its session
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingestion.settings import Settings

SCHEMA = "normalised"
INPUTS = "cleaned.cleaned_normaliser_inputs"
# each function: how many keys its table has, and its call on the new keys (`new`);
# street_parse's three Publication 28 tables are read from the one-row view its key names
FUNCTIONS: dict[str, tuple[int, str]] = {
    "name_case": (1, "name_case(new.key_1)"),
    "surname_case": (1, "surname_case(new.key_1)"),
    "parse_person_name": (1, "parse_person_name(new.key_1)"),
    "city_case": (1, "city_case(new.key_1)"),
    "email_hmac": (1, "email_hmac(new.key_1)"),
    "phone_parse": (2, "phone_parse(new.key_1, new.key_2)"),
    "street_parse": (2, "street_parse(new.key_1, tables.suffixes, tables.designators, tables.directionals)"),
}
JOINS = {"street_parse": "join cleaned.cleaned_usps_street_tables as tables on new.key_2 = tables.tables_key"}


@dataclass
class Engine:
    """What differs between the engines: how SQL runs, and how a table loses rows."""
    sql: Callable[[str], list[tuple]]
    create_schema: str
    table_format: str
    # (table, condition on its rows `kept`): rewrite the table with the rows that meet it
    keep_only: Callable[[str, str], None]
    # a kill in the middle of keep_only finished (Spark: a kept copy put back)
    finish: Callable[[list[str]], None] = lambda tables: None


def _matching(keys: int, left: str, right: str) -> str:
    return " and ".join(f"{left}.key_{i} = {right}.key_{i}" for i in range(1, keys + 1))


def _passed(function: str, keys: int, alias: str) -> str:
    """SQL: the row `alias` of normalised.<function> holds a key some record passes."""
    return (f"exists (select 1 from {INPUTS} as i where i.function_name = '{function}' "
            f"and {_matching(keys, 'i', alias)})")


def _count(engine: Engine, table: str) -> int:
    return int(engine.sql(f"select count(*) from {table}")[0][0])


def fill(engine: Engine, prune: bool = False) -> dict[str, tuple[int, int]]:
    """Compute every key the inputs list and its table lacks (and with `prune`, drop the
    keys no record passes); (rows added, rows dropped) by function."""
    try:
        engine.sql(f"select key_1 from {INPUTS} where 1 = 0")
    except Exception as exc:  # noqa: BLE001 - either engine's "no such table"
        raise SystemExit(f"{INPUTS} cannot be read ({type(exc).__name__}): build it first, "
                         "`dbt build --selector nightly_normaliser_inputs`") from None
    engine.sql(engine.create_schema)
    engine.finish([f"{SCHEMA}.{function}" for function in FUNCTIONS])
    changes = {}
    for function, (keys, call) in FUNCTIONS.items():
        table = f"{SCHEMA}.{function}"
        columns = ", ".join(f"new.key_{i}" for i in range(1, keys + 1))
        join = JOINS.get(function, "")
        engine.sql(f"create table if not exists {table} {engine.table_format} as "
                   f"select {columns}, {call} as result from (select key_1, key_2 from {INPUTS} where 1 = 0) as new "
                   f"{join}")
        before = _count(engine, table)
        engine.sql(f"insert into {table} select {columns}, {call} from ("
                   f"select {', '.join(f'i.key_{k}' for k in range(1, keys + 1))} from {INPUTS} as i "
                   f"where i.function_name = '{function}' and not exists ("
                   f"select 1 from {table} as n where {_matching(keys, 'n', 'i')})) as new {join}")
        added = _count(engine, table) - before
        dropped = 0
        if prune:
            unused = _count(engine, f"{table} as n where not {_passed(function, keys, 'n')}")
            if unused:
                engine.keep_only(table, _passed(function, keys, "kept"))
                dropped = unused
        changes[function] = (added, dropped)
    return changes


def duckdb_engine(con: object) -> Engine:
    """A DuckDB connection with the project's functions registered (batch.duckdb_functions)."""
    def sql(statement: str) -> list[tuple]:
        return con.execute(statement).fetchall()  # type: ignore[attr-defined]

    def keep_only(table: str, condition: str) -> None:
        sql(f"delete from {table} as kept where not {condition}")

    return Engine(sql=sql, create_schema=f"create schema if not exists {SCHEMA}", table_format="",
                  keep_only=keep_only)


def report(changes: dict[str, tuple[int, int]]) -> str:
    """One line: the values each function's table gained (and lost, when pruned)."""
    parts = [f"{function} +{added:,}" + (f" -{dropped:,}" if dropped else "")
             for function, (added, dropped) in changes.items()]
    return "normalised values: " + ", ".join(parts)


def normalise_duckdb(warehouse: str, prune: bool = False) -> dict[str, tuple[int, int]]:
    import duckdb

    from batch.duckdb_functions import register

    with duckdb.connect(warehouse) as con:
        register(con)
        return fill(duckdb_engine(con), prune)


def prepare(settings: Settings, prune: bool = False, full_refresh: bool = False) -> int:
    """What a build needs first when CONTACTS_NORMALISERS=table (`contacts build`, `contacts
    forget`; the nightly run does the same as two steps of its own): the models that list
    the arguments built, then their new values computed (and with `prune`, the keys no
    record passes dropped), on the settings' target. An exit status."""
    from batch.dbt import run_dbt
    from ingestion.settings import REPO_ROOT

    code = run_dbt(settings, ["build", "--selector", "nightly_normaliser_inputs",
                              *(["--full-refresh"] if full_refresh else [])])
    if code:
        return code
    if settings.target == "spark":
        return subprocess.run([sys.executable, "-m", "batch.spark_functions", "normalise",
                               *(["--prune"] if prune else [])], cwd=REPO_ROOT, env=settings.dbt_env(),
                              check=False).returncode
    print(report(normalise_duckdb(str(settings.warehouse), prune)), flush=True)
    return 0


def main(argv: list[str]) -> int:
    from ingestion.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m batch.normalise", description=__doc__.split("\n\n")[0])
    parser.add_argument("--prune", action="store_true", help="also drop the keys no record passes any more")
    options = parser.parse_args(argv)
    settings = load_settings("duckdb")
    print(report(normalise_duckdb(str(settings.warehouse), options.prune)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
