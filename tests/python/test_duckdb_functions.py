"""The Python functions the cleaned models call, directly and registered on a real DuckDB connection."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
import pytest

from batch.duckdb_functions import city_case, name_case, parse_person_name, parse_phone, register, surname_case
from batch.street_address import parse_street_line, tables_from_seeds
from ingestion.settings import REPO_ROOT


@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("+44 (0)20 7946 0123", "US", ("+442079460123", True, "fixed_line", "GB")),
    ("00 33 1 23 45 67 89", "US", ("+33123456789", True, "fixed_line", "FR")),
    ("001 312 277 1935", "US", ("+13122771935", True, "fixed_line_or_mobile", "US")),
    ("0151 23456789", "DE", ("+4915123456789", True, "mobile", "DE")),
    ("(416) 555-0199", "CA", ("+14165550199", True, "fixed_line_or_mobile", "CA")),
    ("098765 43210", "IN", ("+919876543210", True, "mobile", "IN")),
    ("0412 345 678", "AU", ("+61412345678", True, "mobile", "AU")),
    ("020 7946 0123", "US", (None, False, None, None)),   # a UK number read as American
    ("N/A", "US", (None, False, None, None)),
    ("   ", "US", (None, None, None, None)),
    (None, "US", (None, None, None, None)),
])
def test_parse_phone(raw, region, expected):
    assert parse_phone(raw, region) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("MCDONALD", "McDonald"), ("o'brien", "O'Brien"), ("SMITH-JONES", "Smith-Jones"), ("  Sébastien ", "Sébastien"),
    ("DeShawn", "DeShawn"), ("jürgen", "Jürgen"), ("ANNE-SOPHIE", "Anne-Sophie"), ("", None), (None, None),
])
def test_name_case(raw, expected):
    assert name_case(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("VAN DER BERG", "van der Berg"), ("LE GALL", "Le Gall"), ("de la fontaine", "de la Fontaine"),
    ("von der Leyen", "von der Leyen"), ("MÜLLER", "Müller"),
])
def test_surname_case(raw, expected):
    assert surname_case(raw) == expected


def test_parse_person_name():
    assert parse_person_name("Smith, John") == (None, "John", None, "Smith", None)
    assert parse_person_name("Dr. Jane Roe PhD") == ("Dr.", "Jane", None, "Roe", "PhD")
    assert parse_person_name("MR JAN VAN DER BERG") == ("MR", "Jan", None, "van der Berg", None)
    assert parse_person_name(None) == (None,) * 5


def test_functions_registered_on_duckdb_work_in_batches():
    con = duckdb.connect()
    try:
        register(con)
        rows = con.execute("""
            select phone_parse(raw, 'GB').e164, name_case(name), surname_case(name),
                   parse_person_name(full_text).last_name
            from (values ('020 7946 0123', 'MCDONALD', 'Smith, John'),
                         ('020 7946 0123', 'MCDONALD', 'Smith, John'),
                         (null, null, null)) as t(raw, name, full_text)""").fetchall()
        assert rows == [("+442079460123", "McDonald", "McDonald", "Smith")] * 2 + [(None, None, None, None)]
        # a batch bigger than DuckDB's vector size, with repeats, comes back complete and in order
        n = con.execute("""
            select count(*) filter (where phone_parse('0151 ' || lpad(cast(i % 97 as varchar), 8, '1'), 'DE').is_valid)
            from range(5000) as t(i)""").fetchone()[0]
        assert n == 5000
    finally:
        con.close()


# ------------------------------------------------------------------ street lines ----
# Each failure measured on real US exports (issue 18) as a case, read with the real seeds.

SEEDS = tables_from_seeds(REPO_ROOT / "seeds")


@pytest.mark.parametrize(("line", "address", "unit"), [
    # no house number: the line in Publication 28 form all the same
    ("oliphant street", "OLIPHANT ST", None),
    ("se 25th ave", "SE 25TH AVE", None),
    ("highway a1a", "HIGHWAY A1A", None),
    # post-directionals, and a suffix before one
    ("1656 CONNALLY DRIVE SOUTHWEST", "1656 CONNALLY DR SW", None),
    ("454 W 700 SOUTH", "454 W 700 S", None),
    ("770 S. Oak Boulevard E", "770 S OAK BLVD E", None),
    # unit designators of C2 and of exports
    ("12 MAIN ST AP 4", "12 MAIN ST", "APT 4"),
    ("12 Main St Aprt 4", "12 MAIN ST", "APT 4"),
    ("12 Main St, Aptmnt 4", "12 MAIN ST", "APT 4"),
    ("12 MAIN ST U 4", "12 MAIN ST", "UNIT 4"),
    ("12 Main St Basement", "12 MAIN ST", "BSMT"),
    ("12 Main St, bsmt", "12 MAIN ST", "BSMT"),
    ("76 SW WASHBURN AVENUE 2ND FL", "76 SW WASHBURN AVE", "FL 2"),
    ("1265 Jefferson Road, 17th Floor", "1265 JEFFERSON RD", "FL 17"),
    ("28008 Larson Av. Ste.1948", "28008 LARSON AVE", "STE 1948"),
    ("4910 country club oval. trailer 788", "4910 COUNTRY CLUB OVAL", "TRLR 788"),
    ("12 MAIN ST APT # 5", "12 MAIN ST", "APT 5"),
    ("77 Oak Blvd #5", "77 OAK BLVD", "# 5"),
    # suffix spellings of C1 and of exports
    ("3 Rocky La", "3 ROCKY LN", None),
    ("22 Rocky Tr", "22 ROCKY TRL", None),
    ("5 Orchard Cr", "5 ORCHARD CRK", None),
    ("9 Grand Avnu", "9 GRAND AVE", None),
    ("1 Elm Landing", "1 ELM LNDG", None),
    ("7 Hill Knoll", "7 HILL KNL", None),
    ("1131 Pine Common South", "1131 PINE CMN S", None),
    ("Pine Green", "PINE GRN", None),
    ("1 Center Roads", "1 CENTER RDS", None),
    # hyphenated and grid house numbers
    ("119-46 E BENNETT AVE", "119-46 E BENNETT AVE", None),
    ("E8532 W DOUGLAS ST", "E8532 W DOUGLAS ST", None),
    ("N6526 County Road K", "N6526 COUNTY ROAD K", None),
    # a directional or a suffix word that is the street's name
    ("5 EAST DRIVE", "5 EAST DR", None),
    ("17701 E AVENUE", "17701 E AVE", None),
    ("8430 West Ways", "8430 WEST WAYS", None),
    ("6562 Mountain View Ext", "6562 MOUNTAIN VIEW EXT", None),
    ("12 Avenue B", "12 AVENUE B", None),
    ("6510 Ave N", "6510 AVENUE N", None),
    # NUMBER and NO as words of a name, not units
    ("4513 NUMBER FOUR ROAD", "4513 NUMBER FOUR RD", None),
    ("1874 Maple Jctns, No. 1917", "1874 MAPLE JCTS", "# 1917"),
    # boxes and highways
    ("P.O. Box 123", "PO BOX 123", None),
    ("100 US Hwy 1", "100 US HIGHWAY 1", None),
    ("453 1/2 El Camino Real View", "453 1/2 EL CAMINO REAL VW", None),
])
def test_street_lines_in_publication_28_form(line, address, unit):
    parsed = parse_street_line(line, SEEDS)
    assert (parsed.street_address, parsed.unit, parsed.issue) == (address, unit, None)


def test_street_line_components():
    parsed = parse_street_line("1656 N. Connally Drive Southwest, Suite 200", SEEDS)
    assert (parsed.house_number, parsed.pre_directional, parsed.street_name, parsed.street_suffix,
            parsed.post_directional, parsed.unit) == ("1656", "N", "CONNALLY", "DR", "SW", "STE 200")
    assert parse_street_line("Hwy 94", SEEDS).pre_type == "HIGHWAY"


@pytest.mark.parametrize(("line", "issue"), [
    ("c/o the front desk", "not_a_street_line"),
    ("N6526", "no_street_name"),
    ("Suite 200", "no_street_name"),
    ("   ", "empty"),
])
def test_lines_that_are_not_street_addresses_are_flagged(line, issue):
    parsed = parse_street_line(line, SEEDS)
    assert (parsed.issue, parsed.street_address) == (issue, None)


def test_a_spelling_added_to_the_seed_is_read():
    """The seeds drive the rendering: a client's own suffix spelling, added as a row, is read."""
    assert parse_street_line("5 Harbor Stravnue", SEEDS).street_address == "5 HARBOR STRAVNUE"
    tables = tables_from_seeds(REPO_ROOT / "seeds")
    tables.suffixes["STRAVNUE"] = ("STRA", "STRAVENUE", False)
    assert parse_street_line("5 Harbor Stravnue", tables).street_address == "5 HARBOR STRA"


