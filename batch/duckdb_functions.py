"""DuckDB functions the dbt models call, registered by dbt-duckdb's plugin mechanism.

profiles/profiles.yml lists this module under `plugins:`, so every connection dbt
opens has them. Each is vectorised (an Arrow UDF: one Python call per batch). Spark
registers the same functions (FUNCTIONS, with their Spark types) on its session:
batch/spark_functions.py.

- `name_case(name VARCHAR)` -> VARCHAR: fixes the case of a name typed all upper or
  all lower ("MCDONALD" -> "McDonald", "o'brien" -> "O'Brien", "SMITH-JONES" ->
  "Smith-Jones", "van der berg" -> "van der Berg"); a name already in mixed case is kept
  as typed ("DeShawn", "von der Leyen"). Whitespace is trimmed and collapsed.
- `surname_case(name VARCHAR)` -> VARCHAR: name_case for a surname field, where a leading
  Dutch or German particle stays lower case ("VAN DER BERG" -> "van der Berg") while
  French "Le"/"La" keep their capital ("LE GALL" -> "Le Gall").
- `city_case(city VARCHAR)` -> VARCHAR: one case for every spelling of a city, whatever the
  export's case ("CHICAGO", "chicago", "Chicago" -> "Chicago"; "WINSTON-SALEM" ->
  "Winston-Salem"; "FRANKFURT AM MAIN" -> "Frankfurt am Main"; "ST. LOUIS" -> "St. Louis").
  Unlike name_case, a city in mixed case is re-cased too, so an export's odd capitals
  do not make two spellings of one city.
- `parse_person_name(full_name VARCHAR)` -> `STRUCT(salutation, first_name, middle_name,
  last_name, suffix)`: splits a one-field name with the `nameparser` package ("Smith,
  John", "Dr. Jane Roe", "Jean-Luc Picard Jr.", "Jan van der Berg").
- `email_hmac(email VARCHAR)` -> VARCHAR: the suppression list's keyed hash of an address
  (HMAC-SHA256 of the lower-cased, trimmed address; the key is the project's secret, see
  ingestion/suppression.py), so a record is matched against hashes the loader wrote.
- `phone_parse(raw VARCHAR, default_region VARCHAR)` ->
  `STRUCT(e164 VARCHAR, is_valid BOOLEAN, number_type VARCHAR, region_code VARCHAR)`: Google's
  libphonenumber rules (the `phonenumbers` package) rather than numbering plans
  re-derived in SQL. National numbers are read in `default_region` (ISO 3166-1
  alpha-2); numbers written with `+` or a leading `00` carry their own country.
- `street_parse(line VARCHAR, suffixes VARCHAR, designators VARCHAR, directionals VARCHAR)` ->
  `STRUCT(house_number, pre_directional, pre_type, street_name, street_suffix, post_directional,
  unit, street_address, issue)`: a US street line labelled by `usaddress` and rendered in USPS
  Publication 28 form from the three seeds, passed as text (see batch/street_address.py).
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
import pyarrow as pa
from nameparser import HumanName
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from batch.street_address import parse_street_line, tables_from_text
from ingestion.suppression import hmac_emails

try:  # dbt-duckdb is present when dbt loads this module; tests may register without it
    from dbt.adapters.duckdb.plugins import BasePlugin
except ImportError:  # pragma: no cover
    BasePlugin = object  # type: ignore[misc,assignment]

PHONE_STRUCT = "STRUCT(e164 VARCHAR, is_valid BOOLEAN, number_type VARCHAR, region_code VARCHAR)"
NUMBER_TYPES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal",
    PhoneNumberType.UAN: "uan",
}


def parse_phone(raw: str | None, default_region: str | None) -> tuple[str | None, bool | None, str | None, str | None]:
    """(E.164, is_valid, number type, region) of one number; all None when there is no number."""
    if raw is None or not raw.strip():
        return None, None, None, None
    text = raw.strip()
    if text.startswith("00"):
        # "00" is the international prefix nearly everywhere, but not in the US (011)
        # or Australia (0011), where libphonenumber would read "001 ..." as national
        text = "+" + text[2:].lstrip()
    try:
        number = phonenumbers.parse(text, (default_region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None, False, None, None
    # number_type() is UNKNOWN exactly when is_valid_number() is False; asking once saves
    # a third of the cost per number
    kind = phonenumbers.number_type(number)
    region = phonenumbers.region_code_for_number(number)
    if kind == PhoneNumberType.UNKNOWN or region is None:
        return None, False, None, None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164), True, NUMBER_TYPES.get(kind, "other"), region


def phone_parse_arrow(raw: pa.Array, default_region: pa.Array) -> pa.StructArray:
    """Arrow batch version of parse_phone; repeated values in a batch are parsed once."""
    cache: dict[tuple[Any, Any], tuple] = {}
    results = []
    for key in zip(raw.to_pylist(), default_region.to_pylist()):
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = parse_phone(*key)
        results.append(hit)
    e164, valid, kind, region = zip(*results) if results else ((), (), (), ())
    return pa.StructArray.from_arrays(
        [pa.array(e164, pa.string()), pa.array(valid, pa.bool_()), pa.array(kind, pa.string()),
         pa.array(region, pa.string())],
        names=["e164", "is_valid", "number_type", "region_code"])


NAME_FIELDS = ["salutation", "first_name", "middle_name", "last_name", "suffix"]
NAME_STRUCT = ("STRUCT(salutation VARCHAR, first_name VARCHAR, middle_name VARCHAR, "
               "last_name VARCHAR, suffix VARCHAR)")
# lower-case name particles: they stay lower case unless they open the value ("van der Berg")
PARTICLES = {"van", "der", "den", "de", "la", "le", "von", "du", "di", "da", "del", "dos", "das", "ter", "ten",
             "af", "av", "zu", "y", "e"}
_WORD = re.compile(r"[^\s\-']+|[\s\-']+")


def _cap_word(word: str) -> str:
    if len(word) > 2 and word.startswith("mc"):
        return "Mc" + word[2].upper() + word[3:]
    return word[:1].upper() + word[1:]


# a surname may open with these in lower case ("van der Berg"); French "Le"/"La" keep their capital
SURNAME_LEADING_PARTICLES = PARTICLES - {"le", "la", "y", "e"}


def surname_case(name: str | None) -> str | None:
    """name_case for a surname field: a leading Dutch/German particle stays lower case."""
    cased = name_case(name)
    if cased is None or cased == " ".join((name or "").split()):
        return cased  # kept as typed
    first, _, rest = cased.partition(" ")
    if rest and first.lower() in SURNAME_LEADING_PARTICLES:
        return first.lower() + " " + rest
    return cased


def name_case(name: str | None) -> str | None:
    """Proper case for a name typed in one case; mixed-case names are kept as typed."""
    if name is None:
        return None
    text = " ".join(name.split())
    if not text:
        return None
    letters = [ch for ch in text if ch.isalpha()]
    if any(ch.isupper() for ch in letters) and any(ch.islower() for ch in letters):
        return text
    parts = _WORD.findall(text.lower())
    out = []
    for i, part in enumerate(parts):
        if not part[0].isalpha() or i > 0 and part in PARTICLES and parts[i - 1] == " ":
            out.append(part)
        else:
            out.append(_cap_word(part))
    return "".join(out)


# words that stay lower case inside a city's name (not as its first word)
CITY_PARTICLES = PARTICLES | {"am", "an", "im", "ob", "of", "on", "upon", "the", "and", "sur", "sous", "en", "les",
                              "lès", "aux", "au", "bei", "in", "op", "aan", "del", "el"}
_CITY_WORD = re.compile(r"[^\s\-]+|[\s\-]+")


def city_case(city: str | None) -> str | None:
    """Every word capitalised but for inner particles ("King of Prussia", "Saint-Germain-en-Laye")."""
    if city is None:
        return None
    text = " ".join(city.split())
    if not text:
        return None
    parts = _CITY_WORD.findall(text.lower())
    out = []
    for i, part in enumerate(parts):
        if not part[0].isalpha() or (i > 0 and part in CITY_PARTICLES):
            out.append(part)
        else:
            # O'Fallon, D'Iberville: a capital after the apostrophe of a one-letter prefix,
            # which is lower case inside the name (Coeur d'Alene)
            word = _cap_word(part)
            if len(word) > 2 and word[1] == "'":
                word = (word[0].lower() if i > 0 and word[0] in "DL" else word[0]) + "'" + word[2].upper() + word[3:]
            out.append(word)
    return "".join(out)


def city_case_arrow(cities: pa.Array) -> pa.Array:
    return pa.array(_cached_map(city_case, cities), pa.string())


def parse_person_name(full_name: str | None) -> tuple[str | None, ...]:
    """(salutation, first, middle, last, suffix) of a one-field name, each case-fixed."""
    if full_name is None or not full_name.strip():
        return (None,) * 5
    name = HumanName(" ".join(full_name.split()))
    parts = (name.title, name_case(name.first), name_case(name.middle), surname_case(name.last), name.suffix)
    return tuple(part or None for part in parts)


def _cached_map(fn: Any, *columns: pa.Array) -> list:
    cache: dict = {}
    out = []
    for key in zip(*(c.to_pylist() for c in columns)):
        hit = cache.get(key)
        if hit is None and key not in cache:
            hit = cache[key] = fn(*key)
        out.append(hit)
    return out


def name_case_arrow(names: pa.Array) -> pa.Array:
    return pa.array(_cached_map(name_case, names), pa.string())


def surname_case_arrow(names: pa.Array) -> pa.Array:
    return pa.array(_cached_map(surname_case, names), pa.string())


def parse_person_name_arrow(names: pa.Array) -> pa.StructArray:
    rows = _cached_map(parse_person_name, names)
    columns = list(zip(*rows)) if rows else [()] * len(NAME_FIELDS)
    return pa.StructArray.from_arrays([pa.array(c, pa.string()) for c in columns], names=NAME_FIELDS)


def email_hmac_arrow(email: pa.Array) -> pa.Array:
    """The suppression list's keyed hash of each address (see ingestion.suppression)."""
    return hmac_emails(email)


