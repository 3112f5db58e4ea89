"""Map a parsed file's headers onto canonical contact fields and split off rows without identity."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from ingestion.landing.readers import LINE_NUMBER, ROW_NUMBER, ParsedFile

# The canonical contact fields, in the order the raw table holds them.
CANONICAL_FIELDS = [
    "source_record_id", "source_system", "salutation", "first_name", "last_name", "full_name",
    "email", "phone", "company", "company_website", "job_title", "street", "street2", "city",
    "state", "postal_code", "country", "opted_out", "updated_at", "date_of_birth", "deleted",
]
IDENTITY_FIELDS = ["email", "phone", "first_name", "last_name", "full_name"]
NO_IDENTITY = "no_identity"


def normalise_header(name: str) -> str:
    """'Mailing Zip/Postal Code' -> 'mailing_zip_postal_code'; accents dropped."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", folded).strip("_")


@dataclass(frozen=True)
class HeaderAliases:
    """normalised header -> canonical field."""

    lookup: dict[str, str]

    @classmethod
    def from_file(cls, path: Path) -> HeaderAliases:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        fields = config.get("fields") or {}
        unknown = set(fields) - set(CANONICAL_FIELDS)
        if unknown:
            raise ValueError(f"{path}: unknown canonical field(s) {sorted(unknown)}; "
                             f"known fields are {CANONICAL_FIELDS}")
        lookup: dict[str, str] = {f: f for f in CANONICAL_FIELDS}
        for canonical, aliases in fields.items():
            for alias in aliases or []:
                key = normalise_header(str(alias))
                if lookup.get(key, canonical) != canonical:
                    raise ValueError(f"{path}: alias '{alias}' is listed under both "
                                     f"'{lookup[key]}' and '{canonical}'")
                lookup[key] = canonical
        return cls(lookup)

    def map_headers(self, headers: list[str]) -> tuple[dict[str, str], list[str]]:
        """Returns {canonical field: file header} and the headers left over (kept as extras)."""
        mapping: dict[str, str] = {}
        extras: list[str] = []
        for header in headers:
            canonical = self.lookup.get(normalise_header(header))
            if canonical and canonical not in mapping:
                mapping[canonical] = header
            else:
                extras.append(header)
        return mapping, extras


def source_system_from_file_name(name: str) -> str | None:
    """'hubspot__contacts_2026-11-24.csv' -> 'hubspot'; None without a '<source>__' prefix."""
    stem = name.split(".", 1)[0]
    if "__" not in stem:
        return None
    source = normalise_header(stem.split("__", 1)[0])
    return source or None


@dataclass
class MappedFile:
    contacts: pa.Table
    quarantined: list[tuple[int, int | None, str, str, str]]  # row, line, code, reason, raw text
    column_mapping: dict[str, str]
    extra_columns: list[str]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _blank_to_null(column: pa.ChunkedArray) -> pa.ChunkedArray:
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def map_file(parsed: ParsedFile, aliases: HeaderAliases, file_source: str | None) -> MappedFile:
    """Canonical columns (all text) + extra_fields JSON; rows with no identity go to quarantine.

    Column selection and renaming are zero-copy Arrow operations; DuckDB only builds the
    extra_fields JSON, from the unmapped columns.
    """
    table = parsed.table
    n = table.num_rows
    mapping, extras = aliases.map_headers(parsed.headers)
    columns: dict[str, pa.ChunkedArray | pa.Array] = {}
    for f in CANONICAL_FIELDS:
        if f == "source_system":
            given = _blank_to_null(table.column(mapping[f])) if f in mapping else pa.nulls(n, pa.string())
            columns[f] = pc.fill_null(given, file_source or "unknown")
        elif f in mapping:
            columns[f] = table.column(mapping[f])
        else:
            columns[f] = pa.nulls(n, pa.string())
    columns["extra_fields"] = _extra_fields_json(table, extras) if extras else pa.nulls(n, pa.string())
    columns[ROW_NUMBER] = table.column(ROW_NUMBER)
    columns[LINE_NUMBER] = table.column(LINE_NUMBER)
    mapped = pa.table(columns)

    has_identity = pa.array(np.zeros(n, dtype=bool))
    for f in IDENTITY_FIELDS:
        if f in mapping:
            present = pc.fill_null(pc.is_valid(_blank_to_null(table.column(mapping[f]))), False)
            has_identity = pc.or_(has_identity, present)
    keep = mapped.filter(has_identity)

    quarantined = []
    for index in pc.indices_nonzero(pc.invert(has_identity)).to_pylist():
        values = {h: table.column(h)[index].as_py() for h in parsed.headers}
        quarantined.append((
            table.column(ROW_NUMBER)[index].as_py(),
            table.column(LINE_NUMBER)[index].as_py(),
            NO_IDENTITY,
            "no identity: the row has no email, phone or name",
            parsed.raw_text(index, values),
        ))
    return MappedFile(keep, quarantined, mapping, extras)


def _extra_fields_json(table: pa.Table, extras: list[str]) -> pa.ChunkedArray:
    """One JSON object per row: unmapped header -> value as exported."""
    pairs = ", ".join(f"{_lit(h)}, {_ident(h)}" for h in extras)
    con = duckdb.connect()
    try:
        con.register("extras", table.select(extras))
        result = con.sql(f"select cast(json_object({pairs}) as varchar) as extra_fields from extras").to_arrow_table()
    finally:
        con.close()
    return result.column("extra_fields")
