"""The Python functions the cleaned models call, directly and registered on a real DuckDB connection."""

from __future__ import annotations

import duckdb
import pytest

from batch.duckdb_functions import name_case, parse_person_name, parse_phone, register, surname_case


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