STREET_FIELDS = ["house_number", "pre_directional", "pre_type", "street_name", "street_suffix",
                 "post_directional", "unit", "street_address", "issue"]
STREET_STRUCT = "STRUCT(" + ", ".join(f"{name} VARCHAR" for name in STREET_FIELDS) + ")"


def street_parse_arrow(line: pa.Array, suffixes: pa.Array, designators: pa.Array,
                       directionals: pa.Array) -> pa.StructArray:
    """Arrow batch version of parse_street_line; the tables are the same for every row."""
    if len(line) == 0:
        rows: list[tuple] = []
    else:
        tables = tables_from_text(suffixes[0].as_py(), designators[0].as_py(), directionals[0].as_py())
        rows = _cached_map(lambda text: None if text is None else parse_street_line(text, tables).as_tuple(), line)
    columns = [[None if row is None else row[i] for row in rows] for i in range(len(STREET_FIELDS))]
    return pa.StructArray.from_arrays([pa.array(c, pa.string()) for c in columns], names=STREET_FIELDS)


PHONE_FIELDS = {"e164": "string", "is_valid": "boolean", "number_type": "string", "region_code": "string"}


def _spark_struct(fields: dict[str, str] | list[str]) -> str:
    """Spark's DDL type of a struct of these fields (a list: all strings)."""
    items = fields.items() if isinstance(fields, dict) else ((name, "string") for name in fields)
    return "struct<" + ", ".join(f"{name}: {kind}" for name, kind in items) + ">"