@pytest.mark.parametrize(("raw", "expected"), [
    ("CHICAGO", "Chicago"), ("chicago", "Chicago"), ("ChIcAgO", "Chicago"), ("WINSTON-SALEM", "Winston-Salem"),
    ("FRANKFURT AM MAIN", "Frankfurt am Main"), ("ST. LOUIS", "St. Louis"), ("KING OF PRUSSIA", "King of Prussia"),
    ("MCALLEN", "McAllen"), ("O'FALLON", "O'Fallon"), ("coeur d'alene", "Coeur d'Alene"), ("MÜNCHEN", "München"),
    ("  new   york ", "New York"), ("", None), (None, None),
])
def test_city_case(raw, expected):
    assert city_case(raw) == expected


def test_street_parse_registered_on_duckdb_reads_the_seed_tables():
    con = duckdb.connect()
    try:
        register(con)
        for name in ("usps_street_suffixes", "usps_unit_designators", "usps_directionals"):
            con.execute(f"create table {name} as select * from read_csv('{REPO_ROOT / 'seeds' / name}.csv', "
                        "all_varchar = true)")
        rows = con.execute("""
            with tables as (
                select
                    (select string_agg(concat_ws('=', suffix_key, suffix_code, suffix_name,
                                                 case when source = 'C1' then 'true' else 'false' end), ',')
                     from usps_street_suffixes) as suffixes,
                    (select string_agg(concat_ws('=', designator_key, designator_code, needs_number), ',')
                     from usps_unit_designators) as designators,
                    (select string_agg(concat_ws('=', directional_key, directional_code), ',')
                     from usps_directionals) as directionals
            )
            select street_parse(line, suffixes, designators, directionals).street_address,
                   street_parse(line, suffixes, designators, directionals).unit,
                   city_case(city)
            from (values ('1656 CONNALLY DRIVE SOUTHWEST, Aprt 4', 'CHICAGO'), (null, null)) as t(line, city)
            cross join tables""").fetchall()
        assert rows == [("1656 CONNALLY DR SW", "APT 4", "Chicago"), (None, None, None)]
    finally:
        con.close()


