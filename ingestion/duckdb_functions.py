"""DuckDB functions the dbt models call, registered by dbt-duckdb's plugin mechanism.

profiles/profiles.yml lists this module under `plugins:`, so every connection dbt
opens has them. Each is vectorised (an Arrow UDF: one Python call per batch).

- `phone_parse(raw VARCHAR, default_region VARCHAR)` ->
  `STRUCT(e164 VARCHAR, is_valid BOOLEAN, number_type VARCHAR)`: Google's
  libphonenumber rules (the `phonenumbers` package) rather than numbering plans
  re-derived in SQL. National numbers are read in `default_region` (ISO 3166-1
  alpha-2); numbers written with `+` or a leading `00` carry their own country.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
import pyarrow as pa
from phonenumbers import PhoneNumberFormat, PhoneNumberType

try:  # dbt-duckdb is present when dbt loads this module; tests may register without it
    from dbt.adapters.duckdb.plugins import BasePlugin
except ImportError:  # pragma: no cover
    BasePlugin = object  # type: ignore[misc,assignment]

PHONE_STRUCT = "STRUCT(e164 VARCHAR, is_valid BOOLEAN, number_type VARCHAR)"
NUMBER_TYPES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal",
    PhoneNumberType.UAN: "uan",
}


def parse_phone(raw: str | None, default_region: str | None) -> tuple[str | None, bool | None, str | None]:
    """(E.164, is_valid, number type) of one number; (None, None, None) when there is no number."""
    if raw is None or not raw.strip():
        return None, None, None
    text = raw.strip()
    if text.startswith("00"):
        # "00" is the international prefix nearly everywhere, but not in the US (011)
        # or Australia (0011), where libphonenumber would read "001 ..." as national
        text = "+" + text[2:].lstrip()
    try:
        number = phonenumbers.parse(text, (default_region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None, False, None
    if not phonenumbers.is_valid_number(number):
        return None, False, None
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return e164, True, NUMBER_TYPES.get(phonenumbers.number_type(number), "other")


def phone_parse_arrow(raw: pa.Array, default_region: pa.Array) -> pa.StructArray:
    """Arrow batch version of parse_phone; repeated values in a batch are parsed once."""
    cache: dict[tuple[Any, Any], tuple] = {}
    results = []
    for key in zip(raw.to_pylist(), default_region.to_pylist()):
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = parse_phone(*key)
        results.append(hit)
    e164, valid, kind = zip(*results) if results else ((), (), ())
    return pa.StructArray.from_arrays(
        [pa.array(e164, pa.string()), pa.array(valid, pa.bool_()), pa.array(kind, pa.string())],
        names=["e164", "is_valid", "number_type"])


def register(conn: Any) -> None:
    """Register every function on a DuckDB connection."""
    conn.create_function("phone_parse", phone_parse_arrow, ["VARCHAR", "VARCHAR"], PHONE_STRUCT,
                         type="arrow", null_handling="special", side_effects=False)


class Plugin(BasePlugin):  # type: ignore[misc,valid-type]
    """dbt-duckdb plugin: `plugins: [{module: ingestion.duckdb_functions}]` in profiles.yml."""

    def configure_connection(self, conn: Any) -> None:
        register(conn)