# Every function the models call: (name, Arrow function, argument count, DuckDB return type,
# Spark return type). DuckDB registers them here (register); Spark in batch/spark_functions.py
FUNCTIONS: list[tuple[str, Any, int, str, str]] = [
    ("phone_parse", phone_parse_arrow, 2, PHONE_STRUCT, _spark_struct(PHONE_FIELDS)),
    ("name_case", name_case_arrow, 1, "VARCHAR", "string"),
    ("surname_case", surname_case_arrow, 1, "VARCHAR", "string"),
    ("city_case", city_case_arrow, 1, "VARCHAR", "string"),
    ("parse_person_name", parse_person_name_arrow, 1, NAME_STRUCT, _spark_struct(NAME_FIELDS)),
    ("street_parse", street_parse_arrow, 4, STREET_STRUCT, _spark_struct(STREET_FIELDS)),
    ("email_hmac", email_hmac_arrow, 1, "VARCHAR", "string"),
]


def register(conn: Any) -> None:
    """Register every function on a DuckDB connection."""
    for name, function, arguments, duckdb_type, _ in FUNCTIONS:
        conn.create_function(name, function, ["VARCHAR"] * arguments, duckdb_type,
                             type="arrow", null_handling="special", side_effects=False)


class Plugin(BasePlugin):  # type: ignore[misc,valid-type]
    """dbt-duckdb plugin: `plugins: [{module: batch.duckdb_functions}]` in profiles.yml."""

    def configure_connection(self, conn: Any) -> None:
        register(conn)