def test_no_line_stops_the_parser():
    """Whatever a client's file holds, the parser answers: a part or a flag, never an exception."""
    r = random.Random(18)
    alphabet = "0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz#.,;:-/'\"()&\n\té€ß中"
    words = ["ST", "APT", "#", "N", "NORTH", "HWY", "PO", "BOX", "UNIT", "FL", "2ND", "-", ",", "1/2", "C/O"]
    lines = ["".join(r.choice(alphabet) for _ in range(r.randint(0, 80))) for _ in range(1500)]
    lines += [" ".join(r.choice(words) for _ in range(r.randint(1, 9))) for _ in range(1500)]
    for line in lines:
        parsed = parse_street_line(line, SEEDS)
        assert parsed.issue is not None or parsed.street_address, line
        assert parsed.issue != "parser_error", line


def test_the_spark_target_reads_the_same_settings_dbt_does(monkeypatch):
    """The Spark session is started before dbt (batch/spark_functions.py) with the profile's
    own settings, env_var rendered, so dbt-spark's session is the one with the functions."""
    from batch.duckdb_functions import FUNCTIONS
    from batch.spark_functions import profile_parameters

    monkeypatch.setenv("CONTACTS_SPARK_DIR", "/srv/contacts/spark")
    parameters = profile_parameters()
    assert parameters["spark.master"] == "local[2]"
    assert parameters["spark.sql.warehouse.dir"] == "/srv/contacts/spark/warehouse"
    assert "databaseName=/srv/contacts/spark/metastore;" in parameters["spark.hadoop.javax.jdo.option.ConnectionURL"]
    monkeypatch.delenv("CONTACTS_SPARK_DIR")
    assert profile_parameters()["spark.sql.warehouse.dir"] == "data/spark/warehouse"
    # every function the models call has a Spark type: a struct's fields as DuckDB's
    for name, _, _, duckdb_type, spark_type in FUNCTIONS:
        assert spark_type.startswith("struct<") == duckdb_type.startswith("STRUCT("), name
        if duckdb_type.startswith("STRUCT("):
            fields = [part.split()[0] for part in duckdb_type[7:-1].split(", ")]
            assert [part.split(":")[0] for part in spark_type[7:-1].split(", ")] == fields, name


def test_the_jaro_winkler_spark_gets_is_duckdbs_to_the_last_digit():
    """name_similarity on Spark (duckdb_jaro_winkler) against DuckDB's own function, on
    names, accented names, typos, empty strings and random strings: equal scores make equal
    comparison levels, so both engines estimate the same weights and merge the same records."""
    from batch.spark_functions import duckdb_jaro_winkler, duckdb_jaro_winkler_arrow

    r = random.Random(3)
    names = ["thérèse", "léa", "anthony", "ashley", "megan", "mary", "martha", "marhta", "jürgen", "jurgen",
             "dwayne", "duane", "o'brien", "obrien", "", "a", "ab", "ba", "zoë", "zoe", "nguyễn", "nguyen"]
    pairs = [(a, b) for a in names for b in names]
    alphabet = "abcdeéèfghijklmnoöpqrstuüvwxyz -'"
    for _ in range(4000):
        a = "".join(r.choice(alphabet) for _ in range(r.randint(0, 12)))
        # a typo or two of `a`, or another string
        b = list(a)
        for _ in range(r.randint(0, 2)):
            if b:
                b[r.randrange(len(b))] = r.choice(alphabet)
        pairs.append((a, "".join(b) if r.random() < 0.7 else "".join(r.choice(alphabet) for _ in range(8))))
    con = duckdb.connect()
    expected = [row[0] for row in con.execute(
        "select jaro_winkler_similarity(a, b) from (select unnest(?) as a, unnest(?) as b)",
        [[a for a, _ in pairs], [b for _, b in pairs]]).fetchall()]
    ours = [duckdb_jaro_winkler(a, b) for a, b in pairs]
    differ = [(pair, mine, theirs) for pair, mine, theirs in zip(pairs, ours, expected, strict=True)
              if mine != theirs]
    assert differ == []
    assert duckdb_jaro_winkler_arrow(pa.array(["martha", None]), pa.array(["marhta", "x"])).to_pylist() == \
        [pytest.approx(0.9611111111111111), None]


def test_the_accent_folding_spark_gets_is_duckdbs():
    """soundex on Spark folds accents with strip_accents (batch/spark_functions.py) before
    it keeps the letters A-Z, as DuckDB does: the same blocking keys on both engines."""
    from batch.spark_functions import strip_accents, strip_accents_arrow

    names = ["lefèvre", "von weizsäcker", "ó súilleabháin", "émile", "Łukasz", "Øster", "straße", "Nguyễn",
             "Dvořák", "Çelik", "Ångström", "ﬁlip", "Ⅻ", "", "plain"]
    con = duckdb.connect()
    expected = [row[0] for row in con.execute("select strip_accents(unnest(?))", [names]).fetchall()]
    assert [strip_accents(name) for name in names] == expected
    assert strip_accents_arrow(pa.array(["émile", None])).to_pylist() == ["emile", None]
